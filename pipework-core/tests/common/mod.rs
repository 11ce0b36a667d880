//! The privileged test harness: a private "host" namespace plus "container" namespaces per
//! test, unique names so tests run in parallel, and removal even when the test fails.
#![allow(dead_code)]

use std::{
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

use pipework_core::{Guest, Handle, Namespace};
use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A private host namespace and guest namespaces, all deleted on drop.
pub struct Sandbox {
    /// The unique prefix of every namespace name of this sandbox.
    pub prefix: String,
    host: Option<Namespace>,
    guests: Vec<Namespace>,
}

impl Sandbox {
    /// Creates the sandbox's private host namespace; fails loudly without root.
    pub fn new() -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "privileged test run without root: run scripts/test.sh as root"
        );
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pwt{}x{n}", std::process::id());
        let host =
            Namespace::create_named(&format!("{prefix}-host")).expect("create host namespace");
        // Loopback up, like any real host.
        let handle = Handle::new(&host).expect("host handle");
        handle.link_set_up("lo").expect("lo up");
        Sandbox { prefix, host: Some(host), guests: Vec::new() }
    }

    /// The private host namespace.
    pub fn host(&self) -> &Namespace {
        self.host.as_ref().expect("host")
    }

    /// The host namespace's name under /run/netns.
    pub fn host_name(&self) -> String {
        format!("{}-host", self.prefix)
    }

    /// A handle in the private host namespace.
    pub fn host_handle(&self) -> Handle {
        Handle::new(self.host()).expect("host handle")
    }

    /// Creates a "container" namespace and returns its /run/netns name.
    pub fn add_guest(&mut self, label: &str) -> String {
        let name = format!("{}-{label}", self.prefix);
        let ns = Namespace::create_named(&name).expect("create guest namespace");
        self.guests.push(ns);
        name
    }

    /// Opens a guest as pipework's resolver would.
    pub fn guest(&self, name: &str) -> Guest {
        pipework_core::resolve(name).expect("resolve guest")
    }

    /// Runs `ip -j -n NS ARGS` and parses its JSON.
    pub fn ip_json(&self, ns: &str, args: &[&str]) -> Value {
        json_of(Command::new("ip").args(["-j", "-d", "-n", ns]).args(args))
    }

    /// Runs `bridge -j -n NS ARGS` and parses its JSON.
    pub fn bridge_json(&self, ns: &str, args: &[&str]) -> Value {
        json_of(Command::new("bridge").args(["-j", "-n", ns]).args(args))
    }

    /// The global addresses of `ifname` in `ns` as `ip -j addr` shows them (`10.0.0.2/24`).
    pub fn global_addresses(&self, ns: &str, ifname: &str) -> Vec<String> {
        self.ip_json(ns, &["addr", "show", ifname])[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["scope"] == "global")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or_default(), a["prefixlen"]))
            .collect()
    }

    /// Runs `ping` inside `ns`, returning whether a reply came back.
    pub fn ping(&self, ns: &str, destination: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", destination])
            .output()
            .expect("run ping")
            .status
            .success()
    }

    /// Everything about the links, addresses and routes of `ns`, to prove something did not change.
    pub fn state(&self, ns: &str) -> String {
        let mut links = self.ip_json(ns, &["link", "show"]);
        // Counters change on their own; what matters is which links exist and how they are set.
        if let Some(array) = links.as_array_mut() {
            for link in array {
                if let Some(object) = link.as_object_mut() {
                    object.retain(|k, _| {
                        ["ifname", "link_type", "address", "mtu", "flags", "master", "linkinfo"]
                            .contains(&k.as_str())
                    });
                    if let Some(info) = object.get_mut("linkinfo").and_then(Value::as_object_mut) {
                        info.retain(|k, _| k == "info_kind" || k == "info_slave_kind");
                    }
                    // Carrier flags follow the peer asynchronously; the administrative ones are what we set.
                    if let Some(flags) = object.get_mut("flags").and_then(Value::as_array_mut) {
                        flags.retain(|f| {
                            !["NO-CARRIER", "LOWER_UP", "M-DOWN", "DORMANT"]
                                .contains(&f.as_str().unwrap_or_default())
                        });
                    }
                }
            }
        }
        // IPv6 link-local addresses and their routes come and go with DAD on their own.
        let addrs = self.ip_json(ns, &["addr", "show"]);
        let addrs: Vec<_> = addrs
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["ifname"].clone(),
                    a["addr_info"].as_array().map(|i| {
                        i.iter()
                            .filter(|x| x["scope"] != "link")
                            .map(|x| x["local"].clone())
                            .collect::<Vec<_>>()
                    }),
                )
            })
            .collect();
        let mut routes = self.ip_json(ns, &["route", "show", "table", "all"]);
        if let Some(array) = routes.as_array_mut() {
            array.retain(|r| {
                let dst = r["dst"].as_str().unwrap_or_default();
                !(dst.starts_with("fe80:") || dst.starts_with("ff00:"))
            });
        }
        format!("{links}\n{addrs:?}\n{routes}")
    }

    /// "Hosts" on one underlay: for each label a namespace whose `eth0` is a port of bridge
    /// `brunder` in the sandbox's host namespace, addressed `SUBNET.N/24` (N from 1), up, with
    /// loopback up; returns each one's name and handle.
    pub fn underlay_hosts(&mut self, labels: &[&str], subnet: &str) -> Vec<(String, Handle)> {
        let underlay = self.host_handle();
        let bridge = pipework_core::Bridge::new("brunder").unwrap().ensure(&underlay).unwrap();
        let mut hosts = Vec::new();
        for (n, label) in labels.iter().enumerate() {
            let name = self.add_guest(label);
            let namespace = Namespace::from_name(&name).unwrap();
            pipework_core::Veth::new(&format!("up{label}"), "eth0")
                .unwrap()
                .peer_namespace(&namespace)
                .master(bridge.link.index)
                .up()
                .add(&underlay)
                .unwrap();
            let handle = Handle::new(&namespace).unwrap();
            let eth0 = handle.link("eth0").unwrap().index;
            handle.addr_add(eth0, format!("{subnet}.{}/24", n + 1).parse().unwrap()).unwrap();
            handle.link_set_up(eth0).unwrap();
            handle.link_set_up("lo").unwrap();
            hosts.push((name, handle));
        }
        hosts
    }

    /// The names of the links in `ns`.
    pub fn link_names(&self, ns: &str) -> Vec<String> {
        self.ip_json(ns, &["link", "show"])
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["ifname"].as_str().map(str::to_string))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for ns in self.guests.drain(..).chain(self.host.take()) {
            let name = ns.name().unwrap_or_default().to_string();
            if let Err(err) = ns.delete() {
                eprintln!("sandbox cleanup: cannot delete {name}: {err}");
            }
        }
    }
}

fn json_of(command: &mut Command) -> Value {
    let output = command.output().expect("run iproute2");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Array(Vec::new());
    }
    serde_json::from_slice(&output.stdout).expect("iproute2 JSON")
}

/// `CAP_DAC_OVERRIDE`: root's pass through file permissions.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// `CAP_DAC_READ_SEARCH`: root's pass through read and search permissions.
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_NET_ADMIN`: network configuration.
pub const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN`: among others, entering and creating namespaces.
pub const CAP_SYS_ADMIN: u32 = 21;

/// Removes CAP_NET_ADMIN from the calling thread's effective set (capabilities are per thread).
pub fn drop_net_admin_in_this_thread() {
    drop_capabilities_in_this_thread(&[CAP_NET_ADMIN]);
}

/// Removes `caps` (all below 32) from the calling thread's effective set.
pub fn drop_capabilities_in_this_thread(caps: &[u32]) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data words, as capabilities(7) describes.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()), 0, "capget");
        for cap in caps {
            data[0].effective &= !(1 << cap);
        }
        assert_eq!(libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()), 0, "capset");
    }
}

/// The named namespaces of lab `lab` (`clab-<lab>-*`), from `ip netns list`.
pub fn lab_namespaces(lab: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(&format!("clab-{lab}-")))
        .map(str::to_string)
        .collect()
}

/// `tipc link list` in `ns`, read independently of the library.
pub fn tipc_links(ns: &str) -> String {
    let output = Command::new("ip")
        .args(["netns", "exec", ns, "tipc", "link", "list"])
        .output()
        .expect("run tipc");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}
