//! The external DHCP clients of the original (udhcpc, dhclient, dhcpcd), run inside the guest.
//!
//! Each runs as a child that entered the guest's network namespace (no `ip netns exec`),
//! with a private mount and UTS namespace: the host's `/etc/resolv.conf` is covered by a
//! file under /run/pipework, so the client's hook script writes the guest's DNS servers
//! there (never into the host's file), and the host name it sees and sends is the
//! guest's. Its pid, lease and log files live in `/run/pipework/dhcp/<netns>-<ifname>`.
//! The user's options are passed as given, after pipework's own (so they win).

use std::{
    fs::{self, File},
    net::Ipv4Addr,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use ipnet::IpNet;
use nix::sys::signal::Signal;

use super::{
    lease::{Applied, LeaseRecord, unix_now},
    process::{ClientProcess, run_dir},
    resolv,
    spec::{DhcpClient, DhcpKeep, DhcpSpec},
};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    link::{Link, validate_ifname},
    netns::{ChildIsolation, Namespace},
    resolve::Guest,
    route::Route,
};

/// Where programs are looked for besides `$PATH` (root's usual sbin directories).
const SBIN_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// How long a client that forks to the background gets to write its pidfile.
const DAEMON_WAIT: Duration = Duration::from_secs(3);

/// How long a client gets to release its lease and exit when stopped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A lease obtained by an external client, and the client process that keeps it (if kept).
#[derive(Debug)]
pub(crate) struct ExternalLease {
    pub(crate) record: LeaseRecord,
    pub(crate) process: Option<ClientProcess>,
}

/// Runs the client of `spec` for `ifname` of `guest` until it has a lease.
///
/// With [`DhcpKeep::Once`] the client is gone when this returns (the address stays);
/// with [`DhcpKeep::Daemon`] it keeps running, detached, and its process is returned.
/// On failure the client is stopped, its files removed, and the interface left as it was.
pub(crate) fn start(guest: &Guest, ifname: &str, spec: &DhcpSpec) -> Result<ExternalLease> {
    spec.validate()?;
    validate_ifname("guest ifname", ifname)?;
    let client = spec.client;
    let name = client.program().expect("an external client has a program");
    let program = find_program(name)?;
    let handle = Handle::new(&guest.namespace)?;
    let link = handle.link_get(ifname)?.ok_or_else(|| Error::NotFound {
        op: Op::DhcpAcquire,
        object: format!("interface {ifname} in {guest}"),
    })?;
    let dir = run_dir(guest.namespace.id(), ifname);
    if let Some(running) = running_client(client, &dir, ifname) {
        return Err(Error::AlreadyExists {
            op: Op::DhcpAcquire,
            object: format!("{} (pid {}) for {ifname} in {guest}", running.program, running.pid),
            hint: "detach first, or stop it".into(),
        });
    }
    let files = Files::create(&dir, client)?;
    let mut run =
        Run { guest, handle: &handle, link: &link, spec, files: &files, replaced: Vec::new() };
    run.until_leased(&program).map_err(|err| {
        let mut undo = Failures::new(Op::DhcpAcquire, format!("{ifname} in {guest}"));
        if let Some(process) = running_client(client, &dir, ifname) {
            undo.run(process.stop(Signal::SIGKILL, Duration::ZERO));
        }
        for route in &run.replaced {
            undo.run(handle.route_add(route));
        }
        if !link.is_up() {
            undo.run(handle.link_set_down(link.index));
        }
        let removed = fs::remove_dir_all(&dir);
        undo.run(removed.map_err(|e| Error::io(Op::WriteFile, dir.display().to_string(), &e)));
        err.rolled_back(undo.finish())
    })
}

/// Stops a kept client: it releases its lease and deconfigures the interface, then exits.
///
/// Equivalent to: `kill -TERM` (udhcpc started with `-R`), `dhclient -r`, `kill -ALRM`
/// (dhcpcd's release). A client already gone only has its files removed.
pub(crate) fn stop(
    guest: Option<&Namespace>,
    client: DhcpClient,
    process: &ClientProcess,
    ifname: &str,
) -> Result<()> {
    if !process.is_running() {
        process.remove_files();
        return Ok(());
    }
    match (client, guest) {
        (DhcpClient::Dhclient, Some(namespace)) => {
            // dhclient releases from a second process that reads the first one's pidfile.
            let files = Files::at(&process.dir, client);
            let mut command = Command::new(find_program("dhclient")?);
            command
                .args(["-4", "-r", "-pf"])
                .arg(&process.pidfile)
                .arg("-lf")
                .arg(&files.leases)
                .arg(ifname)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            namespace.enter_in_child(&mut command, Some(&files.isolation(None)))?;
            let released =
                command.status().map_err(|e| Error::io(Op::DhcpRelease, "dhclient -r", &e))?;
            process.wait_gone(STOP_GRACE);
            let stopped = process.stop(Signal::SIGTERM, STOP_GRACE);
            if !released.success() {
                return Err(Error::Failed {
                    op: Op::DhcpRelease,
                    object: format!("dhclient -r {ifname}"),
                    detail: format!("it ended with {released}"),
                });
            }
            stopped
        }
        (DhcpClient::Dhcpcd, _) => process.stop(Signal::SIGALRM, STOP_GRACE),
        _ => process.stop(Signal::SIGTERM, STOP_GRACE),
    }
}

/// The files of one client run, under /run/pipework.
struct Files {
    dir: PathBuf,
    pidfile: PathBuf,
    leases: PathBuf,
    log: PathBuf,
    /// The file bind-mounted over the host's /etc/resolv.conf for the client.
    resolv_conf: PathBuf,
    /// dhcpcd's run and database directories, private to this run.
    dhcpcd_dirs: Vec<(PathBuf, PathBuf)>,
}

impl Files {
    fn at(dir: &Path, client: DhcpClient) -> Self {
        let name = client.program().unwrap_or("client");
        let dhcpcd_dirs = if client == DhcpClient::Dhcpcd {
            vec![
                (dir.join("run"), "/run/dhcpcd".into()),
                (dir.join("db"), "/var/lib/dhcpcd".into()),
            ]
        } else {
            Vec::new()
        };
        Files {
            dir: dir.to_path_buf(),
            pidfile: match client {
                // dhcpcd names its own pidfile, in its (private) run directory.
                DhcpClient::Dhcpcd => dir.join("run").join("pid"),
                _ => dir.join(format!("{name}.pid")),
            },
            leases: dir.join(format!("{name}.leases")),
            log: dir.join(format!("{name}.log")),
            resolv_conf: dir.join("resolv.conf"),
            dhcpcd_dirs,
        }
    }

    fn create(dir: &Path, client: DhcpClient) -> Result<Self> {
        let files = Self::at(dir, client);
        let fail = |path: &Path, err: std::io::Error| {
            Error::io(Op::WriteFile, path.display().to_string(), &err)
        };
        fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        File::create(&files.resolv_conf).map_err(|e| fail(&files.resolv_conf, e))?;
        for (private, over) in &files.dhcpcd_dirs {
            fs::create_dir_all(private).map_err(|e| fail(private, e))?;
            // The mount point must exist; it is dhcpcd's own directory.
            fs::create_dir_all(over).map_err(|e| fail(over, e))?;
        }
        Ok(files)
    }

    fn isolation(&self, hostname: Option<String>) -> ChildIsolation {
        let mut binds = self.dhcpcd_dirs.clone();
        if Path::new("/etc/resolv.conf").exists() {
            binds.push((self.resolv_conf.clone(), "/etc/resolv.conf".into()));
        }
        ChildIsolation { binds, hostname }
    }
}

/// One client run and what it changed, so a failure can be undone.
struct Run<'a> {
    guest: &'a Guest,
    handle: &'a Handle,
    link: &'a Link,
    spec: &'a DhcpSpec,
    files: &'a Files,
    /// Default routes removed so that the client's own takes their place (when asked).
    replaced: Vec<Route>,
}

impl Run<'_> {
    fn until_leased(&mut self, program: &Path) -> Result<ExternalLease> {
        let config = &self.spec.config;
        let hostname = config.hostname_for(self.guest);
        if !self.link.is_up() {
            self.handle.link_set_up(self.link.index)?;
        }
        if config.replace_default_route {
            // The client's script adds its router only when no default route is in the way.
            for route in self.handle.routes(false)?.into_iter().filter(Route::is_default) {
                self.handle.route_del(&route)?;
                self.replaced.push(route);
            }
        }
        let mut command = Command::new(program);
        command.args(self.arguments(hostname.as_deref())).args(&self.spec.options);
        if self.spec.client != DhcpClient::Udhcpc {
            command.arg(&self.link.name);
        }
        let log = File::create(&self.files.log)
            .map_err(|e| Error::io(Op::WriteFile, self.files.log.display().to_string(), &e))?;
        let log_err = log.try_clone().map_err(|e| Error::io(Op::RunProgram, "log", &e))?;
        command.stdin(Stdio::null()).stdout(log).stderr(log_err).process_group(0);
        self.guest
            .namespace
            .enter_in_child(&mut command, Some(&self.files.isolation(hostname.clone())))?;
        let shown = format!("{} {}", program.display(), self.spec.options.join(" "));
        let mut child = command.spawn().map_err(|e| Error::io(Op::RunProgram, &shown, &e))?;
        let deadline = Instant::now() + config.timeout;
        let status = loop {
            if let Some(status) =
                child.try_wait().map_err(|e| Error::io(Op::RunProgram, &shown, &e))?
            {
                break status;
            }
            if Instant::now() >= deadline {
                // The whole process group: the client and anything it forked.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    Signal::SIGKILL,
                );
                let _ = child.wait();
                return Err(Error::Timeout {
                    op: Op::DhcpAcquire,
                    object: format!("{} in {} with {shown}", self.link.name, self.guest),
                    waited: config.timeout,
                    detail: format!("no lease; the client said: {}", self.last_words()),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !status.success() {
            return Err(Error::Failed {
                op: Op::DhcpAcquire,
                object: format!("{} in {} with {shown}", self.link.name, self.guest),
                detail: format!(
                    "{} ended with {status}: {}",
                    self.spec.client.program().unwrap_or(""),
                    self.last_words()
                ),
            });
        }
        // A client that forks to the background writes its pidfile from the new process,
        // maybe after the first one has exited: wait for it to name a running process.
        let keep = matches!(self.spec.keep, DhcpKeep::Daemon { .. });
        let forks = keep || self.spec.client == DhcpClient::Dhclient;
        let started = Instant::now();
        let process = loop {
            let found = running_client(self.spec.client, &self.files.dir, &self.link.name);
            if found.is_some() || !forks || started.elapsed() >= DAEMON_WAIT {
                break found;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut record = self.record(hostname)?;
        if config.write_resolv_conf {
            let written = resolv::write(&self.guest.record(), &resolv::render(&record))?;
            record.applied.resolv_conf = Some(written);
        }
        let process = match (&self.spec.keep, process) {
            (DhcpKeep::Daemon { .. }, Some(process)) => Some(process),
            (DhcpKeep::Daemon { .. }, None) => {
                return Err(Error::Failed {
                    op: Op::DhcpAcquire,
                    object: shown,
                    detail: format!("the client did not stay running: {}", self.last_words()),
                });
            }
            (_, Some(daemon)) => {
                // Once: stop the client that daemonised (dhclient), leaving its lease in place.
                daemon.stop(Signal::SIGTERM, STOP_GRACE)?;
                None
            }
            (_, None) => None,
        };
        if process.is_none() {
            let _ = fs::remove_dir_all(&self.files.dir);
        }
        Ok(ExternalLease { record, process })
    }

    /// pipework's own arguments for the client, before the user's.
    fn arguments(&self, hostname: Option<&str>) -> Vec<String> {
        let keep = matches!(self.spec.keep, DhcpKeep::Daemon { .. });
        let seconds = self.spec.config.timeout.as_secs().max(1).to_string();
        let path = |p: &Path| p.display().to_string();
        let mut args: Vec<String> = Vec::new();
        match self.spec.client {
            DhcpClient::Udhcpc => {
                // One discover a second for the whole timeout; -n: exit when it runs out.
                args.extend([
                    "-i".into(),
                    self.link.name.clone(),
                    "-n".into(),
                    "-T".into(),
                    "1".into(),
                ]);
                args.extend(["-t".into(), seconds, "-p".into(), path(&self.files.pidfile)]);
                if let Some(name) = hostname {
                    args.extend(["-x".into(), format!("hostname:{name}")]);
                }
                // Without -q it forks to the background once bound; -R releases on SIGTERM.
                args.push(if keep { "-R" } else { "-q" }.into());
            }
            DhcpClient::Dhclient => {
                // -1: one attempt, exit 2 without a lease; it forks to the background once bound.
                args.extend(["-4", "-1", "-v"].map(String::from));
                args.extend([
                    "-pf".into(),
                    path(&self.files.pidfile),
                    "-lf".into(),
                    path(&self.files.leases),
                ]);
            }
            DhcpClient::Dhcpcd => {
                // -w: fork to the background only once an address is bound. -I "": the MAC
                // as client identifier (not a DUID kept in a file), so a stable MAC keeps
                // its lease, as with the other clients.
                args.extend([
                    "-4".into(),
                    "-w".into(),
                    "-t".into(),
                    seconds,
                    "-I".into(),
                    String::new(),
                ]);
                if let Some(name) = hostname {
                    args.extend(["-h".into(), name.into()]);
                }
                if !keep {
                    // -1: exit once configured; -p: leave the configuration in place.
                    args.extend(["-1", "-p"].map(String::from));
                }
            }
            DhcpClient::Native => {}
        }
        args
    }

    /// The lease as the interface, its routes and the captured resolv.conf show it.
    fn record(&self, hostname: Option<String>) -> Result<LeaseRecord> {
        let address = self
            .handle
            .addresses(Some(self.link.index))?
            .into_iter()
            .find_map(|a| match a.net {
                IpNet::V4(v4) if !v4.addr().is_link_local() => Some(v4),
                _ => None,
            })
            .ok_or_else(|| Error::Failed {
                op: Op::DhcpAcquire,
                object: format!("{} in {}", self.link.name, self.guest),
                detail: format!(
                    "the client reported success but the interface has no IPv4 address: {}",
                    self.last_words()
                ),
            })?;
        // The client's script installed the default route (when none was in the way).
        let default = self.handle.routes(false)?.into_iter().find(|route| {
            route.is_default() && route.oif == Some(self.link.index) && route.gateway.is_some()
        });
        let router = default.as_ref().and_then(|route| match route.gateway {
            Some(std::net::IpAddr::V4(gateway)) => Some(gateway),
            _ => None,
        });
        let resolv = fs::read_to_string(&self.files.resolv_conf).unwrap_or_default();
        let (dns_servers, domain, search) = parse_resolv_conf(&resolv);
        let (server, lease_secs) = if self.spec.client == DhcpClient::Dhclient {
            parse_dhclient_leases(&fs::read_to_string(&self.files.leases).unwrap_or_default())
        } else {
            (None, None)
        };
        let link = self.handle.link(self.link.index)?;
        Ok(LeaseRecord {
            ifname: self.link.name.clone(),
            ifindex: self.link.index,
            mac: self.link.mac,
            namespace: self.guest.namespace.id(),
            address,
            router,
            static_routes: Vec::new(),
            dns_servers,
            domain,
            search,
            mtu: (link.mtu != self.link.mtu).then_some(link.mtu as u16),
            hostname,
            server,
            lease_secs,
            renew_secs: None,
            rebind_secs: None,
            obtained_at: unix_now(),
            options: Default::default(),
            applied: Applied {
                brought_up: !self.link.is_up(),
                routes_added: default.into_iter().collect(),
                routes_replaced: self.replaced.clone(),
                ..Default::default()
            },
        })
    }

    /// The client's complaint for error messages: the first lines of its log (a usage
    /// error comes first) and the last (what it did before it stopped).
    fn last_words(&self) -> String {
        let log = fs::read_to_string(&self.files.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let shown = if lines.len() <= 4 {
            lines.join(" | ")
        } else {
            format!("{} | ... | {}", lines[0], lines[lines.len() - 2..].join(" | "))
        };
        if shown.is_empty() { "(nothing)".into() } else { shown }
    }
}

/// The running client of a previous start for this interface, if any.
fn running_client(client: DhcpClient, dir: &Path, ifname: &str) -> Option<ClientProcess> {
    let files = Files::at(dir, client);
    let pidfiles = match client {
        // dhcpcd 9 writes `pid` for a manager and `IFNAME-4.pid` for a single interface.
        DhcpClient::Dhcpcd => vec![dir.join("run").join(format!("{ifname}-4.pid")), files.pidfile],
        _ => vec![files.pidfile],
    };
    let name = client.program()?;
    pidfiles
        .iter()
        .find_map(|pidfile| ClientProcess::from_pidfile(name, pidfile, dir))
        .filter(ClientProcess::is_running)
}

/// Finds a program in `$PATH` and root's sbin directories.
pub(crate) fn find_program(name: &str) -> Result<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs: Vec<&str> =
        path.split(':').filter(|d| !d.is_empty()).chain(SBIN_DIRS.iter().copied()).collect();
    dirs.iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| Error::NotFound {
            op: Op::RunProgram,
            object: format!(
                "DHCP client program {name:?} (looked in {}; on Debian: apt-get install {})",
                dirs.join(":"),
                match name {
                    "dhclient" => "isc-dhcp-client",
                    "dhcpcd" => "dhcpcd-base",
                    other => other,
                }
            ),
        })
}

/// Name servers, domain and search list of a resolv.conf.
fn parse_resolv_conf(text: &str) -> (Vec<Ipv4Addr>, Option<String>, Vec<String>) {
    let (mut servers, mut domain, mut search) = (Vec::new(), None, Vec::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                servers.extend(words.next().and_then(|w| w.parse::<Ipv4Addr>().ok()))
            }
            Some("domain") => domain = words.next().map(str::to_string),
            Some("search") => search = words.map(str::to_string).collect(),
            _ => {}
        }
    }
    (servers, domain, search)
}

/// The server and lease time of the last lease in a dhclient lease file.
fn parse_dhclient_leases(text: &str) -> (Option<Ipv4Addr>, Option<u32>) {
    let last = text.rsplit("lease {").next().unwrap_or_default();
    let value = |option: &str| {
        last.lines()
            .find_map(|line| line.trim().strip_prefix(&format!("option {option} ")))
            .map(|v| v.trim_end_matches(';').trim().to_string())
    };
    (
        value("dhcp-server-identifier").and_then(|v| v.parse().ok()),
        value("dhcp-lease-time").and_then(|v| v.parse().ok()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_and_dhclient_leases_are_read() {
        let (servers, domain, search) = parse_resolv_conf(
            "# x\ndomain lan.test\nsearch a b\nnameserver 10.0.0.53\nnameserver fe80::1\n",
        );
        assert_eq!(servers, [Ipv4Addr::new(10, 0, 0, 53)]);
        assert_eq!(domain.as_deref(), Some("lan.test"));
        assert_eq!(search, ["a", "b"]);
        let leases = "lease {\n  option dhcp-lease-time 60;\n}\nlease {\n  interface \"eth1\";\n  \
                      option dhcp-server-identifier 10.77.0.1;\n  option dhcp-lease-time 120;\n}\n";
        assert_eq!(parse_dhclient_leases(leases), (Some(Ipv4Addr::new(10, 77, 0, 1)), Some(120)));
        assert_eq!(parse_dhclient_leases(""), (None, None));
    }

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let err = find_program("pipework-no-such-client").unwrap_err().to_string();
        assert!(
            err.starts_with("cannot run: DHCP client program \"pipework-no-such-client\""),
            "{err}"
        );
        assert!(err.contains("/usr/sbin") && err.ends_with("does not exist"), "{err}");
    }
}
