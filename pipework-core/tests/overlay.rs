//! VXLAN overlays across "hosts": three namespaces on one underlay bridge, each with a guest on
//! an overlay bridge, reaching each other through tunnels with head-end replication.

mod common;

use common::Sandbox;
use pipework_core::{AttachPlan, Attachment, Handle, VxlanUplink, attach};
use serde_json::Value;

/// Three hosts on the underlay: their namespace names, handles and underlay addresses.
struct Hosts {
    names: Vec<String>,
    handles: Vec<Handle>,
    addresses: Vec<String>,
}

/// Hosts `a`, `b`, `c`, each with `eth0` on the sandbox's underlay bridge as 10.99.0.N/24.
fn three_hosts(sandbox: &mut Sandbox) -> Hosts {
    let mut hosts = Hosts { names: Vec::new(), handles: Vec::new(), addresses: Vec::new() };
    for (n, (name, handle)) in
        sandbox.underlay_hosts(&["a", "b", "c"], "10.99.0").into_iter().enumerate()
    {
        hosts.names.push(name);
        hosts.handles.push(handle);
        hosts.addresses.push(format!("10.99.0.{}", n + 1));
    }
    hosts
}

/// The overlay of host `n`: VNI 42 to the two other hosts, through its eth0.
fn uplink(hosts: &Hosts, n: usize) -> VxlanUplink {
    let others: Vec<&str> =
        (0..3).filter(|&m| m != n).map(|m| hosts.addresses[m].as_str()).collect();
    VxlanUplink::parse(&format!("42@{}%eth0", others.join(","))).unwrap()
}

fn json(tool: &str, ns: &str, args: &[&str]) -> Value {
    let output = std::process::Command::new(tool).args(["-j", "-d", "-n", ns]).args(args).output();
    serde_json::from_slice(&output.unwrap().stdout).unwrap_or(Value::Array(vec![]))
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn guests_on_three_hosts_reach_each_other_across_the_overlay_and_detach_leaves_nothing() {
    let mut sandbox = Sandbox::new();
    let hosts = three_hosts(&mut sandbox);
    let before: Vec<String> = hosts.names.iter().map(|h| sandbox.state(h)).collect();
    let mut guests = Vec::new();
    let mut made: Vec<(usize, Attachment)> = Vec::new();
    for n in 0..3 {
        let g = sandbox.add_guest(&format!("g{n}"));
        let plan = AttachPlan::bridge("brov")
            .address(format!("10.200.0.{}/24", n + 1).parse().unwrap())
            .vxlan(uplink(&hosts, n));
        made.push((n, attach(&hosts.handles[n], &sandbox.guest(&g), &plan).expect("attach")));
        guests.push(g);
    }
    // Host a: the tunnel on the overlay bridge, flooding to b and c; the guest's MTU lowered.
    let vx = &json("ip", &hosts.names[0], &["link", "show", "vx42"])[0];
    assert_eq!(vx["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(vx["linkinfo"]["info_data"]["id"], 42);
    assert_eq!(vx["linkinfo"]["info_data"]["port"], 4789);
    assert_eq!(vx["linkinfo"]["info_data"]["link"], "eth0");
    assert_eq!(vx["master"], "brov");
    assert_eq!(vx["mtu"], 1450, "1500 less 50 bytes of VXLAN over IPv4");
    let fdb = json("bridge", &hosts.names[0], &["fdb", "show", "dev", "vx42"]);
    let mut floods: Vec<&str> = fdb
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .filter_map(|e| e["dst"].as_str())
        .collect();
    floods.sort();
    assert_eq!(floods, ["10.99.0.2", "10.99.0.3"], "{fdb}");
    assert_eq!(json("ip", &guests[0], &["link", "show", "eth1"])[0]["mtu"], 1450);
    // Every guest reaches every other: ARP floods to both remotes, then unicast.
    for (from, to) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
        let target = format!("10.200.0.{}", to + 1);
        assert!(sandbox.ping(&guests[from], &target), "g{from} -> g{to} across the overlay");
    }
    // A second guest on host a shares the tunnel; detaching it leaves the tunnel.
    let extra = sandbox.add_guest("g3");
    let extra_plan = AttachPlan::bridge("brov")
        .address("10.200.0.4/24".parse().unwrap())
        .vxlan(uplink(&hosts, 0));
    let second = attach(&hosts.handles[0], &sandbox.guest(&extra), &extra_plan).unwrap();
    assert!(sandbox.ping(&extra, "10.200.0.2"), "the second guest on a reaches b");
    second
        .detach(&hosts.handles[0], Some(&Handle::new(&sandbox.guest(&extra).namespace).unwrap()))
        .unwrap();
    assert!(sandbox.link_names(&hosts.names[0]).contains(&"vx42".to_string()));
    assert!(sandbox.ping(&guests[0], "10.200.0.2"), "the first guest still reaches b");
    // The last guest of each host takes the tunnel, its entries and the bridge with it.
    for (n, attachment) in made {
        let guest = Handle::new(&sandbox.guest(&guests[n]).namespace).unwrap();
        attachment.detach(&hosts.handles[n], Some(&guest)).expect("detach");
    }
    let after: Vec<String> = hosts.names.iter().map(|h| sandbox.state(h)).collect();
    assert_eq!(before, after, "no tunnel, bridge or veth left on any host");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_bad_overlay_is_refused_before_anything_changes() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    for (text, why) in [
        ("42", "expected VNI@REMOTE"),
        ("0@192.0.2.1", "must be from 1 to 16777215"),
        ("42@192.0.2.1,2001:db8::1", "not in the family of the first remote"),
        ("42@239.1.1.1", "is not a unicast address"),
        ("42@192.0.2.1,192.0.2.1", "is given twice"),
        ("42@nowhere", "a remote is not an IP address"),
    ] {
        let err = VxlanUplink::parse(text).unwrap_err().to_string();
        assert!(err.contains(why), "{text}: {err}");
    }
    let uplink = VxlanUplink::parse("42@192.0.2.1").unwrap();
    let refused = [
        (AttachPlan::bridge("brx").vlan(10).vxlan(uplink.clone()), "give the bridge no VLAN"),
        (AttachPlan::dummy().vxlan(uplink.clone()), "an overlay joins a Linux bridge"),
    ];
    for (plan, why) in refused {
        let err = attach(&host, &sandbox.guest(&g), &plan).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
    // The underlay named does not exist: nothing is left of the bridge made for it.
    let missing = VxlanUplink::parse("42@192.0.2.1%nosuch0").unwrap();
    let err = attach(&host, &sandbox.guest(&g), &AttachPlan::bridge("brx").vxlan(missing))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuch0"), "{err}");
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

mod tier_vm {
    use pipework_core::{AttachPlan, Handle, VxlanUplink, attach};

    use super::{common::Sandbox, json};

    #[test]
    #[ignore = "needs the VM tier (a kernel with geneve); scripts/tier-vm.sh runs it"]
    fn guests_on_two_hosts_reach_each_other_across_a_geneve_overlay_and_detach_leaves_nothing() {
        let mut sandbox = Sandbox::new();
        let hosts = sandbox.underlay_hosts(&["a", "b"], "10.96.0");
        let before: Vec<String> = hosts.iter().map(|(name, _)| sandbox.state(name)).collect();
        let mut made = Vec::new();
        for (n, (_, handle)) in hosts.iter().enumerate() {
            let g = sandbox.add_guest(&format!("g{n}"));
            let uplink = VxlanUplink::parse_geneve(&format!("42@10.96.0.{}%eth0", 2 - n)).unwrap();
            let plan = AttachPlan::bridge("brgn")
                .address(format!("10.201.0.{}/24", n + 1).parse().unwrap())
                .vxlan(uplink);
            made.push((g.clone(), attach(handle, &sandbox.guest(&g), &plan).expect("attach")));
        }
        // Host a: the Geneve port on the bridge, to b, with the overlay's MTU; the guest's too.
        let gnv = &json("ip", &hosts[0].0, &["link", "show", "gnv42"])[0];
        assert_eq!(gnv["linkinfo"]["info_kind"], "geneve", "{gnv}");
        assert_eq!(gnv["linkinfo"]["info_data"]["id"], 42, "{gnv}");
        assert_eq!(gnv["linkinfo"]["info_data"]["remote"], "10.96.0.2", "{gnv}");
        assert_eq!(gnv["linkinfo"]["info_data"]["port"], 6081, "{gnv}");
        assert_eq!((&gnv["master"], &gnv["mtu"]), (&"brgn".into(), &1450.into()), "{gnv}");
        assert_eq!(json("ip", &made[0].0, &["link", "show", "eth1"])[0]["mtu"], 1450);
        assert!((0..3).any(|_| sandbox.ping(&made[0].0, "10.201.0.2")), "g0 -> g1 across Geneve");
        assert!(sandbox.ping(&made[1].0, "10.201.0.1"), "g1 -> g0");
        for (n, (g, attachment)) in made.into_iter().enumerate() {
            let guest = Handle::new(&sandbox.guest(&g).namespace).unwrap();
            attachment.detach(&hosts[n].1, Some(&guest)).expect("detach");
        }
        let after: Vec<String> = hosts.iter().map(|(name, _)| sandbox.state(name)).collect();
        assert_eq!(before, after, "no tunnel, bridge or veth left on either host");
    }
}
