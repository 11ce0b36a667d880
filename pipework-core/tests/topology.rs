//! Topologies on the real kernel: a lab's namespaces, bridges and links made from a
//! containerlab file in a private host namespace, pinged across every link, applied again,
//! changed, failed half-way and destroyed, checked with `ip -j` and `ip netns list`.

mod common;

use std::{
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

use common::Sandbox;
use nix::errno::Errno;
use pipework_core::{
    Handle, StateStore,
    error::Op,
    fault::Faults,
    topology::{self, Step, Topology},
};

static LABS: AtomicU32 = AtomicU32::new(0);

/// A unique lab in a private host namespace with its own state directory; destroyed (and its
/// namespaces deleted) on drop, whatever the test did.
struct Lab {
    sandbox: Sandbox,
    name: String,
    store: StateStore,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Self {
        let sandbox = Sandbox::new();
        let name = format!("t{}x{}", std::process::id(), LABS.fetch_add(1, Ordering::SeqCst));
        let dir = std::env::temp_dir().join(format!("{name}-state"));
        Lab { sandbox, store: StateStore::new(&dir), dir, name }
    }

    fn host(&self) -> Handle {
        self.sandbox.host_handle()
    }

    /// The lab file with `links` (YAML lines) under the triangle's nodes.
    fn file(&self, links: &str) -> Topology {
        let text = format!(
            "name: {}\ntopology:\n  nodes:\n    a: {{kind: linux, image: alpine:3}}\n    b: {{kind: linux}}\n    c: {{kind: linux}}\n    br1: {{kind: bridge}}\n  links:\n{links}",
            self.name
        );
        Topology::parse(&text, "test.clab.yml").unwrap()
    }

    fn netns(&self, node: &str) -> String {
        topology::namespace_name(&self.name, node)
    }

    fn lab_namespaces(&self) -> Vec<String> {
        common::lab_namespaces(&self.name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = topology::destroy(&self.host(), &self.name, &self.store);
        for ns in self.lab_namespaces() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The triangle a-b-c with a /30 on each link, and a and b on bridge br1 (10.9.0.0/24).
const TRIANGLE: &str = r#"    - endpoints: ["a:eth1", "b:eth1"]
      pipework: {endpoints: [{addresses: [10.1.0.1/30]}, {addresses: [10.1.0.2/30]}]}
    - endpoints: ["b:eth2", "c:eth1"]
      pipework: {endpoints: [{addresses: [10.2.0.1/30]}, {addresses: [10.2.0.2/30]}]}
    - endpoints: ["c:eth2", "a:eth2"]
      mtu: 1400
      pipework: {endpoints: [{addresses: [10.3.0.1/30]}, {addresses: [10.3.0.2/30]}]}
    - endpoints: ["a:eth3", "br1:pa3"]
      pipework: {endpoints: [{addresses: [10.9.0.1/24]}]}
    - endpoints: ["br1:pb3", "b:eth3"]
      pipework: {endpoints: [{}, {addresses: [10.9.0.2/24]}]}
"#;

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_triangle_and_a_bridge_ping_across_every_link_apply_again_changes_nothing_destroy_leaves_nothing()
 {
    let lab = Lab::new();
    let host = lab.host();
    let before = lab.sandbox.state(&lab.sandbox.host_name());
    let file = lab.file(TRIANGLE);
    let diff = topology::plan(&host, &file, &lab.store).unwrap();
    assert!(lab.lab_namespaces().is_empty(), "diff changes nothing");
    let applied = topology::apply(&host, &file, &lab.store).expect("apply");
    assert_eq!(applied, diff, "apply does what diff said");
    assert_eq!(lab.lab_namespaces().len(), 3);
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    for (from, to) in [(&a, "10.1.0.2"), (&b, "10.2.0.2"), (&c, "10.3.0.2"), (&a, "10.9.0.2")] {
        assert!(lab.sandbox.ping(from, to), "{from} -> {to}");
    }
    assert_eq!(lab.sandbox.ip_json(&c, &["link", "show", "eth2"])[0]["mtu"], 1400);
    let port = &lab.sandbox.ip_json(&lab.sandbox.host_name(), &["link", "show", "pa3"])[0];
    assert_eq!(port["master"], "br1");
    // Again: nothing to do, nothing touched.
    let states = |lab: &Lab| {
        [&a, &b, &c].map(|ns| lab.sandbox.state(ns)).join("\n")
            + &lab.sandbox.state(&lab.sandbox.host_name())
    };
    let settled = states(&lab);
    let again = topology::apply(&host, &file, &lab.store).unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    assert_eq!(states(&lab), settled);
    // From another process, by its name: everything goes.
    let destroyed = topology::destroy(&host, &lab.name, &lab.store).unwrap();
    assert!(destroyed.steps.iter().any(|s| matches!(s, Step::DeleteBridge { .. })));
    assert!(lab.lab_namespaces().is_empty());
    assert_eq!(lab.sandbox.state(&lab.sandbox.host_name()), before, "bridge and ports gone");
    assert!(!lab.dir.join("labs").join(format!("{}.json", lab.name)).exists());
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_changed_file_reconciles_one_link_added_one_removed_nothing_else_touched() {
    let lab = Lab::new();
    let host = lab.host();
    topology::apply(&host, &lab.file(TRIANGLE), &lab.store).unwrap();
    let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
    let index = |ns: &str, ifname: &str| {
        lab.sandbox.ip_json(ns, &["link", "show", ifname])[0]["ifindex"].clone()
    };
    let kept = (index(&a, "eth1"), index(&a, "eth3"));
    // b-c goes, a-b gets a second link.
    let changed = TRIANGLE.replace(
        r#"    - endpoints: ["b:eth2", "c:eth1"]
      pipework: {endpoints: [{addresses: [10.2.0.1/30]}, {addresses: [10.2.0.2/30]}]}
"#,
        r#"    - endpoints: ["a:eth4", "b:eth4"]
      pipework: {endpoints: [{addresses: [10.4.0.1/30]}, {addresses: [10.4.0.2/30]}]}
"#,
    );
    let plan = topology::apply(&host, &lab.file(&changed), &lab.store).unwrap();
    let steps: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    assert_eq!(steps, ["remove link b:eth2 -- c:eth1", "add link a:eth4 -- b:eth4"]);
    assert!(lab.sandbox.ping(&a, "10.4.0.2"), "the new link");
    assert!(!lab.sandbox.link_names(&c).contains(&"eth1".to_string()), "the removed link");
    assert_eq!(index(&a, "eth1"), kept.0, "a-b untouched");
    assert!(!lab.sandbox.link_names(&b).contains(&"eth2".to_string()), "b:eth2 went with it");
    assert_eq!(index(&a, "eth3"), kept.1, "the bridge port untouched");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_failure_half_way_undoes_the_whole_apply() {
    let lab = Lab::new();
    let host = lab.host();
    let before = (lab.sandbox.state(&lab.sandbox.host_name()), lab.lab_namespaces());
    // The fourth link's veth fails: three namespaces, the bridge and three links were made.
    let armed = Faults::new().fail(Op::LinkAdd, 5, Errno::EIO).arm();
    let err = topology::apply(&host, &lab.file(TRIANGLE), &lab.store).unwrap_err();
    drop(armed);
    let text = err.to_string();
    assert!(text.contains("add link") && text.contains("Input/output error"), "{text}");
    assert_eq!((lab.sandbox.state(&lab.sandbox.host_name()), lab.lab_namespaces()), before);
    assert!(!lab.dir.join("labs").join(format!("{}.json", lab.name)).exists(), "no record");
    // The same file then applies in full.
    topology::apply(&host, &lab.file(TRIANGLE), &lab.store).unwrap();
    assert!(lab.sandbox.ping(&lab.netns("a"), "10.1.0.2"));
}

/// Applies one of the containerlab example labs in `tests/labs` under this test's unique lab
/// name, checks every ping in `pings` (node, destination) and every address with `ip -j`, applies
/// again (no step), destroys, and checks that nothing of it is left.
fn example_lab(file: &str, pings: &[(&str, &str)]) {
    let lab = Lab::new();
    let host = lab.host();
    let before = lab.sandbox.state(&lab.sandbox.host_name());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/labs").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let original = Topology::parse(&text, file).expect("the file reads as it is");
    let text =
        text.replacen(&format!("name: {}\n", original.name), &format!("name: {}\n", lab.name), 1);
    let topology = Topology::parse(&text, file).unwrap();
    assert_eq!(topology.name, lab.name);
    topology::apply(&host, &topology, &lab.store).expect("apply");
    let namespaces = topology.nodes.keys().filter_map(|node| topology.netns_of(node)).count();
    assert_eq!(lab.lab_namespaces().len(), namespaces);
    for link in &topology.links {
        for end in &link.ends {
            let ns = topology
                .netns_of(&end.node)
                .map_or_else(|| lab.sandbox.host_name(), str::to_string);
            let shown = lab.sandbox.ip_json(&ns, &["link", "show", &end.ifname]);
            let flags = shown[0]["flags"].as_array().unwrap();
            assert!(flags.iter().any(|flag| flag == "UP"), "{}:{} is up", end.node, end.ifname);
            if let Some(mtu) = link.mtu {
                assert_eq!(shown[0]["mtu"], mtu, "{}", link.key());
            }
            let mut found = lab.sandbox.global_addresses(&ns, &end.ifname);
            let mut wanted: Vec<String> = end.addresses.iter().map(ToString::to_string).collect();
            found.sort();
            wanted.sort();
            assert_eq!(found, wanted, "{}:{}", end.node, end.ifname);
        }
    }
    for (node, destination) in pings {
        assert!(lab.sandbox.ping(&lab.netns(node), destination), "{node} -> {destination}");
    }
    let again = topology::apply(&host, &topology, &lab.store).unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    topology::destroy(&host, &lab.name, &lab.store).unwrap();
    assert!(lab.lab_namespaces().is_empty());
    assert_eq!(lab.sandbox.state(&lab.sandbox.host_name()), before, "nothing left in the host");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn containerlab_frr01_three_routers_and_three_pcs_ping_across_every_link() {
    example_lab(
        "frr01.clab.yml",
        &[
            ("router1", "10.0.1.2"),
            ("router1", "10.0.2.2"),
            ("router2", "10.0.3.2"),
            ("PC1", "192.168.11.1"),
            ("PC2", "192.168.12.1"),
            ("PC3", "192.168.13.1"),
        ],
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn containerlab_clos01_leaves_spine_and_clients_ping_across_every_link() {
    example_lab(
        "clos01.clab.yml",
        &[
            ("leaf1", "10.1.1.0"),
            ("leaf2", "10.1.2.0"),
            ("client1", "172.17.1.1"),
            ("client2", "172.17.2.1"),
        ],
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn containerlab_br01_three_nodes_on_one_bridge_ping_each_other() {
    example_lab(
        "br01.clab.yml",
        &[("srl1", "192.168.0.2"), ("srl2", "192.168.0.3"), ("srl3", "192.168.0.1")],
    );
}

/// a -- r -- b routed (a's default route and b's route back through r), a's host end on no
/// bridge (`host:IF`), and b and r on one parent through macvlans (`macvlan:PARENT`).
const ROUTED: &str = r#"    - endpoints: ["a:eth1", "r:eth1"]
      pipework: {endpoints: [{addresses: [10.11.0.1/30], gateway: 10.11.0.2}, {addresses: [10.11.0.2/30]}]}
    - endpoints: ["r:eth2", "b:eth1"]
      pipework:
        endpoints:
          - {addresses: [10.12.0.1/30]}
          - {addresses: [10.12.0.2/30], routes: [{dst: 10.11.0.0/30, via: 10.12.0.1}]}
    - endpoints: ["host:pwa2", "a:eth2"]
      pipework: {endpoints: [{addresses: [10.13.0.1/30], mac: "02:00:00:00:13:01"}, {addresses: [10.13.0.2/30]}]}
    - endpoints: ["b:eth3", "macvlan:nic0"]
      pipework: {endpoints: [{addresses: [10.14.0.2/24]}]}
    - endpoints: ["macvlan:nic0", "r:eth3"]
      mtu: 1400
      pipework: {endpoints: [{}, {addresses: [10.14.0.3/24], mac: "02:00:00:00:14:03"}]}
"#;

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn routes_a_host_end_and_macvlans_reach_across_the_lab_and_go_with_it() {
    let lab = Lab::new();
    let host = lab.host();
    // The macvlans' "physical" parent: one end of a veth pair whose other end stays in the host.
    let hostname = lab.sandbox.host_name();
    let made = Command::new("ip")
        .args(["-n", &hostname, "link", "add", "nic0", "up", "type", "veth", "peer", "nic0w"])
        .status();
    assert!(made.unwrap().success());
    host.link_set_up("nic0w").unwrap();
    let before = lab.sandbox.state(&hostname);
    let text = format!(
        "name: {}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    b: {{kind: linux}}\n    r: {{kind: linux}}\n  links:\n{ROUTED}",
        lab.name
    );
    let file = Topology::parse(&text, "routed.clab.yml").unwrap();
    topology::apply(&host, &file, &lab.store).expect("apply");
    let (a, b, r) = (lab.netns("a"), lab.netns("b"), lab.netns("r"));
    let forwarding = Command::new("ip")
        .args(["netns", "exec", &r, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .status();
    assert!(forwarding.unwrap().success());
    let routes = lab.sandbox.ip_json(&a, &["route", "show", "default"]);
    assert_eq!((&routes[0]["gateway"], &routes[0]["dev"]), (&"10.11.0.2".into(), &"eth1".into()));
    let routes = lab.sandbox.ip_json(&b, &["route", "show", "10.11.0.0/30"]);
    assert_eq!((&routes[0]["gateway"], &routes[0]["dev"]), (&"10.12.0.1".into(), &"eth1".into()));
    assert!(lab.sandbox.ping(&a, "10.12.0.2"), "a reaches b through r");
    // The host end: a veth of that name in the host, on no bridge.
    let shown = &lab.sandbox.ip_json(&hostname, &["link", "show", "pwa2"])[0];
    assert!(shown.get("master").is_none() && shown["linkinfo"]["info_kind"] == "veth", "{shown}");
    assert_eq!(shown["address"], "02:00:00:00:13:01", "the file's MAC");
    assert!(lab.sandbox.ping(&hostname, "10.13.0.2"), "the host reaches a");
    // The macvlans: children of nic0 born in b and r, in bridge mode, so they reach each other.
    for (ns, mtu) in [(&b, 1500), (&r, 1400)] {
        let child = &lab.sandbox.ip_json(ns, &["link", "show", "dev", "eth3"])[0];
        assert_eq!(child["linkinfo"]["info_kind"], "macvlan", "{child}");
        assert_eq!(child["linkinfo"]["info_data"]["mode"], "bridge", "{child}");
        assert_eq!(child["mtu"], mtu, "{child}");
    }
    let child = &lab.sandbox.ip_json(&r, &["link", "show", "dev", "eth3"])[0];
    assert_eq!(child["address"], "02:00:00:00:14:03", "the file's MAC on a macvlan child");
    assert!(lab.sandbox.ping(&b, "10.14.0.3"), "b reaches r over the macvlans");
    let again = topology::apply(&host, &file, &lab.store).unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    // A reconcile without the host end and one macvlan removes just those.
    let kept: String = ROUTED
        .split("    - ")
        .filter(|link| !link.contains("host:") && !link.contains("\"b:eth3\""))
        .collect::<Vec<_>>()
        .join("    - ");
    let text = text.replace(ROUTED, &kept);
    let fewer = Topology::parse(&text, "routed.clab.yml").unwrap();
    let plan = topology::apply(&host, &fewer, &lab.store).unwrap();
    assert_eq!(plan.steps.len(), 2, "{:?}", plan.steps);
    assert!(!lab.sandbox.link_names(&hostname).contains(&"pwa2".to_string()));
    assert!(!lab.sandbox.link_names(&b).contains(&"eth3".to_string()));
    assert!(lab.sandbox.link_names(&r).contains(&"eth3".to_string()), "the other macvlan stays");
    topology::destroy(&host, &lab.name, &lab.store).unwrap();
    assert!(lab.lab_namespaces().is_empty());
    assert_eq!(lab.sandbox.state(&hostname), before, "the parent as it was, nothing else left");
}

/// Destroys a lab on drop, whatever the test did.
struct Destroyed<'a>(&'a Handle, &'a str, &'a StateStore);

impl Drop for Destroyed<'_> {
    fn drop(&mut self) {
        let _ = topology::destroy(self.0, self.1, self.2);
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn labs_on_two_hosts_reach_each_other_through_their_tunnels_and_destroy_removes_them() {
    labs_on_two_hosts_through_tunnels_of("vxlan");
}

/// Two labs on two hosts, each with a tunnel of `kind` (vxlan, geneve) to the other, whose
/// guests ping each other through it; destroy leaves each host as before.
fn labs_on_two_hosts_through_tunnels_of(kind: &str) {
    // Two "hosts" (namespaces) with eth0 on one underlay bridge in the sandbox's host.
    let mut sandbox = Sandbox::new();
    let hosts = sandbox.underlay_hosts(&["h1", "h2"], "10.98.0");
    let labs: Vec<String> = (1..=2).map(|n| format!("t{}v{n}", std::process::id())).collect();
    let dir = std::env::temp_dir().join(format!("{}-tunnels", sandbox.prefix));
    // Removed after the labs' destroys (declared first, dropped last), which take its locks.
    let _dir = RemovedDir(dir.clone());
    let stores: Vec<StateStore> =
        (1..=2).map(|n| StateStore::new(dir.join(n.to_string()))).collect();
    let file = |n: usize| {
        let text = format!(
            "name: {}\ntopology:\n  nodes:\n    g: {{kind: linux}}\n    br1: {{kind: bridge}}\n  links:\n    - endpoints: [\"g:eth1\", \"br1:pg1\"]\n      pipework: {{endpoints: [{{addresses: [10.97.0.{n}/24]}}]}}\npipework:\n  tunnels:\n    - {{type: {kind}, bridge: br1, vni: 77, remotes: [10.98.0.{}], underlay: eth0}}\n",
            labs[n - 1],
            3 - n
        );
        Topology::parse(&text, "tunnel.clab.yml").unwrap()
    };
    let _destroyed: Vec<Destroyed> =
        (0..2).map(|i| Destroyed(&hosts[i].1, &labs[i], &stores[i])).collect();
    let before: Vec<String> = hosts.iter().map(|(name, _)| sandbox.state(name)).collect();
    for n in 1..=2 {
        let applied = topology::apply(&hosts[n - 1].1, &file(n), &stores[n - 1]).expect("apply");
        assert!(applied.steps.iter().any(|step| matches!(step, Step::AddTunnel { .. })));
    }
    let (h1, g1) = (&hosts[0].0, topology::namespace_name(&labs[0], "g"));
    let device = if kind == "vxlan" { "vx77" } else { "gnv77" };
    let vx = &sandbox.ip_json(h1, &["-d", "link", "show", device])[0];
    assert_eq!((&vx["master"], &vx["mtu"]), (&"br1".into(), &1450.into()), "{vx}");
    assert_eq!(vx["linkinfo"]["info_kind"], kind, "{vx}");
    assert_eq!(vx["linkinfo"]["info_data"]["id"], 77, "{vx}");
    if kind == "vxlan" {
        let flood = sandbox.bridge_json(h1, &["fdb", "show", "dev", "vx77"]);
        assert!(
            flood
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["mac"] == "00:00:00:00:00:00" && e["dst"] == "10.98.0.2"),
            "{flood}"
        );
    } else {
        assert_eq!(vx["linkinfo"]["info_data"]["remote"], "10.98.0.2", "{vx}");
        assert_eq!(vx["linkinfo"]["info_data"]["port"], 6081, "{vx}");
    }
    assert_eq!(
        sandbox.ip_json(&g1, &["link", "show", "eth1"])[0]["mtu"],
        1450,
        "the overlay's MTU"
    );
    assert!((0..3).any(|_| sandbox.ping(&g1, "10.97.0.2")), "across the tunnel");
    assert!(topology::apply(&hosts[0].1, &file(1), &stores[0]).unwrap().steps.is_empty());
    let status = topology::status(&hosts[0].1, &labs[0], &stores[0]).unwrap().unwrap();
    assert!(status.tunnels.len() == 1 && status.tunnels[0].present);
    for n in 1..=2 {
        let destroyed = topology::destroy(&hosts[n - 1].1, &labs[n - 1], &stores[n - 1]).unwrap();
        assert!(destroyed.steps.iter().any(|step| matches!(step, Step::RemoveTunnel { .. })));
        assert_eq!(sandbox.state(&hosts[n - 1].0), before[n - 1], "host {n} as before");
    }
}

/// A directory removed on drop.
struct RemovedDir(PathBuf);

impl Drop for RemovedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_lab_in_containerlabs_extended_link_format_gets_its_macs_and_macvlan_mode() {
    let lab = Lab::new();
    let host = lab.host();
    let hostname = lab.sandbox.host_name();
    let made = Command::new("ip")
        .args(["-n", &hostname, "link", "add", "nic1", "up", "type", "veth", "peer", "nic1w"])
        .status();
    assert!(made.unwrap().success());
    let text = format!(
        r#"name: {}
topology:
  nodes:
    a: {{kind: linux}}
    b: {{kind: linux}}
  links:
    - type: veth
      endpoints:
        - {{node: a, interface: eth1, mac: "02:00:00:00:0e:a1"}}
        - {{node: b, interface: eth1, mac: "02:00:00:00:0e:b1"}}
      pipework: {{endpoints: [{{addresses: [10.15.0.1/30]}}, {{addresses: [10.15.0.2/30]}}]}}
    - type: host
      endpoint: {{node: a, interface: eth2}}
      host-interface: pwea2
    - type: macvlan
      endpoint: {{node: b, interface: eth2, mac: "02:00:00:00:0e:b2"}}
      host-interface: nic1
      mode: vepa
"#,
        lab.name
    );
    let file = Topology::parse(&text, "extended.clab.yml").unwrap();
    topology::apply(&host, &file, &lab.store).expect("apply");
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let show = |ns: &str, ifname: &str| {
        lab.sandbox.ip_json(ns, &["link", "show", "dev", ifname])[0].clone()
    };
    assert_eq!(show(&a, "eth1")["address"], "02:00:00:00:0e:a1");
    assert_eq!(show(&b, "eth1")["address"], "02:00:00:00:0e:b1");
    assert!(lab.sandbox.ping(&a, "10.15.0.2"));
    assert_eq!(show(&hostname, "pwea2")["linkinfo"]["info_kind"], "veth");
    let macvlan = show(&b, "eth2");
    assert_eq!(macvlan["linkinfo"]["info_data"]["mode"], "vepa", "{macvlan}");
    assert_eq!(macvlan["address"], "02:00:00:00:0e:b2");
    assert!(topology::apply(&host, &file, &lab.store).unwrap().steps.is_empty());
    topology::destroy(&host, &lab.name, &lab.store).unwrap();
    assert!(!lab.sandbox.link_names(&hostname).contains(&"pwea2".to_string()));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_kernel_without_netem_refuses_impairments_clearly_and_the_apply_leaves_nothing() {
    let lab = Lab::new();
    let host = lab.host();
    let before = lab.sandbox.state(&lab.sandbox.host_name());
    let file = lab.file(
        r#"    - endpoints: ["a:eth1", "b:eth1"]
      pipework: {endpoints: [{addresses: [10.16.0.1/30], netem: {delay: 5ms}}]}
"#,
    );
    // What a kernel without sch_netem answers (this host's does; the VM tier's has it).
    let _armed = Faults::new().fail(Op::QdiscSet, 1, Errno::ENOENT).arm();
    let err = topology::apply(&host, &file, &lab.store).unwrap_err().to_string();
    assert!(err.contains("no netem queueing discipline") && err.contains("sch_netem"), "{err}");
    assert!(err.contains("add link a:eth1 -- b:eth1"), "names the step: {err}");
    assert!(lab.lab_namespaces().is_empty(), "the namespaces went again");
    assert_eq!(lab.sandbox.state(&lab.sandbox.host_name()), before);
    assert!(!lab.dir.join("labs").join(format!("{}.json", lab.name)).exists());
}

/// Topologies with what the host kernel lacks (netem, bridge VLAN filtering, Open vSwitch);
/// scripts/tier-vm.sh runs them in a VM.
mod tier_vm {
    use std::process::Command;

    use pipework_core::{
        Handle,
        topology::{self, Step, Topology},
    };

    use super::{Destroyed, Lab, common::tipc_links, labs_on_two_hosts_through_tunnels_of};

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn labs_on_two_hosts_reach_each_other_through_geneve_tunnels_and_destroy_removes_them() {
        labs_on_two_hosts_through_tunnels_of("geneve");
    }

    /// `tc -j qdisc show dev IF` in `ns`: the root qdisc, read independently of the library.
    fn root_qdisc(ns: &str, ifname: &str) -> serde_json::Value {
        let output = Command::new("ip")
            .args(["netns", "exec", ns, "tc", "-j", "qdisc", "show", "dev", ifname, "root"])
            .output()
            .expect("run tc");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        shown[0].clone()
    }

    /// The shortest round trip of three pings from `ns` to `destination`, in ms; `None` when
    /// no reply came.
    fn shortest_rtt_ms(ns: &str, destination: &str) -> Option<f64> {
        let output = Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", destination])
            .output()
            .expect("run ping");
        let text = String::from_utf8_lossy(&output.stdout);
        // "rtt min/avg/max/mdev = 70.4/70.9/71.3/0.4 ms"
        let summary = text.lines().find(|line| line.starts_with("rtt "))?;
        summary.split(" = ").nth(1)?.split('/').next()?.parse().ok()
    }

    const VLANS: &str = r#"    - endpoints: ["a:eth1", "br1:pa1"]
      pipework: {endpoints: [{addresses: [10.19.0.1/24]}, {vlan: 10}]}
    - endpoints: ["br1:pb1", "b:eth1"]
      pipework: {endpoints: [{vlan: 10}, {addresses: [10.19.0.2/24]}]}
    - endpoints: ["c:eth1", "br1:pc1"]
      pipework: {endpoints: [{addresses: [10.19.0.3/24]}, {vlan: 20}]}
"#;

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn bridge_ports_in_access_vlans_reach_their_vlan_only_and_go_with_the_lab() {
        let lab = Lab::new();
        let host = lab.host();
        let hostname = lab.sandbox.host_name();
        let before = lab.sandbox.state(&hostname);
        let file = lab.file(VLANS);
        topology::apply(&host, &file, &lab.store).expect("apply");
        let bridge = &lab.sandbox.ip_json(&hostname, &["-d", "link", "show", "br1"])[0];
        assert_eq!(bridge["linkinfo"]["info_data"]["vlan_filtering"], 1, "{bridge}");
        for (port, vid) in [("pa1", 10), ("pb1", 10), ("pc1", 20)] {
            let shown = lab.sandbox.bridge_json(&hostname, &["vlan", "show", "dev", port]);
            let vlans = &shown[0]["vlans"];
            assert_eq!(vlans.as_array().map(Vec::len), Some(1), "only its VLAN: {shown}");
            assert_eq!(vlans[0]["vlan"], vid, "{shown}");
            let flags = vlans[0]["flags"].to_string();
            assert!(flags.contains("PVID") && flags.contains("Egress Untagged"), "{shown}");
        }
        let (a, c) = (lab.netns("a"), lab.netns("c"));
        assert!((0..3).any(|_| lab.sandbox.ping(&a, "10.19.0.2")), "a reaches b in VLAN 10");
        assert!(!lab.sandbox.ping(&a, "10.19.0.3"), "a does not reach c in VLAN 20");
        assert!(!lab.sandbox.ping(&c, "10.19.0.1"), "nor c a");
        assert!(topology::apply(&host, &file, &lab.store).unwrap().steps.is_empty());
        // c moved to VLAN 10: that link is made again, and c reaches a.
        let moved = lab.file(&VLANS.replace("{vlan: 20}", "{vlan: 10}"));
        let plan = topology::apply(&host, &moved, &lab.store).unwrap();
        assert_eq!(plan.steps.len(), 2, "{:?}", plan.steps);
        assert!((0..3).any(|_| lab.sandbox.ping(&c, "10.19.0.1")), "c reaches a in VLAN 10");
        topology::destroy(&host, &lab.name, &lab.store).unwrap();
        assert!(lab.lab_namespaces().is_empty());
        assert_eq!(lab.sandbox.state(&hostname), before, "bridge and ports gone");
    }

    /// `ovs-vsctl ARGS`, the independent witness of what OVSDB holds; its output, or `None`
    /// when it fails (a bridge that does not exist).
    fn ovs_vsctl(args: &[&str]) -> Option<String> {
        let output = Command::new("ovs-vsctl").args(args).output().expect("run ovs-vsctl");
        output.status.success().then(|| String::from_utf8(output.stdout).unwrap().trim().into())
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ovs_bridge_nodes_get_their_ports_and_tags_and_go_with_the_lab() {
        let lab = Lab::new();
        // ovs-vswitchd opens ports in the VM's own namespace: the lab's host is that one.
        let root = Handle::current().unwrap();
        let (br, name) = (format!("{}o", lab.name), &lab.name);
        let links = format!(
            r#"    - endpoints: ["a:eth1", "{br}:{name}a"]
      pipework: {{endpoints: [{{addresses: [10.21.0.1/24]}}, {{vlan: 10}}]}}
    - endpoints: ["{br}:{name}b", "b:eth1"]
      pipework: {{endpoints: [{{vlan: 10}}, {{addresses: [10.21.0.2/24]}}]}}
    - endpoints: ["c:eth1", "{br}:{name}c"]
      pipework: {{endpoints: [{{addresses: [10.21.0.3/24]}}, {{vlan: 20}}]}}
"#
        );
        let text = |links: &str| {
            format!(
                "name: {name}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n    b: {{kind: linux}}\n    c: {{kind: linux}}\n    {br}: {{kind: ovs-bridge}}\n  links:\n{links}"
            )
        };
        let file = Topology::parse(&text(&links), "ovs.clab.yml").unwrap();
        let _destroyed = Destroyed(&root, name, &lab.store);
        let applied = topology::apply(&root, &file, &lab.store).expect("apply");
        assert_eq!(applied.steps[3], Step::CreateOvsBridge { name: br.clone() });
        let ports = ovs_vsctl(&["list-ports", &br]).unwrap();
        assert_eq!(ports.lines().count(), 3, "{ports}");
        for (port, tag) in [("a", "10"), ("b", "10"), ("c", "20")] {
            let port = format!("{name}{port}");
            assert_eq!(ovs_vsctl(&["get", "Port", &port, "tag"]).as_deref(), Some(tag));
        }
        let a = lab.netns("a");
        assert!((0..3).any(|_| lab.sandbox.ping(&a, "10.21.0.2")), "a reaches b in VLAN 10");
        assert!(!lab.sandbox.ping(&a, "10.21.0.3"), "a does not reach c in VLAN 20");
        assert!(topology::apply(&root, &file, &lab.store).unwrap().steps.is_empty());
        // Without c's link: its port and veth go, nothing else.
        let fewer: String = links
            .split("    - ")
            .filter(|l| !l.contains("c:eth1"))
            .collect::<Vec<_>>()
            .join("    - ");
        let plan = topology::apply(
            &root,
            &Topology::parse(&text(&fewer), "ovs.clab.yml").unwrap(),
            &lab.store,
        )
        .unwrap();
        assert_eq!(plan.steps.len(), 1, "{:?}", plan.steps);
        assert_eq!(ovs_vsctl(&["list-ports", &br]).unwrap().lines().count(), 2);
        assert!(root.link_get(format!("{name}c").as_str()).unwrap().is_none(), "veth gone");
        let destroyed = topology::destroy(&root, name, &lab.store).unwrap();
        assert!(destroyed.steps.contains(&Step::DeleteOvsBridge { name: br.clone() }));
        assert_eq!(ovs_vsctl(&["br-exists", &br]), None, "the bridge the lab made is gone");
        for port in ["a", "b"] {
            assert!(root.link_get(format!("{name}{port}").as_str()).unwrap().is_none());
        }
        assert!(lab.lab_namespaces().is_empty());
    }

    const IMPAIRED: &str = r#"    - endpoints: ["a:eth1", "b:eth1"]
      pipework:
        endpoints:
          - {addresses: [10.17.0.1/30], netem: {delay: 50ms, rate: 10000}}
          - {addresses: [10.17.0.2/30], netem: {delay: 20ms, jitter: 1ms, corruption: 0.5}}
    - endpoints: ["a:eth2", "c:eth1"]
      pipework:
        endpoints:
          - {addresses: [10.18.0.1/30], netem: {loss: 100}}
          - {addresses: [10.18.0.2/30]}
"#;

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn netem_delays_limits_and_drops_what_an_end_sends_and_goes_with_the_lab() {
        let lab = Lab::new();
        let host = lab.host();
        let hostname = lab.sandbox.host_name();
        let before = lab.sandbox.state(&hostname);
        let file = lab.file(IMPAIRED);
        topology::apply(&host, &file, &lab.store).expect("apply");
        let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
        let qdisc = root_qdisc(&a, "eth1");
        assert_eq!(qdisc["kind"], "netem", "{qdisc}");
        assert_eq!(qdisc["options"]["delay"]["delay"], 0.05, "{qdisc}");
        assert_eq!(qdisc["options"]["rate"]["rate"], 1_250_000, "10 mbit/s in bytes: {qdisc}");
        let qdisc = root_qdisc(&b, "eth1");
        assert_eq!(qdisc["options"]["delay"]["jitter"], 0.001, "{qdisc}");
        assert_eq!(qdisc["options"]["corrupt"]["corrupt"], 0.005, "{qdisc}");
        assert_eq!(root_qdisc(&c, "eth1")["kind"], "noqueue", "no netem where none is asked");
        // Both delays are on the round trip (a's 50 ms out, b's 20 ms plus or minus 1 back).
        let rtt = shortest_rtt_ms(&a, "10.17.0.2").expect("a reaches b");
        assert!(rtt >= 69.0, "round trip {rtt} ms");
        // Everything a sends on eth2 is dropped.
        assert_eq!(shortest_rtt_ms(&a, "10.18.0.2"), None, "a's requests are all lost");
        // A changed impairment makes that link again, and only that one.
        let changed = lab.file(&IMPAIRED.replace("delay: 50ms", "delay: 10ms"));
        let plan = topology::apply(&host, &changed, &lab.store).unwrap();
        assert_eq!(plan.steps.len(), 2, "{:?}", plan.steps);
        assert!(
            matches!(&plan.steps[0], Step::RemoveLink { link } if link.key() == "a:eth1 -- b:eth1")
        );
        assert_eq!(root_qdisc(&a, "eth1")["options"]["delay"]["delay"], 0.01);
        assert!(topology::apply(&host, &changed, &lab.store).unwrap().steps.is_empty());
        topology::destroy(&host, &lab.name, &lab.store).unwrap();
        assert!(lab.lab_namespaces().is_empty());
        assert_eq!(lab.sandbox.state(&hostname), before);
    }

    /// `tipc bearer list` in `ns`.
    fn tipc_bearers(ns: &str) -> String {
        let output = Command::new("ip")
            .args(["netns", "exec", ns, "tipc", "bearer", "list"])
            .output()
            .expect("run tipc");
        String::from_utf8(output.stdout).unwrap()
    }

    /// a, b and c on bridge br1 through their eth1.
    const ON_BR1: &str = r#"    - endpoints: ["a:eth1", "br1:pa1"]
    - endpoints: ["b:eth1", "br1:pb1"]
    - endpoints: ["c:eth1", "br1:pc1"]
"#;

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn a_tipc_bus_in_the_file_links_its_members_carries_a_message_and_members_leave_it() {
        let lab = Lab::new();
        let (host, hostname) = (lab.host(), lab.sandbox.host_name());
        let before = lab.sandbox.state(&hostname);
        let bus = |nodes: &str| {
            format!(
                "{ON_BR1}pipework:\n  tipc: {{nodes: [{nodes}], bearer: \"eth:eth1\", net_id: 4242, wait_links: 60}}\n"
            )
        };
        let file = lab.file(&bus("a, b, c"));
        let applied = topology::apply(&host, &file, &lab.store).expect("apply");
        let last = applied.steps.last().unwrap().to_string();
        assert_eq!(last, "join TIPC bus 4242 on eth:eth1 over a,b,c");
        let (a, b, c) = (lab.netns("a"), lab.netns("b"), lab.netns("c"));
        // Independently: iproute2's tipc sees two links up (and the broadcast link) in each.
        for ns in [&a, &b, &c] {
            let links = tipc_links(ns);
            assert_eq!(links.matches(": up").count(), 3, "{ns}:\n{links}");
        }
        // A real message, addressed by service name, from a to c.
        let namespace = |ns: &str| pipework_core::Namespace::from_name(ns).unwrap();
        let service = pipework_core::tipc::TipcService::new(18889, 3).unwrap();
        let listener = service.bind(&namespace(&c)).expect("bind in c");
        service.send(&namespace(&a), b"lab bus", std::time::Duration::from_secs(10)).unwrap();
        let datagram = listener.recv(std::time::Duration::from_secs(10)).expect("receive in c");
        assert_eq!(datagram.data, b"lab bus");
        let status = topology::status(&host, &lab.name, &lab.store).unwrap().unwrap();
        assert!(status.tipc.as_ref().is_some_and(|tipc| tipc.present), "{status:?}");
        // Again: nothing to do, the links as they were.
        let links_before = tipc_links(&a);
        assert!(topology::apply(&host, &file, &lab.store).unwrap().steps.is_empty());
        assert_eq!(tipc_links(&a), links_before);
        // c leaves the bus: its bearer goes, its veth stays, a and b keep their link.
        let without_c = lab.file(&bus("a, b"));
        let left = topology::apply(&host, &without_c, &lab.store).unwrap();
        let steps: Vec<String> = left.steps.iter().map(ToString::to_string).collect();
        assert_eq!(steps, ["leave TIPC bus 4242 on eth:eth1: c"]);
        assert!(!tipc_bearers(&c).contains("eth:eth1"), "{}", tipc_bearers(&c));
        assert!(tipc_bearers(&a).contains("eth:eth1"));
        assert!(tipc_links(&b).contains(": up"), "{}", tipc_links(&b));
        topology::destroy(&host, &lab.name, &lab.store).unwrap();
        assert!(lab.lab_namespaces().is_empty());
        assert_eq!(lab.sandbox.state(&hostname), before, "bridge and ports gone");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn a_tipc_bus_whose_links_never_come_up_fails_the_apply_and_nothing_is_left() {
        let lab = Lab::new();
        let (host, hostname) = (lab.host(), lab.sandbox.host_name());
        let before = lab.sandbox.state(&hostname);
        // c's eth1 is a host veth on no bridge: a and b never reach it.
        let links = ON_BR1.replace("\"br1:pc1\"", "\"host:hc1\"");
        let file = lab.file(&format!(
            "{links}pipework:\n  tipc: {{nodes: [a, b, c], bearer: \"eth:eth1\", wait_links: 3}}\n"
        ));
        let err = topology::apply(&host, &file, &lab.store).unwrap_err().to_string();
        assert!(err.contains("join TIPC bus 4711 on eth:eth1 over a,b,c"), "{err}");
        assert!(lab.lab_namespaces().is_empty(), "{:?}", lab.lab_namespaces());
        assert_eq!(lab.sandbox.state(&hostname), before, "the host as it was");
        assert_eq!(topology::status(&host, &lab.name, &lab.store).unwrap(), None, "no record");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipvlan_children_on_one_parent_share_its_mac_ping_each_other_and_go_with_the_lab() {
        let lab = Lab::new();
        let (host, hostname) = (lab.host(), lab.sandbox.host_name());
        // The "physical" parent: one end of a veth pair the test made, up.
        let made = Command::new("ip")
            .args(["-n", &hostname, "link", "add", "nic0", "up", "type", "veth", "peer", "nic0w"])
            .status();
        assert!(made.unwrap().success());
        host.link_set_up("nic0w").unwrap();
        let before = lab.sandbox.state(&hostname);
        let file = lab.file(
            r#"    - endpoints: ["a:eth1", "macvlan:nic0"]
      pipework: {ipvlan: l2, endpoints: [{addresses: [10.23.0.1/24]}]}
    - endpoints: ["macvlan:nic0", "b:eth1"]
      pipework: {ipvlan: l2, endpoints: [{}, {addresses: [10.23.0.2/24]}]}
"#,
        );
        topology::apply(&host, &file, &lab.store).expect("apply");
        let (a, b) = (lab.netns("a"), lab.netns("b"));
        let parent_mac =
            lab.sandbox.ip_json(&hostname, &["link", "show", "nic0"])[0]["address"].clone();
        for ns in [&a, &b] {
            let shown = &lab.sandbox.ip_json(ns, &["-d", "link", "show", "eth1"])[0];
            assert_eq!(shown["linkinfo"]["info_kind"], "ipvlan", "{shown}");
            assert_eq!(shown["linkinfo"]["info_data"]["mode"], "l2", "{shown}");
            assert_eq!(shown["address"], parent_mac, "the parent's MAC: {shown}");
        }
        assert!((0..3).any(|_| lab.sandbox.ping(&a, "10.23.0.2")), "a reaches b");
        assert!(topology::apply(&host, &file, &lab.store).unwrap().steps.is_empty());
        topology::destroy(&host, &lab.name, &lab.store).unwrap();
        assert!(lab.lab_namespaces().is_empty());
        assert_eq!(lab.sandbox.state(&hostname), before, "the parent as it was");
    }
}
