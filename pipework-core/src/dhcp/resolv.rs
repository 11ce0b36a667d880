//! The guest's own resolv.conf, written from a lease only when asked, never the host's.
//!
//! A guest with a process gets `/etc/resolv.conf` inside its root, opened through
//! `/proc/PID/root` with `openat2(RESOLVE_IN_ROOT)` so that no symbolic link can lead out
//! of the container; a named namespace gets `/etc/netns/NAME/resolv.conf`, the file
//! `ip netns exec` shows its processes. Either way the file is refused when it is the
//! host's own (a "guest" that shares the host's root).

use std::{
    fs::{self, File},
    io::{Read, Seek, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use nix::{
    fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2},
    sys::stat::Mode,
    unistd::{UnlinkatFlags, unlinkat},
};

use super::lease::{LeaseRecord, ResolvConfWrite};
use crate::{
    error::{Error, Op, Result},
    netns::NamespaceOrigin,
    resolve::GuestRecord,
};

/// The host's resolver configuration, which pipework never writes.
const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

/// The resolv.conf for a lease: its search domains and DNS servers.
pub(super) fn render(record: &LeaseRecord) -> String {
    let mut text = format!(
        "# written by pipework from the DHCP lease of {} ({})\n",
        record.ifname, record.address
    );
    let mut search = record.search.clone();
    if let Some(domain) = &record.domain
        && !search.contains(domain)
    {
        search.insert(0, domain.clone());
    }
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    for server in &record.dns_servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text
}

/// Writes `content` as the guest's resolv.conf and returns what it replaced.
pub(super) fn write(guest: &GuestRecord, content: &str) -> Result<ResolvConfWrite> {
    match target(guest)? {
        Target::Root { pid } => {
            let path = PathBuf::from(format!("/proc/{pid}/root/etc/resolv.conf"));
            let mut file = open_in_root(pid, &path, true)?;
            let fail =
                |err: std::io::Error| Error::io(Op::WriteFile, path.display().to_string(), &err);
            let mut previous = String::new();
            file.read_to_string(&mut previous).map_err(fail)?;
            replace_content(&mut file, content).map_err(fail)?;
            // A file that was just created is empty; an empty file has nothing to restore.
            let previous = (!previous.is_empty()).then_some(previous);
            Ok(ResolvConfWrite { path, previous, created_dir: false })
        }
        Target::Netns { dir } => {
            let path = dir.join("resolv.conf");
            let fail =
                |err: std::io::Error| Error::io(Op::WriteFile, path.display().to_string(), &err);
            let created_dir = !dir.exists();
            fs::create_dir_all(&dir).map_err(fail)?;
            let previous = match fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(err) => return Err(fail(err)),
            };
            fs::write(&path, content).map_err(fail)?;
            Ok(ResolvConfWrite { path, previous, created_dir })
        }
    }
}

/// Puts back what [`write`] replaced: the old content, or no file (and no directory) at all.
pub(super) fn restore(guest: &GuestRecord, written: &ResolvConfWrite) -> Result<()> {
    let path = &written.path;
    let fail = |err: std::io::Error| Error::io(Op::WriteFile, path.display().to_string(), &err);
    match (target(guest)?, &written.previous) {
        (Target::Root { pid }, Some(previous)) => {
            let mut file = open_in_root(pid, path, false)?;
            replace_content(&mut file, previous).map_err(fail)
        }
        (Target::Root { pid }, None) => {
            let etc = open_in_root_how(pid, Path::new("etc"), OFlag::O_DIRECTORY | OFlag::O_PATH)?;
            match unlinkat(&etc, "resolv.conf", UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
                Err(errno) => Err(Error::kernel(Op::WriteFile, path.display().to_string(), errno)),
            }
        }
        (Target::Netns { dir }, previous) => {
            match previous {
                Some(previous) => fs::write(path, previous).map_err(fail)?,
                None => match fs::remove_file(path) {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                        return Err(fail(err));
                    }
                    _ => {}
                },
            }
            if written.created_dir {
                // Only if empty: something else may have been put there since.
                let _ = fs::remove_dir(dir);
            }
            Ok(())
        }
    }
}

enum Target {
    /// Inside the root of process `pid`.
    Root { pid: u32 },
    /// `/etc/netns/NAME`, for a namespace named in /run/netns.
    Netns { dir: PathBuf },
}

fn target(guest: &GuestRecord) -> Result<Target> {
    if let Some(pid) = guest.pid {
        return Ok(Target::Root { pid });
    }
    match &guest.origin {
        NamespaceOrigin::Named(name) => {
            Ok(Target::Netns { dir: Path::new("/etc/netns").join(name) })
        }
        _ => Err(Error::Unsupported {
            op: Op::WriteFile,
            object: "the guest's resolv.conf".into(),
            reason: "the guest has neither a process nor a /run/netns name, so it has no \
                     resolv.conf of its own; the DNS servers are in the lease record"
                .into(),
        }),
    }
}

/// Opens `etc/resolv.conf` inside the root of `pid` for reading and writing, refusing
/// the host's own file (a guest that shares the host's root, or bind-mounts its file).
fn open_in_root(pid: u32, shown_as: &Path, create: bool) -> Result<File> {
    let refuse = |what: &str| Error::Conflict {
        op: Op::WriteFile,
        object: shown_as.display().to_string(),
        reason: format!("{what}, and pipework never writes the host's {HOST_RESOLV_CONF}"),
    };
    let shown = shown_as.display().to_string();
    let stat =
        |file: &File| file.metadata().map_err(|e| Error::io(Op::WriteFile, shown.clone(), &e));
    let root =
        File::from(open_in_root_how(pid, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)?);
    let host_root = fs::metadata("/").map_err(|e| Error::io(Op::WriteFile, "/", &e))?;
    if same_file(&stat(&root)?, &host_root) {
        return Err(refuse("the guest shares the host's root directory"));
    }
    match open_in_root_how(pid, Path::new("etc/resolv.conf"), OFlag::O_RDONLY) {
        Ok(existing) => {
            let existing = stat(&File::from(existing))?;
            if fs::metadata(HOST_RESOLV_CONF).is_ok_and(|host| same_file(&existing, &host)) {
                return Err(refuse("it is the host's own file, bind-mounted into the guest"));
            }
        }
        Err(Error::Kernel { errno: nix::errno::Errno::ENOENT, .. }) => {}
        Err(err) => return Err(err),
    }
    let mut flags = OFlag::O_RDWR;
    if create {
        flags |= OFlag::O_CREAT;
    }
    Ok(File::from(open_in_root_how(pid, Path::new("etc/resolv.conf"), flags)?))
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

fn open_in_root_how(pid: u32, inside: &Path, flags: OFlag) -> Result<std::os::fd::OwnedFd> {
    let root_path = format!("/proc/{pid}/root");
    let root = open(
        root_path.as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| Error::kernel(Op::WriteFile, root_path.clone(), errno))?;
    let mut how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    if flags.contains(OFlag::O_CREAT) {
        // The kernel refuses a mode without O_CREAT.
        how = how.mode(Mode::from_bits_truncate(0o644));
    }
    openat2(&root, inside, how).map_err(|errno| {
        Error::kernel(Op::WriteFile, format!("{root_path}/{}", inside.display()), errno)
    })
}

/// Rewrites a file in place (a container's resolv.conf is often a bind mount: no rename).
fn replace_content(file: &mut File, content: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_lists_search_domains_then_servers() {
        let record: LeaseRecord = serde_json::from_value(serde_json::json!({
            "ifname": "eth1", "ifindex": 2, "mac": "02:00:00:00:00:01",
            "namespace": {"dev": 4, "ino": 4026532000u64},
            "address": "10.9.0.50/24", "router": "10.9.0.1", "static_routes": [],
            "dns_servers": ["10.9.0.53", "10.9.0.54"], "domain": "lan",
            "search": ["example.org"], "mtu": null, "hostname": null, "server": null,
            "lease_secs": null, "renew_secs": null, "rebind_secs": null, "obtained_at": 0,
            "options": {}, "applied": {"brought_up": false, "routes_added": [],
            "routes_replaced": [], "default_route_kept": null, "previous_mtu": null,
            "resolv_conf": null}
        }))
        .unwrap();
        assert_eq!(
            render(&record),
            "# written by pipework from the DHCP lease of eth1 (10.9.0.50/24)\n\
             search lan example.org\nnameserver 10.9.0.53\nnameserver 10.9.0.54\n"
        );
    }

    #[test]
    fn a_guest_without_pid_or_name_has_no_resolv_conf() {
        let guest = GuestRecord {
            namespace: crate::netns::NamespaceId { dev: 4, ino: 1 },
            origin: NamespaceOrigin::Anonymous,
            pid: None,
            process_start: None,
            name: None,
            id: None,
            engine: crate::resolve::Engine::Netns,
        };
        let err = write(&guest, "nameserver 10.0.0.1\n").unwrap_err().to_string();
        assert!(err.contains("neither a process nor a /run/netns name"), "{err}");
    }

    #[test]
    fn the_hosts_own_resolv_conf_is_refused() {
        // This test process shares the host's root: its "guest" resolv.conf is the host's.
        let me = std::process::id();
        let guest = GuestRecord {
            namespace: crate::netns::NamespaceId { dev: 4, ino: 1 },
            origin: NamespaceOrigin::Pid(me),
            pid: Some(me),
            process_start: None,
            name: None,
            id: None,
            engine: crate::resolve::Engine::Pid,
        };
        let before = fs::read(HOST_RESOLV_CONF).ok();
        let err = write(&guest, "nameserver 192.0.2.1\n").unwrap_err().to_string();
        assert!(err.contains("shares the host's root directory"), "{err}");
        assert!(err.contains("never writes the host's /etc/resolv.conf"), "{err}");
        assert_eq!(fs::read(HOST_RESOLV_CONF).ok(), before, "the host's file is untouched");
    }
}
