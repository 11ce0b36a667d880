//! Every step of an attach made to fail in turn: the Nth netlink request or namespace switch
//! of the calling thread (`Faults::fail_any`, N = 1, 2, ... until the attach succeeds), with a
//! full snapshot of the private host and guest namespaces (links, addresses, routes,
//! configured neighbours and FDB entries, namespace ids) and of the records compared before and after each failure.

mod common;

use std::{path::Path, process::Command};

use common::Sandbox;
use nix::errno::Errno;
use pipework_core::{
    AttachPlan, Handle, IpNet, MacvlanMode, Route, StateStore, Veth, VxlanUplink, attach,
    cni::{Env, run},
    fault::Faults,
    topology,
};
use serde_json::Value;

/// No attach of these takes more requests; reaching it means the sweep never ends.
const MAX_STEPS: usize = 300;

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// Runs `ip -j ARGS` (or `bridge -j`) inside `ns` and parses its JSON (`[]` for no output).
fn json(tool: &str, ns: &str, args: &[&str]) -> Value {
    let output = Command::new(tool).args(["-j", "-n", ns]).args(args).output().unwrap();
    assert!(output.status.success(), "{tool} -n {ns} {args:?}");
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Array(vec![]))
}

/// Everything a failed attach could leave behind in `namespaces` and under `records`.
fn snapshot(sandbox: &Sandbox, namespaces: &[&str], records: &Path) -> String {
    let mut all = String::new();
    for ns in namespaces {
        all += &sandbox.state(ns);
        all += &configured_neighbours(json("ip", ns, &["neigh", "show"])).to_string();
        all += &configured_fdb(json("bridge", ns, &["fdb", "show"])).to_string();
        all += &json("ip", ns, &["netns", "list-id"]).to_string();
        all += "\n";
    }
    let mut files: Vec<String> = walk(records);
    files.sort();
    all + &files.join("\n")
}

/// The neighbours someone configured (permanent or noarp): the others are the kernel's
/// resolution of traffic that happened to pass, which ages out on its own.
fn configured_neighbours(mut neighbours: Value) -> Value {
    if let Some(entries) = neighbours.as_array_mut() {
        entries.retain(|entry| {
            entry["state"].as_array().is_some_and(|states| {
                states.iter().any(|state| state == "PERMANENT" || state == "NOARP")
            })
        });
    }
    neighbours
}

/// The FDB entries someone configured (permanent or static) for unicast MACs: learned ones
/// follow traffic, and the multicast groups an interface joins follow IPv6 autoconfiguration,
/// both on the kernel's own time.
fn configured_fdb(mut fdb: Value) -> Value {
    if let Some(entries) = fdb.as_array_mut() {
        entries.retain(|entry| {
            let first =
                entry["mac"].as_str().and_then(|mac| u8::from_str_radix(&mac[..2], 16).ok());
            let configured =
                ["permanent", "static"].contains(&entry["state"].as_str().unwrap_or(""));
            configured && first.is_some_and(|octet| octet & 1 == 0)
        });
    }
    fdb
}

/// The files under `dir` with their contents (none when it does not exist).
fn walk(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else if path.file_name().is_some_and(|name| name == ".lock") {
                // The lock of the directory, not a record.
                Vec::new()
            } else {
                vec![format!("{}: {}", path.display(), std::fs::read_to_string(&path).unwrap())]
            }
        })
        .collect()
}

/// Gives each namespace of `guests` an id in the host and the host one in each of them: the
/// kernel assigns them at the first link between two namespaces and cannot take them back
/// (see the README's Rollback), so they are made before the first snapshot.
fn number_namespaces(host: &str, guests: &[&str]) {
    for guest in guests {
        for (inside, other) in [(host, *guest), (*guest, host)] {
            // Refused when it has one already (a link made before).
            let _ = Command::new("ip").args(["-n", inside, "netns", "set", other, "auto"]).output();
            let ids = json("ip", inside, &["netns", "list-id"]);
            assert!(
                ids.as_array().unwrap().iter().any(|id| id["name"] == *other),
                "{other} has an id in {inside}: {ids}"
            );
        }
    }
}

/// What an attempt gave: the attachment's warnings (`None` where they are not reported), or
/// the error.
type Attempt = Result<Option<Vec<String>>, String>;

/// Runs `attempt` with the Nth step failing, N = 1, 2, ..., until no step is left to fail.
/// After a failure, `snapshot` must be as before. A step whose failure is only a warning (the
/// announcement) gives an attachment that says so; it is undone, and again nothing is left.
/// Returns how many failures were injected.
fn sweep(
    what: &str,
    snapshot: &dyn Fn() -> String,
    attempt: &dyn Fn() -> Attempt,
    undo: &dyn Fn(),
) -> usize {
    let before = snapshot();
    for n in 1..=MAX_STEPS {
        let armed = Faults::new().fail_any(n, Errno::EIO).arm();
        let outcome = attempt();
        let counted = armed.counted()[0];
        drop(armed);
        match outcome {
            Ok(warnings) => {
                if counted >= n
                    && let Some(warnings) = warnings
                {
                    let said = warnings.iter().any(|w| w.contains("Input/output error"));
                    assert!(said, "{what}: step {n} failed unnoticed: {warnings:?}");
                }
                undo();
                assert_eq!(snapshot(), before, "{what}: the undo after step {n}");
                if counted < n {
                    return n - 1;
                }
            }
            Err(err) => {
                assert!(err.contains("Input/output error"), "{what}, step {n}: not ours: {err}");
                assert_eq!(snapshot(), before, "{what}: step {n} failing left this ({err})");
            }
        }
    }
    panic!("{what}: still failing after {MAX_STEPS} steps");
}

/// A guest with a default route of its own on eth0 (like Docker's), for a gateway to replace.
fn with_default_route(sandbox: &mut Sandbox, host: &Handle, label: &str) -> String {
    let g = sandbox.add_guest(label);
    let guest = sandbox.guest(&g);
    let handle = Handle::new(&guest.namespace).unwrap();
    Veth::new(&format!("{label}0h"), "eth0")
        .unwrap()
        .peer_namespace(&guest.namespace)
        .add(host)
        .unwrap();
    let eth0 = handle.link("eth0").unwrap();
    handle.addr_add(eth0.index, net("172.17.0.2/16")).unwrap();
    handle.link_set_up(eth0.index).unwrap();
    host.link_set_up(format!("{label}0h").as_str()).unwrap();
    handle.route_add(&Route::default_via("172.17.0.1".parse().unwrap(), eth0.index)).unwrap();
    g
}

/// A "physical" parent in the host: one end of a veth pair whose other end stays there too.
fn physical(host: &Handle, name: &str) {
    Veth::new(name, &format!("{name}w")).unwrap().add(host).unwrap();
    host.link_set_up(name).unwrap();
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_step_of_every_host_kind_fails_cleanly() {
    let mut sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let g = with_default_route(&mut sandbox, &host, "g");
    let guest = sandbox.guest(&g);
    let guest_handle = Handle::new(&guest.namespace).unwrap();
    physical(&host, "nic0");
    physical(&host, "nic1");
    // Someone else's bridge (no pipework alias), with an address of its own: one whose MAC
    // the kernel assigned follows its ports, and is 00:00:00:00:00:00 without any.
    let made = Command::new("ip")
        .args(["-n", &sandbox.host_name(), "link", "add", "brold", "address", "02:00:00:00:0b:01"])
        .args(["up", "type", "bridge"])
        .status();
    assert!(made.unwrap().success(), "ip link add brold type bridge");
    number_namespaces(&sandbox.host_name(), &[&g]);
    let hostname = sandbox.host_name();
    let none = Path::new("/nonexistent/pipework-records");
    let snap = || snapshot(&sandbox, &[&hostname, &g], none);
    let v4_and_v6 = |plan: AttachPlan| {
        plan.address(net("10.60.0.2/24"))
            .address(net("2001:db8:60::2/64"))
            // Off-subnet: an on-link host route first, then the default route it replaces.
            .gateway("10.61.0.1".parse().unwrap())
            .gateway("2001:db8:60::1".parse().unwrap())
            .mtu(1400)
    };
    let plans = [
        ("a new bridge", v4_and_v6(AttachPlan::bridge("brnew"))),
        ("an existing bridge", v4_and_v6(AttachPlan::bridge("brold")).host_ifname("pwold0")),
        (
            "a macvlan with a host shim",
            AttachPlan::macvlan("nic0", MacvlanMode::Private)
                .address(net("10.62.0.2/24"))
                .host_shim(net("10.62.0.250/32")),
        ),
        ("a macvtap", AttachPlan::macvtap("nic0", MacvlanMode::Vepa).address(net("10.63.0.2/24"))),
        ("a moved device", AttachPlan::physical("nic1").address(net("10.64.0.2/24"))),
        (
            "a bridge with a VXLAN overlay",
            AttachPlan::bridge("brvx")
                .address(net("10.67.0.2/24"))
                .vxlan(VxlanUplink::parse("43@192.0.2.8,192.0.2.9%nic0").unwrap()),
        ),
    ];
    let mut injected = 0;
    for (what, plan) in &plans {
        let made = std::cell::RefCell::new(None);
        let steps = sweep(
            what,
            &snap,
            &|| {
                let attachment = attach(&host, &guest, plan).map_err(|e| e.to_string())?;
                let warnings = attachment.warnings.clone();
                *made.borrow_mut() = Some(attachment);
                Ok(Some(warnings))
            },
            &|| made.take().unwrap().detach(&host, Some(&guest_handle)).unwrap(),
        );
        assert!(steps >= 5, "{what}: only {steps} steps failed in turn");
        injected += steps;
    }
    eprintln!("host kinds: {injected} injected failures, each undone completely");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_step_of_an_attach_and_its_record_fails_cleanly() {
    let mut sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let g = sandbox.add_guest("g");
    let guest = sandbox.guest(&g);
    number_namespaces(&sandbox.host_name(), &[&g]);
    let dir = std::env::temp_dir().join(format!("{}-records", sandbox.prefix));
    let store = StateStore::new(&dir);
    let hostname = sandbox.host_name();
    let snap = || snapshot(&sandbox, &[&hostname, &g], &dir);
    let plan = AttachPlan::bridge("brrec").address(net("10.65.0.2/24"));
    let injected = sweep(
        "an attach with its record",
        &snap,
        &|| {
            let (attachment, _) = store.attach(&host, &guest, &plan).map_err(|e| e.to_string())?;
            Ok(Some(attachment.warnings))
        },
        &|| store.detach(&host, &g, Some(&guest), None).1.unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("records: {injected} injected failures, each undone completely");
    assert!(injected > 5, "{injected}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_step_of_a_cni_add_fails_cleanly() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    number_namespaces(&sandbox.host_name(), &[&g]);
    // The plugin keeps its records under the state directory, per network name.
    let network = format!("{}-net", sandbox.prefix);
    let records = StateStore::from_env().dir().join("cni").join(&network);
    let hostname = sandbox.host_name();
    let snap = || snapshot(&sandbox, &[&hostname, &g], &records);
    let config = format!(
        r#"{{"cniVersion": "1.1.0", "name": "{network}", "type": "pipework", "host": "brcni",
            "addresses": ["10.66.0.2/24"], "gateway": "10.66.0.1"}}"#
    );
    let env = |command: &str| {
        Env::new(
            [
                ("CNI_COMMAND", command),
                ("CNI_CONTAINERID", "faultsweep"),
                ("CNI_NETNS", &format!("/run/netns/{g}")),
                ("CNI_IFNAME", "eth0"),
                ("CNI_PATH", "/usr/lib/cni"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
    };
    // The plugin works in the namespace of its thread, as the binary does in its process's.
    let host = sandbox.host().try_clone().unwrap();
    let injected = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(&host, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                sweep(
                    "a CNI ADD",
                    &snap,
                    &|| {
                        let outcome = run(&env("ADD"), config.as_bytes());
                        // A CNI result has no place for warnings.
                        if outcome.status == 0 { Ok(None) } else { Err(outcome.stdout) }
                    },
                    &|| assert_eq!(run(&env("DEL"), config.as_bytes()).status, 0),
                )
            })
            .join()
            .unwrap()
    });
    let _ = std::fs::remove_dir_all(&records);
    eprintln!("CNI ADD: {injected} injected failures, each undone completely");
    assert!(injected > 5, "{injected}");
}

/// The lab's namespaces that exist now (`clab-LAB-*` under /run/netns), sorted.
fn lab_namespaces(lab: &str) -> Vec<String> {
    let prefix = format!("clab-{lab}-");
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Waits (up to 5 s) until `ns` holds no id of a namespace that has no name any more: the
/// kernel frees the ids of a deleted namespace in its asynchronous cleanup.
fn settle_namespace_ids(ns: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while json("ip", ns, &["netns", "list-id"])
        .as_array()
        .is_some_and(|ids| ids.iter().any(|id| id.get("name").is_none()))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_step_of_a_topology_apply_and_of_its_reconcile_fails_cleanly() {
    let mut sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let g = sandbox.add_guest("g");
    number_namespaces(&sandbox.host_name(), &[&g]);
    let lab = sandbox.prefix.clone();
    let dir = std::env::temp_dir().join(format!("{lab}-labs"));
    let store = StateStore::new(&dir);
    let file = |links: &str| {
        let text = format!(
            "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    b: {{kind: linux}}\n    \
             g: {{kind: linux, pipework: {{guest: {g}}}}}\n    br1: {{kind: bridge}}\n  links:\n{links}\
             pipework:\n  tunnels: [{{bridge: br1, vni: 71, remotes: [192.0.2.7, 192.0.2.8]}}]\n"
        );
        topology::Topology::parse(&text, "sweep.clab.yml").unwrap()
    };
    // With a gateway and a route, an end in the host, a macvlan on a "physical" parent, and
    // a tunnel on the bridge node.
    physical(&host, "nic0");
    let common = "    - endpoints: [\"a:eth1\", \"b:eth1\"]\n      mtu: 1400\n      \
                  pipework: {endpoints: [{addresses: [10.70.0.1/30, 2001:db8:70::1/64], gateway: 10.70.0.2}, \
                  {addresses: [10.70.0.2/30], routes: [{dst: 10.79.0.0/16, via: 10.70.0.1}]}]}\n    \
                  - endpoints: [\"g:eth1\", \"br1:pg1\"]\n      \
                  pipework: {endpoints: [{addresses: [10.71.0.3/24]}]}\n    \
                  - endpoints: [\"host:pah3\", \"a:eth3\"]\n      \
                  pipework: {endpoints: [{addresses: [10.72.0.1/30]}, {addresses: [10.72.0.2/30]}]}\n    \
                  - endpoints: [\"b:eth4\", \"macvlan:nic0\"]\n      \
                  pipework: {endpoints: [{addresses: [10.73.0.2/24]}]}\n";
    let first = file(&format!("{common}    - endpoints: [\"a:eth2\", \"br1:pa2\"]\n"));
    let changed = file(&format!("{common}    - endpoints: [\"b:eth2\", \"br1:pb2\"]\n"));
    let hostname = sandbox.host_name();
    let snap = || {
        settle_namespace_ids(&hostname);
        let present = lab_namespaces(&lab);
        let mut namespaces = vec![hostname.as_str(), g.as_str()];
        namespaces.extend(present.iter().map(String::as_str));
        format!("{present:?}\n{}", snapshot(&sandbox, &namespaces, &dir))
    };
    /// Destroys the lab whatever the test did.
    struct Destroyed<'a>(&'a Handle, &'a str, &'a StateStore);
    impl Drop for Destroyed<'_> {
        fn drop(&mut self) {
            let _ = topology::destroy(self.0, self.1, self.2);
        }
    }
    let _destroyed = Destroyed(&host, &lab, &store);
    let apply = |topology: &topology::Topology| {
        topology::apply(&host, topology, &store).map(|_| None).map_err(|e| e.to_string())
    };
    let fresh = sweep("a topology apply", &snap, &|| apply(&first), &|| {
        topology::destroy(&host, &lab, &store).unwrap();
    });
    // The reconcile: one link removed, one added, from the lab the first file made.
    topology::apply(&host, &first, &store).unwrap();
    let present = lab_namespaces(&lab);
    let lab_nodes: Vec<&str> = present.iter().map(String::as_str).collect();
    number_namespaces(&hostname, &lab_nodes);
    // An IPv6 address's local route appears once duplicate address detection is done.
    for ns in &lab_nodes {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while json("ip", ns, &["-6", "addr", "show", "tentative"]) != Value::Array(vec![])
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    // After a reconcile that succeeded, applying the first file again makes link a -- br1
    // anew, with new random MACs: the undo gives it back the ones it had.
    let a = topology::namespace_name(&lab, "a");
    let mac_of = |ns: &str, ifname: &str| {
        json("ip", ns, &["link", "show", ifname])[0]["address"].as_str().unwrap().to_string()
    };
    let macs = [(hostname.clone(), "pa2"), (a.clone(), "eth2")]
        .map(|(ns, ifname)| (mac_of(&ns, ifname), ns, ifname));
    let reconcile = sweep("a topology reconcile", &snap, &|| apply(&changed), &|| {
        topology::apply(&host, &first, &store).unwrap();
        for (mac, ns, ifname) in &macs {
            let set = Command::new("ip")
                .args(["-n", ns, "link", "set", "dev", ifname, "address", mac])
                .status();
            assert!(set.unwrap().success(), "ip link set {ifname} address {mac}");
        }
    });
    drop(_destroyed);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "topology: {fresh} injected failures in an apply, {reconcile} in a reconcile, each undone completely"
    );
    assert!(fresh > 10 && reconcile > 5, "{fresh}, {reconcile}");
}

#[path = "../../examples/support/dhcp_lan.rs"]
mod dhcp_lan;
#[path = "../../examples/support/sandbox.rs"]
mod sandbox;

mod tier_dhcp {
    use std::{path::Path, time::Duration};

    use pipework_core::{AttachPlan, Handle, attach, dhcp::DhcpSpec};

    use super::{Sandbox, dhcp_lan::DhcpLan, number_namespaces, snapshot, sweep};

    #[test]
    #[ignore = "needs root and dnsmasq; scripts/tier-dhcp.sh runs it"]
    fn every_step_of_a_dhcp_attach_fails_cleanly_and_the_lease_goes_back() {
        let prefix = format!("pwf{}d", std::process::id());
        let mut lan = DhcpLan::start(&prefix).expect("the LAN and its DHCP server");
        let guest = lan.guest("g").expect("a guest");
        let (host_ns, g) = (format!("{prefix}-host"), format!("{prefix}-g"));
        number_namespaces(&host_ns, &[&g]);
        // A sandbox of its own, for its `ip -j` readers, which look at the LAN's namespaces.
        let reader = Sandbox::new();
        let none = Path::new("/nonexistent/pipework-records");
        let snap = || {
            // A released lease leaves the server's file within moments.
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while !lan.leases().trim().is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            snapshot(&reader, &[&host_ns, &g], none) + &lan.leases()
        };
        let mut spec = DhcpSpec::parse("dhcp").unwrap().expect("a DHCP word");
        spec.config = spec.config.timeout(Duration::from_secs(10));
        let plan = AttachPlan::bridge("br-lan").dhcp(spec);
        let made = std::cell::RefCell::new(None);
        let guest_handle = Handle::new(&guest.namespace).unwrap();
        let steps = sweep(
            "a DHCP attach",
            &snap,
            &|| {
                let attachment = attach(&lan.host, &guest, &plan).map_err(|e| e.to_string())?;
                let warnings = attachment.warnings.clone();
                *made.borrow_mut() = Some(attachment);
                Ok(Some(warnings))
            },
            &|| made.take().unwrap().detach(&lan.host, Some(&guest_handle)).unwrap(),
        );
        eprintln!("DHCP attach: {steps} injected failures, each undone completely");
        assert!(steps >= 5, "{steps}");
    }
}

mod tier_vm {
    use std::process::Command;

    use pipework_core::{AttachPlan, Handle, StateStore, attach, topology};
    use serde_json::Value;

    use super::{
        Path, Sandbox, lab_namespaces, net, number_namespaces, settle_namespace_ids, snapshot,
        sweep,
    };

    /// What OVSDB holds, by name: bridges, ports with their tags, interfaces with their types,
    /// and the external ids of each, every table's rows sorted (their order follows UUIDs); one
    /// `ovs-vsctl` for all three tables, as a process is slow to start in an emulated VM.
    fn ovsdb_rows() -> String {
        let mut command = Command::new("ovs-vsctl");
        command.arg("--format=json");
        let tables = [
            ("Bridge", "name,external_ids"),
            ("Port", "name,tag,external_ids"),
            ("Interface", "name,type,external_ids"),
        ];
        for (n, (table, columns)) in tables.iter().enumerate() {
            if n > 0 {
                command.arg("--");
            }
            command.args([&format!("--columns={columns}"), "list", table]);
        }
        let output = command.output().expect("run ovs-vsctl");
        assert!(output.status.success(), "{command:?}");
        let mut all = String::new();
        let listed = serde_json::Deserializer::from_slice(&output.stdout).into_iter::<Value>();
        for (listed, (table, _)) in listed.zip(tables) {
            let listed = listed.unwrap();
            let mut rows: Vec<String> =
                listed["data"].as_array().unwrap().iter().map(Value::to_string).collect();
            rows.sort();
            all += &format!("{table}: {}\n", rows.join("\n"));
        }
        all
    }

    /// The OVS sweeps run one at a time: each compares all of OVSDB (one database for the whole
    /// VM) and gives the VM's root namespace a name of its own, which can have only one.
    static OVS_SWEEPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The VM's root namespace under a name of its own in /run/netns (`ip netns attach`), for
    /// the `ip -n` readers; the name goes on drop, the namespace stays.
    struct RootName(String);

    impl RootName {
        fn new(prefix: &str) -> Self {
            let name = format!("{prefix}-root");
            let attached = Command::new("ip").args(["netns", "attach", &name, "1"]).status();
            assert!(attached.unwrap().success(), "ip netns attach {name} 1");
            RootName(name)
        }
    }

    impl Drop for RootName {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
        }
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn every_step_and_ovsdb_transaction_of_an_ovs_attach_fails_cleanly() {
        let _one_at_a_time = OVS_SWEEPS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut sandbox = Sandbox::new();
        // ovs-vswitchd runs in the VM's root namespace, so the host side is there.
        let root = Handle::current().unwrap();
        let root_name = RootName::new(&sandbox.prefix);
        let g = sandbox.add_guest("g");
        let guest = sandbox.guest(&g);
        let guest_handle = Handle::new(&guest.namespace).unwrap();
        number_namespaces(&root_name.0, &[&g]);
        let bridge = format!("ovsf{}", std::process::id() % 100_000);
        let none = Path::new("/nonexistent/pipework-records");
        let snap = || snapshot(&sandbox, &[&root_name.0, &g], none) + &ovsdb_rows();
        // A new bridge: its creation, the port's and the guest's configuration all fail in turn
        // (the port added to an existing bridge is the same code, after the bridge is found).
        let plan = AttachPlan::ovs_bridge(&bridge).address(net("10.95.0.2/24")).vlan(10);
        let made = std::cell::RefCell::new(None);
        let injected = sweep(
            "an attach to a new OVS bridge",
            &snap,
            &|| {
                let attachment = attach(&root, &guest, &plan).map_err(|e| e.to_string())?;
                let warnings = attachment.warnings.clone();
                *made.borrow_mut() = Some(attachment);
                Ok(Some(warnings))
            },
            &|| made.take().unwrap().detach(&root, Some(&guest_handle)).unwrap(),
        );
        assert!(injected >= 10, "only {injected} steps failed in turn");
        eprintln!(
            "OVS: {injected} injected failures (netlink, namespace, OVSDB), each undone completely"
        );
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn every_step_and_ovsdb_transaction_of_a_topology_apply_with_an_ovs_bridge_fails_cleanly() {
        let _one_at_a_time = OVS_SWEEPS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sandbox = Sandbox::new();
        let root = Handle::current().unwrap();
        let root_name = RootName::new(&sandbox.prefix);
        let lab = sandbox.prefix.clone();
        let bridge = format!("ovst{}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(format!("{lab}-labs"));
        let store = StateStore::new(&dir);
        let text = format!(
            "name: {lab}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    {bridge}: {{kind: ovs-bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"{bridge}:{bridge}a\"]\n      pipework: {{endpoints: [{{addresses: [10.96.0.2/24]}}, {{vlan: 10}}]}}\n"
        );
        let file = topology::Topology::parse(&text, "ovs-sweep.clab.yml").unwrap();
        let snap = || {
            settle_namespace_ids(&root_name.0);
            let present = lab_namespaces(&lab);
            let mut namespaces = vec![root_name.0.as_str()];
            namespaces.extend(present.iter().map(String::as_str));
            format!("{present:?}\n{}{}", snapshot(&sandbox, &namespaces, &dir), ovsdb_rows())
        };
        let injected = sweep(
            "a topology apply with a new OVS bridge",
            &snap,
            &|| topology::apply(&root, &file, &store).map(|_| None).map_err(|e| e.to_string()),
            &|| drop(topology::destroy(&root, &lab, &store).unwrap()),
        );
        let _ = topology::destroy(&root, &lab, &store);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(injected >= 10, "only {injected} steps failed in turn");
        eprintln!("OVS topology: {injected} injected failures, each undone completely");
    }
}
