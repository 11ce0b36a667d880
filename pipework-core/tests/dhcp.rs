//! DHCP against a real server: dnsmasq in its own "LAN" namespace on a bridge inside each
//! test's private host namespace. Run by scripts/tier-dhcp.sh, which installs dnsmasq,
//! udhcpc and isc-dhcp-client.

mod common;

mod tier_dhcp {
    use std::{
        fs,
        path::{Path, PathBuf},
        process::{Child, Command, Stdio},
        time::{Duration, Instant},
    };

    use pipework_core::{
        AttachPlan, Bridge, DhcpConfig, DhcpLease, Guest, Handle, LeaseEvent, MacAddr, Veth,
        attach,
        dhcp::{DhcpKeep, DhcpRecord, DhcpSpec, KeeperCommand, obtain},
    };
    use serde_json::Value;

    use super::common::Sandbox;

    /// The LAN's router and DHCP server address.
    const SERVER: &str = "10.77.0.1";

    /// A bridge in the sandbox's host namespace with a DHCP server on it, in its own namespace.
    struct Lan {
        sandbox: Sandbox,
        server_ns: String,
        dir: PathBuf,
        dnsmasq: Option<Child>,
        bridge: u32,
    }

    impl Lan {
        /// A LAN with dnsmasq serving 10.77.0.10-99 (2-minute leases) plus `extra` options.
        fn with_server(extra: &[&str]) -> Self {
            let mut lan = Self::without_server();
            lan.start_dnsmasq(extra);
            lan
        }

        /// A LAN with nothing answering DHCP.
        fn without_server() -> Self {
            let mut sandbox = Sandbox::new();
            let server_ns = sandbox.add_guest("lan");
            let host = sandbox.host_handle();
            let bridge = Bridge::new("br-lan").unwrap().ensure(&host).unwrap().link.index;
            let server = pipework_core::Namespace::from_name(&server_ns).unwrap();
            Veth::new("lanh", "lan0")
                .unwrap()
                .peer_namespace(&server)
                .master(bridge)
                .up()
                .add(&host)
                .unwrap();
            let handle = Handle::new(&server).unwrap();
            let lan0 = handle.link("lan0").unwrap().index;
            handle.addr_add(lan0, format!("{SERVER}/24").parse().unwrap()).unwrap();
            handle.link_set_up(lan0).unwrap();
            handle.link_set_up("lo").unwrap();
            let dir = std::env::temp_dir().join(format!("pipework-{}", sandbox.prefix));
            fs::create_dir_all(&dir).unwrap();
            Lan { sandbox, server_ns, dir, dnsmasq: None, bridge }
        }

        fn start_dnsmasq(&mut self, extra: &[&str]) {
            let dir = self.dir.display();
            let child = Command::new("ip")
                .args(["netns", "exec", &self.server_ns, "dnsmasq", "--keep-in-foreground"])
                .args([
                    "--conf-file=/dev/null",
                    "--port=0",
                    "--interface=lan0",
                    "--bind-interfaces",
                ])
                .args(["--dhcp-authoritative", "--no-ping", "--user=root", "--log-dhcp"])
                .arg(format!("--dhcp-leasefile={dir}/leases"))
                .arg(format!("--pid-file={dir}/dnsmasq.pid"))
                .arg(format!("--log-facility={dir}/dnsmasq.log"))
                .arg("--dhcp-option=option:dns-server,10.77.0.53")
                .arg("--dhcp-option=option:domain-name,lan.test")
                .args(extra)
                .arg("--dhcp-range=10.77.0.10,10.77.0.99,2m")
                .stdout(Stdio::null())
                .spawn()
                .expect("start dnsmasq (scripts/tier-dhcp.sh installs it)");
            self.dnsmasq = Some(child);
            let ready = wait_until(Duration::from_secs(5), || {
                fs::read_to_string(self.dir.join("dnsmasq.log"))
                    .is_ok_and(|log| log.contains("sockets bound exclusively"))
            });
            assert!(ready, "dnsmasq did not start: {}", self.log());
        }

        /// A guest namespace with a veth `ifname` on the LAN's bridge (down, like a new one).
        fn add_guest(
            &mut self,
            label: &str,
            ifname: &str,
            mac: Option<MacAddr>,
        ) -> (String, Guest) {
            let name = self.sandbox.add_guest(label);
            let guest = self.sandbox.guest(&name);
            let host = self.sandbox.host_handle();
            let mut veth = Veth::new(&format!("h{label}"), ifname)
                .unwrap()
                .peer_namespace(&guest.namespace)
                .master(self.bridge)
                .up();
            if let Some(mac) = mac {
                veth = veth.peer_mac(mac);
            }
            veth.add(&host).unwrap();
            (name, guest)
        }

        /// The server's lease file: (MAC, address, host name) of each lease.
        fn leases(&self) -> Vec<(String, String, String)> {
            fs::read_to_string(self.dir.join("leases"))
                .unwrap_or_default()
                .lines()
                .map(|line| {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    (f[1].to_string(), f[2].to_string(), f[3].to_string())
                })
                .collect()
        }

        /// The expiry time dnsmasq recorded for `mac`'s lease.
        fn lease_expiry(&self, mac: &str) -> Option<u64> {
            fs::read_to_string(self.dir.join("leases"))
                .unwrap_or_default()
                .lines()
                .find(|line| line.split_whitespace().nth(1) == Some(mac))
                .and_then(|line| line.split_whitespace().next()?.parse().ok())
        }

        fn log(&self) -> String {
            fs::read_to_string(self.dir.join("dnsmasq.log")).unwrap_or_default()
        }
    }

    impl Drop for Lan {
        fn drop(&mut self) {
            if let Some(mut child) = self.dnsmasq.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done()
    }

    /// The global IPv4 addresses of `ifname` with their valid lifetime, from `ip -j addr`.
    fn ipv4_of(sandbox: &Sandbox, ns: &str, ifname: &str) -> Vec<(String, u64)> {
        sandbox
            .ip_json(ns, &["-4", "addr", "show", "dev", ifname])
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
            .map(|a| {
                let life = a["valid_life_time"].as_u64().unwrap_or(u64::MAX);
                (format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]), life)
            })
            .collect()
    }

    fn default_routes(sandbox: &Sandbox, ns: &str) -> Vec<Value> {
        sandbox
            .ip_json(ns, &["-4", "route", "show", "default"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn config() -> DhcpConfig {
        DhcpConfig::default().timeout(Duration::from_secs(15))
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_lease_is_applied_with_route_mtu_and_dns_and_released_back_to_the_server() {
        let mut lan = Lan::with_server(&["--dhcp-option=option:mtu,1400"]);
        let (g, guest) = lan.add_guest("web", "eth1", None);
        let lease = DhcpLease::acquire(&guest, "eth1", &config()).expect("lease");
        let record = lease.record();
        // The address, with the lease's lifetime, seen by iproute2.
        let addresses = ipv4_of(&lan.sandbox, &g, "eth1");
        assert_eq!(addresses.len(), 1, "{addresses:?}");
        assert_eq!(addresses[0].0, record.address.to_string());
        assert!(record.address.to_string().starts_with("10.77.0."), "{record:?}");
        assert!((100..=120).contains(&addresses[0].1), "valid_lft {}", addresses[0].1);
        let defaults = default_routes(&lan.sandbox, &g);
        assert_eq!(defaults.len(), 1, "{defaults:?}");
        assert_eq!(
            (defaults[0]["gateway"].as_str(), defaults[0]["dev"].as_str()),
            (Some(SERVER), Some("eth1"))
        );
        assert_eq!(lan.sandbox.ip_json(&g, &["link", "show", "eth1"])[0]["mtu"], 1400);
        assert_eq!(record.dns_servers, ["10.77.0.53".parse::<std::net::Ipv4Addr>().unwrap()]);
        assert_eq!(record.domain.as_deref(), Some("lan.test"));
        assert_eq!((record.lease_secs, record.server), (Some(120), Some(SERVER.parse().unwrap())));
        // The server knows the lease by MAC, with the guest's name as host name.
        let mac = record.mac.unwrap().to_string();
        let hostname = g.clone();
        assert!(
            lan.leases().contains(&(mac.clone(), record.address.addr().to_string(), hostname)),
            "{:?}",
            lan.leases()
        );
        assert!(lan.log().contains("client provides name"), "{}", lan.log());
        // Real traffic to the router.
        assert!(lan.sandbox.ping(&g, SERVER));

        lease.release().expect("release");
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());
        assert!(default_routes(&lan.sandbox, &g).is_empty());
        assert_eq!(lan.sandbox.ip_json(&g, &["link", "show", "eth1"])[0]["mtu"], 1500);
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
            "the server still holds the lease: {:?}",
            lan.leases()
        );
        assert!(lan.log().contains("DHCPRELEASE"), "{}", lan.log());
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_keeper_renews_at_t1_and_the_address_lifetime_is_refreshed() {
        // The one slow test: dnsmasq's shortest lease is 2 minutes, so T1 comes after 60s.
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("renew", "eth1", None);
        let lease = DhcpLease::acquire(&guest, "eth1", &config()).expect("lease");
        let first = lease.record();
        let mac = first.mac.unwrap().to_string();
        let expiry_before = lan.lease_expiry(&mac).expect("the server holds the lease");
        assert_eq!(first.renew_secs.map(|t| (55..=65).contains(&t)), Some(true), "{first:?}");
        let start = Instant::now();
        let renewing = lease.next_event(Duration::from_secs(75));
        assert_eq!(renewing, Some(LeaseEvent::Renewing), "after {:?}", start.elapsed());
        let renewed = lease.next_event(Duration::from_secs(10));
        let Some(LeaseEvent::Renewed { lease: renewed }) = renewed else {
            panic!("expected Renewed, got {renewed:?}; server log:\n{}", lan.log())
        };
        assert_eq!(renewed.address, first.address, "same address after renewal");
        assert!(renewed.obtained_at > first.obtained_at);
        // The kernel's lifetime is back near the full lease time, and the server moved its expiry.
        let (_, life) = ipv4_of(&lan.sandbox, &g, "eth1")[0].clone();
        assert!(life > 100, "valid_lft after renewal: {life}");
        let expiry_after = lan.lease_expiry(&mac).unwrap();
        assert!(expiry_after >= expiry_before + 50, "{expiry_before} -> {expiry_after}");
        assert!(lan.log().contains(&format!("DHCPACK(lan0) {} {mac}", first.address.addr())));
        lease.release().expect("release");
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());
    }

    /// The names of this process's threads: a DHCP client left behind would show up here.
    fn dhcp_threads(ifname: &str) -> usize {
        fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim() == format!("pw-dhcp-{ifname}"))
            .count()
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn without_a_server_the_timeout_expires_with_a_clear_error_and_nothing_left() {
        let mut lan = Lan::without_server();
        let (g, guest) = lan.add_guest("lonely", "nosrv0", None);
        let before = lan.sandbox.state(&g);
        let start = Instant::now();
        let err = DhcpLease::acquire(&guest, "nosrv0", &config().timeout(Duration::from_secs(2)))
            .expect_err("no server");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(4), "{waited:?}");
        let text = err.to_string();
        assert!(text.contains("cannot acquire a DHCP lease on nosrv0 in"), "{text}");
        assert!(text.contains("no answer within 2s: no DHCP server answered"), "{text}");
        assert_eq!(err.errno(), nix::errno::Errno::ETIMEDOUT);
        assert_eq!(lan.sandbox.state(&g), before, "the interface is down again, without address");
        assert_eq!(dhcp_threads("nosrv0"), 0, "no client thread is left");
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn an_interrupted_acquire_gives_up_at_once_with_eintr_and_leaves_nothing() {
        let mut lan = Lan::without_server();
        let (g, guest) = lan.add_guest("intr", "intr0", None);
        let before = lan.sandbox.state(&g);
        let start = Instant::now();
        let asked = std::cell::Cell::new(0);
        let interrupted = || {
            asked.set(asked.get() + 1);
            start.elapsed() > Duration::from_millis(300)
        };
        let err = DhcpLease::acquire_interruptible(&guest, "intr0", &config(), &interrupted)
            .expect_err("interrupted");
        let waited = start.elapsed();
        assert!(waited < Duration::from_secs(2), "{waited:?} for a 15 s timeout");
        assert!(asked.get() >= 3, "asked {} times", asked.get());
        assert_eq!(err.errno(), nix::errno::Errno::EINTR, "{err}");
        assert!(err.to_string().contains("cannot acquire a DHCP lease on intr0 in"), "{err}");
        assert_eq!(lan.sandbox.state(&g), before, "the interface is down again, without address");
        assert_eq!(dhcp_threads("intr0"), 0, "no client thread is left");
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_server_that_naks_is_a_refusal_at_once_not_a_timeout() {
        // The range is closed to requests that name a server: every DHCPREQUEST gets a NAK.
        let mut lan = Lan::with_server(&[
            "--dhcp-match=set:selecting,option:server-identifier",
            "--dhcp-range=tag:!selecting,10.77.0.100,10.77.0.120,2m",
        ]);
        let (g, guest) = lan.add_guest("naked", "nak0", None);
        let before = lan.sandbox.state(&g);
        let start = Instant::now();
        let err = DhcpLease::acquire(&guest, "nak0", &config()).expect_err("refused");
        assert!(start.elapsed() < Duration::from_secs(10), "did not wait for the timeout");
        let text = err.to_string();
        assert!(text.contains(&format!("DHCP server {SERVER} refused: DHCPNAK")), "{text}");
        assert_eq!(err.errno(), nix::errno::Errno::ECONNREFUSED);
        assert!(lan.log().contains("DHCPNAK"), "{}", lan.log());
        assert_eq!(lan.sandbox.state(&g), before);
        assert_eq!(dhcp_threads("nak0"), 0);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn bad_input_is_refused_before_anything_changes() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("bad", "eth1", None);
        let before = lan.sandbox.state(&g);
        let err = DhcpLease::acquire(&guest, "eth9", &config()).unwrap_err().to_string();
        assert!(err.contains("cannot acquire a DHCP lease on: interface eth9 in"), "{err}");
        assert!(err.contains("does not exist"), "{err}");
        let err =
            DhcpLease::acquire(&guest, "eth1", &config().timeout(Duration::ZERO)).unwrap_err();
        assert!(err.to_string().contains("invalid dhcp timeout \"0s\""), "{err}");
        let err = DhcpLease::acquire(&guest, "eth1", &config().hostname("not_a host")).unwrap_err();
        assert!(err.to_string().contains("invalid hostname"), "{err}");
        let err = DhcpLease::acquire(&guest, "eth1", &config().request_option(255)).unwrap_err();
        assert!(err.to_string().contains("end option"), "{err}");
        let err = DhcpLease::acquire(&guest, "lo", &config()).unwrap_err().to_string();
        assert!(err.contains("not Ethernet"), "{err}");
        assert_eq!(lan.sandbox.state(&g), before);
        assert!(lan.leases().is_empty(), "the server was never asked: {:?}", lan.leases());
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn an_existing_default_route_is_kept_unless_replacing_is_asked() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("routed", "eth1", None);
        // Like Docker's eth0: another interface with the default route.
        let handle = Handle::new(&guest.namespace).unwrap();
        Veth::new("other0h", "eth0")
            .unwrap()
            .peer_namespace(&guest.namespace)
            .add(&lan.sandbox.host_handle())
            .unwrap();
        let eth0 = handle.link("eth0").unwrap().index;
        handle.addr_add(eth0, "172.17.0.2/16".parse().unwrap()).unwrap();
        handle.link_set_up(eth0).unwrap();
        lan.sandbox.host_handle().link_set_up("other0h").unwrap();
        let docker_default = pipework_core::Route::default_via("172.17.0.1".parse().unwrap(), eth0);
        handle.route_add(&docker_default).unwrap();

        let kept = DhcpLease::acquire(&guest, "eth1", &config()).unwrap();
        let defaults = default_routes(&lan.sandbox, &g);
        assert_eq!(defaults.len(), 1, "never two default routes: {defaults:?}");
        assert_eq!(defaults[0]["dev"], "eth0");
        assert_eq!(kept.record().applied.default_route_kept, Some(docker_default.clone()));
        kept.release().unwrap();
        assert_eq!(default_routes(&lan.sandbox, &g)[0]["dev"], "eth0");

        let replaced =
            DhcpLease::acquire(&guest, "eth1", &config().replace_default_route(true)).unwrap();
        let defaults = default_routes(&lan.sandbox, &g);
        assert_eq!(defaults.len(), 1, "never two default routes: {defaults:?}");
        assert_eq!(
            (defaults[0]["dev"].as_str(), defaults[0]["gateway"].as_str()),
            (Some("eth1"), Some(SERVER))
        );
        assert_eq!(replaced.record().applied.routes_replaced, [docker_default]);
        replaced.release().unwrap();
        let defaults = default_routes(&lan.sandbox, &g);
        assert_eq!((defaults.len(), defaults[0]["dev"].as_str()), (1, Some("eth0")), "put back");
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn resolv_conf_is_written_for_the_guest_only_when_asked_and_never_for_the_host() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("dns", "eth1", None);
        let host_before = fs::read("/etc/resolv.conf").ok();
        let guest_file = Path::new("/etc/netns").join(&g).join("resolv.conf");
        let quiet = DhcpLease::acquire(&guest, "eth1", &config()).unwrap();
        assert!(!guest_file.exists(), "not asked, not written");
        quiet.release().unwrap();
        let lease = DhcpLease::acquire(&guest, "eth1", &config().write_resolv_conf(true)).unwrap();
        let written = fs::read_to_string(&guest_file).expect("the namespace's resolv.conf");
        assert!(
            written.contains("nameserver 10.77.0.53\n") && written.contains("search lan.test"),
            "{written}"
        );
        // What the guest's processes see (ip netns exec binds /etc/netns/NAME/resolv.conf).
        let seen = Command::new("ip")
            .args(["netns", "exec", &g, "cat", "/etc/resolv.conf"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&seen.stdout), written);
        assert_eq!(
            fs::read("/etc/resolv.conf").ok(),
            host_before,
            "the host's resolv.conf is untouched"
        );
        lease.release().unwrap();
        assert!(
            !guest_file.exists() && !guest_file.parent().unwrap().exists(),
            "removed with its directory"
        );
        assert_eq!(fs::read("/etc/resolv.conf").ok(), host_before);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_keeper_ends_when_its_guest_goes_away() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("gone", "gone0", None);
        let lease = DhcpLease::acquire(&guest, "gone0", &config()).unwrap();
        let mac = lease.record().mac.unwrap().to_string();
        let inode = format!("net:[{}]", guest.namespace.id().ino);
        drop(guest);
        // Deleting the name is all a container engine does; the keeper must let go of it.
        assert!(Command::new("ip").args(["netns", "del", &g]).status().unwrap().success());
        let event = lease.next_event(Duration::from_secs(6));
        assert!(
            matches!(&event, Some(LeaseEvent::Ended { reason }) if reason.contains("no longer names")),
            "{event:?}"
        );
        assert!(wait_until(Duration::from_secs(2), || dhcp_threads("gone0") == 0));
        assert!(lan.leases().iter().all(|l| l.0 != mac), "released on the way out");
        // No thread of this process is inside the namespace any more, so it can go away.
        let inside = fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| fs::read_link(task.ok()?.path().join("ns/net")).ok())
            .filter(|ns| ns.to_string_lossy() == inode)
            .count();
        assert_eq!(inside, 0);
        drop(lease);
    }

    /// The processes (not threads) whose network namespace is `guest`'s.
    fn processes_in(guest: &Guest) -> Vec<u32> {
        let inode = format!("net:[{}]", guest.namespace.id().ino);
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/ns/net"))
                    .is_ok_and(|ns| ns.to_string_lossy() == inode)
            })
            .collect()
    }

    fn spec(word: &str) -> DhcpSpec {
        let mut spec = DhcpSpec::parse(word).unwrap().expect("a DHCP word");
        spec.config = spec.config.timeout(Duration::from_secs(15));
        spec
    }

    /// What every external client must show: the lease applied in the guest, the DNS
    /// servers read from its hook script's resolv.conf, the host's resolv.conf untouched.
    fn check_external(lan: &Lan, g: &str, record: &DhcpRecord, host_resolv: &Option<Vec<u8>>) {
        let addresses = ipv4_of(&lan.sandbox, g, "eth1");
        assert_eq!(
            addresses.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
            [record.lease.address.to_string()]
        );
        assert!(record.lease.address.to_string().starts_with("10.77.0."), "{record:?}");
        let defaults = default_routes(&lan.sandbox, g);
        assert_eq!(defaults.len(), 1, "{defaults:?}");
        assert_eq!(defaults[0]["gateway"], SERVER);
        assert_eq!(record.lease.dns_servers, ["10.77.0.53".parse::<std::net::Ipv4Addr>().unwrap()]);
        assert_eq!(
            &fs::read("/etc/resolv.conf").ok(),
            host_resolv,
            "the host's resolv.conf is untouched"
        );
        assert!(lan.sandbox.ping(g, SERVER));
    }

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn udhcpc_runs_inside_the_guest_once_or_kept_with_the_users_options() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("udhcpc", "eth1", None);
        let host_resolv = fs::read("/etc/resolv.conf").ok();
        // Once, like the original: the client exits after the lease; the options reach the server.
        let once = obtain(&guest, "eth1", &spec("udhcpc:-V pipework-test")).expect("udhcpc");
        check_external(&lan, &g, &once, &host_resolv);
        assert!(
            once.process.is_none() && processes_in(&guest).is_empty(),
            "no client left running"
        );
        assert!(lan.log().contains("vendor class: pipework-test"), "{}", lan.log());
        let mac = once.lease.mac.unwrap().to_string();
        assert!(
            lan.leases().iter().any(|l| l.0 == mac && l.2 == g),
            "host name sent: {:?}",
            lan.leases()
        );
        assert!(!pipework_core::dhcp::run_dir(guest.namespace.id(), "eth1").exists());
        once.release(Some(&guest)).unwrap();
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());

        // Kept: udhcpc stays in the background (no -q, unlike the original's udhcpc-f).
        let kept = obtain(&guest, "eth1", &spec("udhcpc-f")).expect("udhcpc-f");
        check_external(&lan, &g, &kept, &host_resolv);
        let process = kept.process.clone().expect("a kept client");
        assert!(process.is_running());
        assert!(process.pidfile.starts_with("/run/pipework/dhcp/"), "{process:?}");
        assert_eq!(processes_in(&guest), [process.pid]);
        kept.release(Some(&guest)).expect("stop udhcpc");
        assert!(!process.is_running() && processes_in(&guest).is_empty());
        assert!(!process.dir.exists(), "its files are gone");
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty(), "deconfigured");
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
            "released"
        );

        // Asked for, the guest's own resolv.conf gets what the client's script wrote.
        let mut with_dns = spec("udhcpc");
        with_dns.config = with_dns.config.write_resolv_conf(true);
        let record = obtain(&guest, "eth1", &with_dns).expect("udhcpc with resolv.conf");
        let guest_file = Path::new("/etc/netns").join(&g).join("resolv.conf");
        assert!(fs::read_to_string(&guest_file).unwrap().contains("nameserver 10.77.0.53"));
        record.release(Some(&guest)).unwrap();
        assert!(!guest_file.exists());
        assert_eq!(fs::read("/etc/resolv.conf").ok(), host_resolv);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_client_works_when_called_from_inside_a_tokio_runtime() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("async", "eth1", None);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let address = runtime.block_on(async {
            let lease = DhcpLease::acquire(&guest, "eth1", &config()).expect("lease");
            let address = lease.record().address.to_string();
            lease.release().expect("release");
            address
        });
        assert!(address.starts_with("10.77.0."), "{address}");
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());
    }

    #[test]
    #[ignore = "needs root, dnsmasq and dhclient; scripts/tier-dhcp.sh runs it"]
    fn dhclient_runs_inside_the_guest_once_or_kept_with_the_users_options() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("dhclient", "eth1", None);
        let host_resolv = fs::read("/etc/resolv.conf").ok();
        let host_name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        // The user's options really reach dhclient: a configuration file of the test's own.
        let conf = lan.dir.join("dhclient.conf");
        fs::write(
            &conf,
            "send vendor-class-identifier \"pipework-dhclient\";\nsend host-name = gethostname();\n\
                          request subnet-mask, routers, domain-name-servers, domain-name;\n",
        )
        .unwrap();
        let once = obtain(&guest, "eth1", &spec(&format!("dhclient:-cf {}", conf.display())))
            .expect("dhclient");
        check_external(&lan, &g, &once, &host_resolv);
        assert!(once.process.is_none() && processes_in(&guest).is_empty(), "stopped once bound");
        assert!(lan.log().contains("vendor class: pipework-dhclient"), "{}", lan.log());
        // dhclient sends gethostname(): the guest's name, from its private UTS namespace.
        let mac = once.lease.mac.unwrap().to_string();
        assert!(lan.leases().iter().any(|l| l.0 == mac && l.2 == g), "{:?}", lan.leases());
        assert_eq!(
            fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
            host_name,
            "host name untouched"
        );
        assert_eq!(
            (once.lease.server, once.lease.lease_secs),
            (Some(SERVER.parse().unwrap()), Some(120))
        );
        once.release(Some(&guest)).unwrap();

        let kept = obtain(&guest, "eth1", &spec("dhclient-f")).expect("dhclient-f");
        check_external(&lan, &g, &kept, &host_resolv);
        let process = kept.process.clone().expect("a kept client");
        assert_eq!(processes_in(&guest), [process.pid]);
        assert!(
            fs::read_to_string(process.dir.join("dhclient.leases")).unwrap().contains("lease {")
        );
        kept.release(Some(&guest)).expect("dhclient -r");
        assert!(!process.is_running() && processes_in(&guest).is_empty());
        assert!(!process.dir.exists());
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty(), "deconfigured");
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
            "released"
        );
    }

    #[test]
    #[ignore = "needs root, dnsmasq and dhcpcd; scripts/tier-dhcp.sh runs it"]
    fn dhcpcd_runs_once_or_kept_with_the_users_options_and_is_stopped() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("dhcpcd", "eth1", None);
        let host_resolv = fs::read("/etc/resolv.conf").ok();
        // The original dropped dhcpcd's options; here -i (vendor class) reaches the server.
        // Once (through the API; the command line's dhcpcd keeps running like the original's).
        let mut once = spec("dhcpcd");
        once.keep = DhcpKeep::Once;
        let record = obtain(&guest, "eth1", &once).expect("dhcpcd once");
        check_external(&lan, &g, &record, &host_resolv);
        // dhcpcd's privilege-separation helpers end just after it (seen once in CI, under
        // load, still exiting when obtain returned): they must be gone within moments.
        assert!(record.process.is_none());
        assert!(
            wait_until(Duration::from_secs(3), || processes_in(&guest).is_empty()),
            "{:?}",
            processes_in(&guest)
        );
        record.release(Some(&guest)).unwrap();
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());
        let kept = obtain(&guest, "eth1", &spec("dhcpcd:-i pipework-dhcpcd")).expect("dhcpcd");
        check_external(&lan, &g, &kept, &host_resolv);
        assert!(lan.log().contains("vendor class: pipework-dhcpcd"), "{}", lan.log());
        let process = kept.process.clone().expect("a kept client");
        assert!(processes_in(&guest).contains(&process.pid));
        let mac = kept.lease.mac.unwrap().to_string();
        kept.release(Some(&guest)).expect("stop dhcpcd");
        assert!(wait_until(Duration::from_secs(3), || processes_in(&guest).is_empty()));
        assert!(!process.dir.exists());
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
            "released: {:?} {}",
            lan.leases(),
            lan.log()
        );
    }

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn an_option_the_external_client_refuses_is_its_clear_error_and_nothing_is_left() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("refuse", "eth1", None);
        let before = lan.sandbox.state(&g);
        let err =
            obtain(&guest, "eth1", &spec("udhcpc-f:--no-such-option")).unwrap_err().to_string();
        assert!(err.contains("cannot acquire a DHCP lease on eth1 in"), "{err}");
        assert!(err.contains("udhcpc ended with exit status: 1"), "{err}");
        assert!(err.contains("unrecognized option"), "the client's own words: {err}");
        assert_eq!(lan.sandbox.state(&g), before);
        assert!(processes_in(&guest).is_empty());
        assert!(!pipework_core::dhcp::run_dir(guest.namespace.id(), "eth1").exists());
        // No server for an external client either: the timeout, and nothing left.
        let mut silent = Lan::without_server();
        let (sg, sguest) = silent.add_guest("quiet", "eth1", None);
        let before = silent.sandbox.state(&sg);
        let mut quick = spec("dhclient");
        quick.config = quick.config.timeout(Duration::from_secs(2));
        let err = obtain(&sguest, "eth1", &quick).unwrap_err();
        assert_eq!(err.errno(), nix::errno::Errno::ETIMEDOUT, "{err}");
        assert_eq!(silent.sandbox.state(&sg), before);
        assert!(processes_in(&sguest).is_empty(), "the client and its children were killed");
    }

    fn keeper() -> KeeperCommand {
        KeeperCommand {
            program: env!("CARGO_BIN_EXE_pipework-dhcp-keeper").into(),
            args: Vec::new(),
        }
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_daemon_keeps_the_lease_with_a_pidfile_and_releases_it_when_stopped() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("daemon", "eth1", None);
        let mut daemon = DhcpSpec::native();
        daemon.keep = DhcpKeep::Daemon { pidfile: None };
        daemon.config = config();
        daemon.keeper = Some(keeper());
        let record = obtain(&guest, "eth1", &daemon).expect("daemon");
        let process = record.process.clone().expect("a keeper");
        assert!(process.is_running());
        assert_eq!(fs::read_to_string(&process.pidfile).unwrap().trim(), process.pid.to_string());
        assert!(process.pidfile.starts_with("/run/pipework/dhcp/"));
        assert_eq!(ipv4_of(&lan.sandbox, &g, "eth1")[0].0, record.lease.address.to_string());
        // The keeper's thread is inside the guest, its main thread is not.
        let keeper_threads = fs::read_dir(format!("/proc/{}/task", process.pid)).unwrap().count();
        assert!(keeper_threads >= 2, "{keeper_threads}");
        let mac = record.lease.mac.unwrap().to_string();
        record.release(Some(&guest)).expect("stop the keeper");
        assert!(!process.is_running());
        assert!(!process.dir.exists(), "pidfile and log removed");
        assert!(ipv4_of(&lan.sandbox, &g, "eth1").is_empty());
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
            "released"
        );
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn the_daemon_exits_when_its_guest_goes_away() {
        let mut lan = Lan::with_server(&[]);
        let (g, guest) = lan.add_guest("orphan", "eth1", None);
        let mut daemon = DhcpSpec::native();
        daemon.keep = DhcpKeep::Daemon { pidfile: Some(lan.dir.join("keeper.pid")) };
        daemon.config = config();
        daemon.keeper = Some(keeper());
        let record = obtain(&guest, "eth1", &daemon).expect("daemon");
        let process = record.process.clone().unwrap();
        assert_eq!(process.pidfile, lan.dir.join("keeper.pid"), "the pidfile asked for");
        drop(guest);
        assert!(Command::new("ip").args(["netns", "del", &g]).status().unwrap().success());
        assert!(process.wait_gone(Duration::from_secs(6)), "the keeper let go of the namespace");
        assert!(!process.pidfile.exists());
        // Nothing to do any more for a detach that comes later.
        record.release(None).unwrap();
        assert!(!process.dir.exists());
    }

    /// The names of the ports of the LAN's bridge, from `bridge -j link`.
    fn bridge_ports(lan: &Lan) -> Vec<String> {
        let ports = lan.sandbox.bridge_json(&lan.sandbox.host_name(), &["link", "show"]);
        ports
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["master"] == "br-lan")
            .map(|p| p["ifname"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn attach_with_dhcp_records_the_lease_and_detach_releases_it() {
        let mut lan = Lan::with_server(&[]);
        let g = lan.sandbox.add_guest("att");
        let guest = lan.sandbox.guest(&g);
        let host = lan.sandbox.host_handle();
        let plan = AttachPlan::bridge("br-lan").dhcp(spec("dhcp"));
        let attachment = attach(&host, &guest, &plan).expect("attach with DHCP");
        let dhcp = attachment.dhcp.clone().expect("the lease is recorded");
        assert_eq!(ipv4_of(&lan.sandbox, &g, "eth1")[0].0, dhcp.lease.address.to_string());
        assert_eq!(default_routes(&lan.sandbox, &g)[0]["gateway"], SERVER);
        assert!(lan.sandbox.ping(&g, SERVER));
        assert!(dhcp.process.is_none(), "dhcp (once) leaves no process");
        // The record survives JSON, like pipework's state files.
        let json = serde_json::to_string(&attachment).unwrap();
        let back: pipework_core::Attachment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, attachment);
        let mac = dhcp.lease.mac.unwrap().to_string();
        back.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).expect("detach");
        assert!(lan.leases().iter().all(|l| l.0 != mac), "released: {:?}", lan.leases());
        assert!(lan.log().contains("DHCPRELEASE"));
        assert!(!lan.sandbox.link_names(&g).contains(&"eth1".to_string()));
        assert_eq!(bridge_ports(&lan), ["lanh"], "only the server's port is left");
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn two_guests_with_stable_macs_get_the_same_addresses_across_detach_and_attach() {
        let mut lan = Lan::with_server(&[]);
        let host = lan.sandbox.host_handle();
        let guests: Vec<(String, Guest)> = ["one", "two"]
            .iter()
            .map(|label| {
                let name = lan.sandbox.add_guest(label);
                (name.clone(), lan.sandbox.guest(&name))
            })
            .collect();
        let plan_of = |unique: &str| {
            AttachPlan::bridge("br-lan")
                .mac(MacAddr::parse_pipework(unique).unwrap())
                .dhcp(spec("dhcp"))
        };
        let round = |lan: &Lan| -> Vec<String> {
            let mut addresses = Vec::new();
            for ((name, guest), unique) in guests.iter().zip(["U:web-1", "U:web-2"]) {
                let attachment = attach(&host, guest, &plan_of(unique)).expect("attach");
                let address = attachment.dhcp.as_ref().unwrap().lease.address.to_string();
                assert_eq!(ipv4_of(&lan.sandbox, name, "eth1")[0].0, address);
                attachment
                    .detach(&host, Some(&Handle::new(&guest.namespace).unwrap()))
                    .expect("detach");
                addresses.push(address);
            }
            addresses
        };
        let first = round(&lan);
        assert_ne!(first[0], first[1]);
        assert!(lan.leases().is_empty(), "every lease was released: {:?}", lan.leases());
        let second = round(&lan);
        assert_eq!(second, first, "the same MAC gets the same address back");
    }

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn attach_keeps_an_external_client_or_a_daemon_and_detach_stops_it() {
        let mut lan = Lan::with_server(&[]);
        let host = lan.sandbox.host_handle();
        let mut daemon = DhcpSpec::native();
        daemon.keep = DhcpKeep::Daemon { pidfile: None };
        daemon.config = config();
        daemon.keeper = Some(keeper());
        for (label, spec) in [("ext", spec("udhcpc-f")), ("dmn", daemon)] {
            let g = lan.sandbox.add_guest(label);
            let guest = lan.sandbox.guest(&g);
            let attachment =
                attach(&host, &guest, &AttachPlan::bridge("br-lan").dhcp(spec)).expect("attach");
            let dhcp = attachment.dhcp.clone().unwrap();
            let process = dhcp.process.clone().expect("kept");
            assert!(process.is_running(), "{label}");
            assert_eq!(ipv4_of(&lan.sandbox, &g, "eth1")[0].0, dhcp.lease.address.to_string());
            attachment
                .detach(&host, Some(&Handle::new(&guest.namespace).unwrap()))
                .expect("detach");
            assert!(!process.is_running() && !process.dir.exists(), "{label}");
            assert!(processes_in(&guest).is_empty(), "{label}");
            let mac = dhcp.lease.mac.unwrap().to_string();
            assert!(
                wait_until(Duration::from_secs(3), || lan.leases().iter().all(|l| l.0 != mac)),
                "{label}"
            );
        }
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_failed_dhcp_attach_rolls_everything_back() {
        let mut lan = Lan::without_server();
        let g = lan.sandbox.add_guest("fail");
        let guest = lan.sandbox.guest(&g);
        let host = lan.sandbox.host_handle();
        // The host's IPv6 link-local routes come and go on their own: compare its links and ports.
        let host_links =
            |lan: &Lan| (lan.sandbox.link_names(&lan.sandbox.host_name()), bridge_ports(lan));
        let (host_before, guest_before) = (host_links(&lan), lan.sandbox.state(&g));
        let mut quick = spec("dhcp");
        quick.config = quick.config.timeout(Duration::from_secs(2));
        let err = attach(&host, &guest, &AttachPlan::bridge("br-lan").dhcp(quick)).unwrap_err();
        assert_eq!(err.errno(), nix::errno::Errno::ETIMEDOUT, "{err}");
        assert_eq!(host_links(&lan), host_before);
        assert_eq!(lan.sandbox.state(&g), guest_before);
        assert!(processes_in(&guest).is_empty());
        // Bad combinations are refused before anything changes.
        let mixed = AttachPlan::bridge("br-lan")
            .address("10.77.0.5/24".parse().unwrap())
            .dhcp(spec("dhcp"));
        let err = attach(&host, &guest, &mixed).unwrap_err().to_string();
        assert!(
            err.contains(
                "invalid address \"10.77.0.5\": DHCP gives the interface its IPv4 address"
            ),
            "{err}"
        );
        assert_eq!(lan.sandbox.state(&g), guest_before);
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_macvlan_guest_gets_its_lease_through_the_parent() {
        let mut lan = Lan::with_server(&[]);
        let host = lan.sandbox.host_handle();
        // The host's "physical" NIC: a veth whose other end is a port of the LAN's bridge.
        Veth::new("nic0", "nic0p").unwrap().up().add(&host).unwrap();
        host.link_set_master("nic0p", lan.bridge).unwrap();
        host.link_set_up("nic0p").unwrap();
        let g = lan.sandbox.add_guest("mv");
        let guest = lan.sandbox.guest(&g);
        let plan =
            AttachPlan::macvlan("nic0", pipework_core::MacvlanMode::Bridge).dhcp(spec("dhcp"));
        let attachment = attach(&host, &guest, &plan).expect("macvlan with DHCP");
        let dhcp = attachment.dhcp.clone().unwrap();
        let link = &lan.sandbox.ip_json(&g, &["link", "show", "eth1"])[0];
        assert_eq!(link["linkinfo"]["info_kind"], "macvlan");
        assert_eq!(ipv4_of(&lan.sandbox, &g, "eth1")[0].0, dhcp.lease.address.to_string());
        assert!(lan.sandbox.ping(&g, SERVER));
        let mac = dhcp.lease.mac.unwrap().to_string();
        attachment.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).expect("detach");
        assert!(lan.leases().iter().all(|l| l.0 != mac), "released: {:?}", lan.leases());
        assert!(!lan.sandbox.link_names(&g).contains(&"eth1".to_string()));
    }

    /// The link-layer address that neighbour table of `ns` has for `ip` on `dev`, if any.
    fn neighbour(sandbox: &Sandbox, ns: &str, dev: &str, ip: &str) -> Option<String> {
        let table = sandbox.ip_json(ns, &["neigh", "show", "dev", dev]);
        table.as_array().into_iter().flatten().find(|n| n["dst"] == ip)?["lladdr"]
            .as_str()
            .map(str::to_string)
    }

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn a_leased_address_is_announced_to_the_lan_unless_announcing_is_off() {
        let mut lan = Lan::with_server(&[]);
        let host = lan.sandbox.host_handle();
        // A bystander on the LAN that learns addresses from gratuitous ARP only (arp_accept).
        let (observer, _) = lan.add_guest("obs", "obs0", None);
        let sysctl = |setting: &str| {
            let status = Command::new("ip")
                .args(["netns", "exec", &observer, "sysctl", "-q", "-w", setting])
                .status();
            assert!(status.unwrap().success(), "sysctl {setting}");
        };
        sysctl("net.ipv4.conf.obs0.arp_accept=1");
        let observer_ns = pipework_core::Namespace::from_name(&observer).unwrap();
        let obs = Handle::new(&observer_ns).unwrap();
        let obs0 = obs.link("obs0").unwrap().index;
        obs.addr_add(obs0, "10.77.0.200/24".parse().unwrap()).unwrap();
        obs.link_set_up(obs0).unwrap();
        for (label, announce) in [("quiet", false), ("loud", true)] {
            let g = lan.sandbox.add_guest(label);
            let guest = lan.sandbox.guest(&g);
            let plan = AttachPlan::bridge("br-lan").dhcp(spec("dhcp")).announce(announce);
            let attachment = attach(&host, &guest, &plan).expect("attach with DHCP");
            let lease = attachment.dhcp.clone().expect("a lease").lease;
            let (ip, mac) = (lease.address.addr().to_string(), lease.mac.unwrap().to_string());
            let learnt = wait_until(Duration::from_secs(2), || {
                neighbour(&lan.sandbox, &observer, "obs0", &ip).as_deref() == Some(mac.as_str())
            });
            assert_eq!(learnt, announce, "{label}: the bystander learnt {ip} is at {mac}");
            attachment.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).unwrap();
        }
    }

    /// A lab on the LAN's bridge, with its own state directory; destroyed on drop.
    struct LanLab<'a> {
        lan: &'a Lan,
        name: String,
        store: pipework_core::StateStore,
    }

    impl<'a> LanLab<'a> {
        fn new(lan: &'a Lan) -> Self {
            let name = lan.sandbox.prefix.clone();
            let store = pipework_core::StateStore::new(lan.dir.join("state"));
            LanLab { lan, name, store }
        }

        /// The lab with nodes a, b, c on br-lan (the LAN's bridge, there already) and `links`.
        fn file(&self, links: &str) -> pipework_core::topology::Topology {
            let text = format!(
                "name: {}\ntopology:\n  nodes:\n    a: {{}}\n    b: {{}}\n    c: {{}}\n    br-lan: {{kind: bridge}}\n  links:\n{links}",
                self.name
            );
            pipework_core::topology::Topology::parse(&text, "lan.clab.yml").unwrap()
        }

        fn netns(&self, node: &str) -> String {
            pipework_core::topology::namespace_name(&self.name, node)
        }

        fn namespaces(&self) -> Vec<String> {
            super::common::lab_namespaces(&self.name)
        }
    }

    impl Drop for LanLab<'_> {
        fn drop(&mut self) {
            let host = self.lan.sandbox.host_handle();
            let _ = pipework_core::topology::destroy(&host, &self.name, &self.store);
            for ns in self.namespaces() {
                let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            }
        }
    }

    /// a gets a lease from pipework's client (once), b from a kept udhcpc.
    const LEASED: &str = r#"    - endpoints: ["a:eth1", "br-lan:pa1"]
      pipework: {endpoints: [{dhcp: true, mac: "02:00:00:77:00:0a"}]}
    - endpoints: ["b:eth1", "br-lan:pb1"]
      pipework: {endpoints: [{dhcp: udhcpc-f, mac: "02:00:00:77:00:0b"}]}
"#;

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn a_labs_ends_get_leases_from_the_lan_and_give_them_back_when_removed_or_destroyed() {
        let lan = Lan::with_server(&[]);
        let lab = LanLab::new(&lan);
        let host = lan.sandbox.host_handle();
        let file = lab.file(LEASED);
        let applied = pipework_core::topology::apply(&host, &file, &lab.store).expect("apply");
        assert_eq!(applied.steps.len(), 5, "{:?}", applied.steps);
        let (a, b) = (lab.netns("a"), lab.netns("b"));
        // Each end has a 10.77.0.x address, the LAN's router as default route, and the server
        // knows each lease by the end's MAC.
        let leased = |ns: &str| {
            let addresses = ipv4_of(&lan.sandbox, ns, "eth1");
            assert_eq!(addresses.len(), 1, "{ns}: {addresses:?}");
            assert!(addresses[0].0.starts_with("10.77.0."), "{addresses:?}");
            let defaults = default_routes(&lan.sandbox, ns);
            assert_eq!(defaults[0]["gateway"].as_str(), Some(SERVER), "{defaults:?}");
            addresses[0].0.split('/').next().unwrap().to_string()
        };
        let (a_ip, b_ip) = (leased(&a), leased(&b));
        let macs: Vec<String> = lan.leases().into_iter().map(|l| l.0).collect();
        assert!(macs.contains(&"02:00:00:77:00:0a".into()), "{macs:?}");
        assert!(macs.contains(&"02:00:00:77:00:0b".into()), "{macs:?}");
        assert!(lan.sandbox.ping(&a, SERVER));
        assert!(lan.sandbox.ping(&a, &b_ip), "a -> b across the LAN");
        assert!(lan.sandbox.ping(&b, &a_ip), "b -> a across the LAN");
        // The record holds both leases; show says they are in place; b's udhcpc keeps its own.
        let status =
            pipework_core::topology::status(&host, &lab.name, &lab.store).unwrap().unwrap();
        assert_eq!(status.leases.len(), 2, "{status:?}");
        assert!(status.leases.iter().all(|lease| lease.present), "{status:?}");
        let b_lease = status.leases.iter().find(|l| l.item.node == "b").unwrap();
        let udhcpc = b_lease.item.record.process.clone().expect("udhcpc keeps b's lease");
        assert!(udhcpc.is_running(), "udhcpc {udhcpc:?}");
        assert_eq!(b_lease.item.record.lease.address.addr().to_string(), b_ip);
        // Again: nothing to do.
        let again = pipework_core::topology::apply(&host, &file, &lab.store).unwrap();
        assert!(again.steps.is_empty(), "{:?}", again.steps);
        // b's link leaves the file: its lease goes back to the server and its udhcpc stops.
        let first_only = lab.file(LEASED.split("    - endpoints: [\"b").next().unwrap());
        let changed = pipework_core::topology::apply(&host, &first_only, &lab.store).unwrap();
        assert_eq!(changed.steps.len(), 1, "remove b's link: {:?}", changed.steps);
        assert!(!udhcpc.is_running(), "udhcpc still runs");
        assert!(
            wait_until(Duration::from_secs(3), || lan
                .leases()
                .iter()
                .all(|l| l.0 != "02:00:00:77:00:0b")),
            "the server still holds b's lease: {:?}",
            lan.leases()
        );
        assert_eq!(leased(&a), a_ip, "a kept its lease");
        // Destroy gives a's lease back (DHCPRELEASE) before its namespace goes.
        pipework_core::topology::destroy(&host, &lab.name, &lab.store).expect("destroy");
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().is_empty()),
            "the server still holds a lease: {:?}",
            lan.leases()
        );
        assert!(lan.log().contains("DHCPRELEASE"), "{}", lan.log());
        assert!(lab.namespaces().is_empty(), "{:?}", lab.namespaces());
    }

    #[test]
    #[ignore = "needs root, dnsmasq and udhcpc; scripts/tier-dhcp.sh runs it"]
    fn a_lease_that_fails_half_way_through_an_apply_gives_back_every_lease_it_obtained() {
        let lan = Lan::with_server(&[]);
        let lab = LanLab::new(&lan);
        let host = lan.sandbox.host_handle();
        let before = lan.sandbox.state(&lan.sandbox.host_name());
        // c's end is on a host veth where no server answers: its lease times out.
        let unanswered = r#"    - endpoints: ["c:eth1", "host:hc1"]
      pipework: {endpoints: [{dhcp: "dhcp:-T 2"}]}
"#;
        let file = lab.file(&format!("{LEASED}{unanswered}"));
        let err = pipework_core::topology::apply(&host, &file, &lab.store).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("add link c:eth1 -- host:hc1"), "{text}");
        assert!(lab.namespaces().is_empty(), "{:?}", lab.namespaces());
        assert_eq!(lan.sandbox.state(&lan.sandbox.host_name()), before, "the host as it was");
        assert!(
            wait_until(Duration::from_secs(3), || lan.leases().is_empty()),
            "the server still holds a lease: {:?}",
            lan.leases()
        );
        // a's lease was granted (a's link ran beside c's) and given back.
        let log = lan.log();
        assert!(log.contains("DHCPACK") && log.contains("DHCPRELEASE"), "{log}");
        let status = pipework_core::topology::status(&host, &lab.name, &lab.store).unwrap();
        assert_eq!(status, None, "no record of the lab");
    }
}
