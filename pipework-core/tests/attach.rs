//! The bridge attach end to end: real namespaces, real pings, `ip -j` and `bridge -j` as witnesses.

mod common;

use std::process::Command;

use common::{Sandbox, drop_net_admin_in_this_thread};
use pipework_core::{AttachPlan, AttachStatus, Guest, Handle, IpNet, MacAddr, Route, Veth, attach};

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn two_guests_on_one_bridge_ping_each_other_and_detach_cleanly() {
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let host = sandbox.host_handle();
    let plan_a = AttachPlan::bridge("br1").address(net("192.168.1.1/24"));
    let plan_b = AttachPlan::bridge("br1").address(net("192.168.1.2/24"));
    let (guest_a, guest_b) = (sandbox.guest(&a), sandbox.guest(&b));
    let att_a = attach(&host, &guest_a, &plan_a).expect("attach a");
    let att_b = attach(&host, &guest_b, &plan_b).expect("attach b");
    assert_eq!(att_a.status, AttachStatus::Created);
    assert!(att_a.bridge_created && !att_b.bridge_created);

    // Read back by the library and, independently, by iproute2.
    let eth1 = &sandbox.ip_json(&a, &["link", "show", "eth1"])[0];
    assert_eq!(eth1["operstate"], "UP");
    assert_eq!(eth1["mtu"], 1500, "inherits the bridge's MTU");
    assert_eq!(eth1["linkinfo"]["info_kind"], "veth");
    assert_eq!(sandbox.global_addresses(&a, "eth1"), ["192.168.1.1/24"]);
    assert_eq!(att_a.guest_ifindex, eth1["ifindex"].as_u64().unwrap() as u32);
    let ports = sandbox.bridge_json(&sandbox.host_name(), &["link", "show"]);
    let port_names: Vec<&str> = ports
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["master"] == "br1")
        .map(|p| p["ifname"].as_str().unwrap())
        .collect();
    assert_eq!(port_names.len(), 2, "{ports}");
    assert!(
        port_names.contains(&att_a.host_ifname.as_str())
            && port_names.contains(&att_b.host_ifname.as_str())
    );
    let host_end = &sandbox.ip_json(&sandbox.host_name(), &["link", "show", &att_a.host_ifname])[0];
    assert_eq!(host_end["operstate"], "UP");
    assert!(att_a.host_ifname.len() <= 15);

    // Real traffic, both ways, with iputils ping and with the library's own probe.
    assert!(sandbox.ping(&a, "192.168.1.2"), "a reaches b");
    assert!(sandbox.ping(&b, "192.168.1.1"), "b reaches a");
    let rtt = pipework_core::ping(
        &guest_a.namespace,
        "192.168.1.2".parse().unwrap(),
        std::time::Duration::from_secs(3),
    )
    .expect("library ping");
    assert!(rtt.as_secs() < 3);

    att_a.detach(&host, Some(&Handle::new(&guest_a.namespace).unwrap())).expect("detach a");
    assert!(!sandbox.link_names(&a).contains(&"eth1".to_string()));
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&att_a.host_ifname));
    assert!(
        sandbox.link_names(&sandbox.host_name()).contains(&"br1".to_string()),
        "b still uses br1"
    );
    assert!(!sandbox.ping(&b, "192.168.1.1"));
    att_b.detach(&host, None).expect("detach b");
    let left = sandbox.link_names(&sandbox.host_name());
    assert_eq!(left, ["lo"], "the bridge pipework created goes with its last port");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn names_mac_mtu_several_addresses_and_gateways_of_both_families() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let mac = MacAddr::parse_pipework("U:myhost.foo.com").unwrap();
    let plan = AttachPlan::bridge("br-x")
        .guest_ifname("data0")
        .host_ifname("pwhost0")
        .address(net("10.20.0.5/24"))
        .address(net("10.21.0.5/24"))
        .address(net("2001:db8:20::5/64"))
        .gateway("10.20.0.1".parse().unwrap())
        .gateway("2001:db8:20::1".parse().unwrap())
        .mac(mac)
        .mtu(1400);
    let guest = sandbox.guest(&g);
    let attachment = attach(&host, &guest, &plan).expect("attach");
    assert_eq!(attachment.mac, Some(mac));
    let link = &sandbox.ip_json(&g, &["link", "show", "data0"])[0];
    assert_eq!(link["address"], "02:72:6c:cd:9b:8d");
    assert_eq!(link["mtu"], 1400);
    assert_eq!(
        sandbox.ip_json(&sandbox.host_name(), &["link", "show", "pwhost0"])[0]["master"],
        "br-x"
    );
    let mut have = sandbox.global_addresses(&g, "data0");
    have.sort();
    assert_eq!(have, ["10.20.0.5/24", "10.21.0.5/24", "2001:db8:20::5/64"]);
    let v4 = sandbox.ip_json(&g, &["route", "show", "default"]);
    assert_eq!(
        (v4[0]["gateway"].as_str(), v4[0]["dev"].as_str()),
        (Some("10.20.0.1"), Some("data0"))
    );
    let v6 = sandbox.ip_json(&g, &["-6", "route", "show", "default"]);
    assert_eq!(v6[0]["gateway"], "2001:db8:20::1");
    assert!(attachment.routes_added.is_empty(), "on-subnet gateways need no host route");
    // JSON round trip of the record.
    let json = serde_json::to_string(&attachment).unwrap();
    let back: pipework_core::Attachment = serde_json::from_str(&json).unwrap();
    assert_eq!(back, attachment);
    back.detach(&host, None).unwrap();
    assert_eq!(sandbox.link_names(&g), ["lo"]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn off_subnet_gateways_get_an_on_link_host_route_first() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let plan = AttachPlan::bridge("br-gw")
        .address(net("10.30.0.5/24"))
        .address(net("2001:db8:30::5/64"))
        .gateway("10.99.0.1".parse().unwrap())
        .gateway("2001:db8:99::1".parse().unwrap());
    let attachment = attach(&host, &sandbox.guest(&g), &plan).expect("attach");
    let host_routes = sandbox.ip_json(&g, &["route", "show", "10.99.0.1"]);
    assert_eq!(host_routes[0]["scope"], "link");
    assert_eq!(host_routes[0]["dev"], "eth1");
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["gateway"], "10.99.0.1");
    let v6 = sandbox.ip_json(&g, &["-6", "route", "show", "2001:db8:99::1"]);
    assert_eq!(v6[0]["dev"], "eth1");
    assert_eq!(
        sandbox.ip_json(&g, &["-6", "route", "show", "default"])[0]["gateway"],
        "2001:db8:99::1"
    );
    assert_eq!(attachment.routes_added.len(), 2);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_replaced_default_route_comes_back_on_detach() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let guest = sandbox.guest(&g);
    let guest_handle = Handle::new(&guest.namespace).unwrap();
    // The guest already has a default route on another interface, like Docker's eth0.
    let host = sandbox.host_handle();
    Veth::new("pre0h", "eth0").unwrap().peer_namespace(&guest.namespace).add(&host).unwrap();
    let eth0 = guest_handle.link("eth0").unwrap();
    guest_handle.addr_add(eth0.index, net("172.17.0.2/16")).unwrap();
    guest_handle.link_set_up(eth0.index).unwrap();
    host.link_set_up("pre0h").unwrap();
    guest_handle.route_add(&Route::default_via("172.17.0.1".parse().unwrap(), eth0.index)).unwrap();
    let plan = AttachPlan::bridge("br-r")
        .address(net("10.40.0.2/24"))
        .gateway("10.40.0.1".parse().unwrap());
    let attachment = attach(&host, &guest, &plan).unwrap();
    let defaults = sandbox.ip_json(&g, &["route", "show", "default"]);
    assert_eq!(defaults.as_array().unwrap().len(), 1, "never two default routes: {defaults}");
    assert_eq!(defaults[0]["dev"], "eth1");
    assert_eq!(attachment.routes_replaced.len(), 1);
    attachment.detach(&host, Some(&guest_handle)).unwrap();
    let defaults = sandbox.ip_json(&g, &["route", "show", "default"]);
    assert_eq!(defaults[0]["gateway"], "172.17.0.1");
    assert_eq!(defaults[0]["dev"], "eth0");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn the_same_attach_twice_is_a_no_op_and_a_different_one_a_named_conflict() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let plan = AttachPlan::bridge("br-i").address(net("10.50.0.2/24"));
    let first = attach(&host, &sandbox.guest(&g), &plan).unwrap();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let second = attach(&host, &sandbox.guest(&g), &plan).expect("re-run");
    assert_eq!(second.status, AttachStatus::AlreadyAttached);
    assert_eq!(
        (second.host_ifindex, second.guest_ifindex),
        (first.host_ifindex, first.guest_ifindex)
    );
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
    let other = AttachPlan::bridge("br-i").address(net("10.50.0.3/24"));
    let err = attach(&host, &sandbox.guest(&g), &other).unwrap_err().to_string();
    assert!(
        err.contains("already attached to br-i") && err.contains("without 10.50.0.3/24"),
        "{err}"
    );
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_taken_guest_ifname_fails_and_leaves_nothing_behind() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let guest = sandbox.guest(&g);
    let host = sandbox.host_handle();
    Veth::new("taken0", "eth1").unwrap().peer_namespace(&guest.namespace).add(&host).unwrap();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let err = attach(&host, &guest, &AttachPlan::bridge("br-new").address(net("10.60.0.2/24")))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("interface eth1 in")
            && text.contains("already exists")
            && text.contains("(-i)"),
        "{text}"
    );
    assert_eq!(err.errno(), nix::errno::Errno::EEXIST);
    assert_eq!(
        before,
        (sandbox.state(&sandbox.host_name()), sandbox.state(&g)),
        "no bridge, no veth left"
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_failure_half_way_rolls_back_everything() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let guest = sandbox.guest(&g);
    let guest_handle = Handle::new(&guest.namespace).unwrap();
    guest_handle.link_set_up("lo").unwrap();
    // A route the on-link gateway route will collide with, after the veth, addresses and link-up.
    let lo = guest_handle.link("lo").unwrap();
    guest_handle.route_add(&Route::on_link_host("10.77.0.1".parse().unwrap(), lo.index)).unwrap();
    let host = sandbox.host_handle();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let plan = AttachPlan::bridge("br-rb")
        .address(net("10.70.0.2/24"))
        .gateway("10.77.0.1".parse().unwrap());
    let err = attach(&host, &guest, &plan).unwrap_err();
    assert!(err.to_string().contains("add route 10.77.0.1/32"), "{err}");
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)), "rolled back");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn guests_by_pid_and_by_path_and_without_address() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let p = sandbox.add_guest("p");
    let mut sleeper =
        Command::new("ip").args(["netns", "exec", &p, "sleep", "30"]).spawn().unwrap();
    let host = sandbox.host_handle();
    let target_ns = pipework_core::Namespace::from_name(&p).unwrap();
    let guest = loop {
        let guest = pipework_core::resolve(&sleeper.id().to_string()).unwrap();
        if guest.namespace == target_ns {
            break guest;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(guest.pid, Some(sleeper.id()));
    let by_pid =
        attach(&host, &guest, &AttachPlan::bridge("br-p").address(net("10.80.0.2/24"))).unwrap();
    assert_eq!(by_pid.host_ifname, format!("veth1pl{}", sleeper.id()), "the original's naming");
    let by_path = Guest::from_namespace(
        pipework_core::Namespace::from_path(format!("/run/netns/{g}")).unwrap(),
    );
    let bare = attach(&host, &by_path, &AttachPlan::bridge("br-p")).unwrap();
    let eth1 = &sandbox.ip_json(&g, &["addr", "show", "eth1"])[0];
    assert_eq!(eth1["operstate"], "UP");
    assert!(
        eth1["addr_info"].as_array().unwrap().iter().all(|a| a["family"] != "inet"),
        "0/0: no IPv4 address"
    );
    assert_eq!(bare.host_ifname.len(), 15, "generated from the namespace inode, hashed to fit");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn host_side_conflicts_are_named_and_change_nothing() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    Veth::new("notbr0", "notbr0p").unwrap().add(&host).unwrap();
    Veth::new("busy0", "busy0p").unwrap().up().add(&host).unwrap();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let err =
        attach(&host, &sandbox.guest(&g), &AttachPlan::bridge("notbr0")).unwrap_err().to_string();
    assert!(err.contains("is a veth, not a bridge"), "{err}");
    let err = attach(&host, &sandbox.guest(&g), &AttachPlan::bridge("br-h").host_ifname("busy0"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("host interface busy0 (veth, up) already exists") && err.contains("(-l)"),
        "{err}"
    );
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn without_cap_net_admin_the_error_names_the_capability() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let host_ns = sandbox.host().try_clone().unwrap();
    let guest_ns = pipework_core::Namespace::from_name(&g).unwrap();
    let err = std::thread::spawn(move || {
        drop_net_admin_in_this_thread();
        let host = Handle::new(&host_ns).unwrap();
        attach(&host, &Guest::from_namespace(guest_ns), &AttachPlan::bridge("br-cap")).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(err.errno(), nix::errno::Errno::EPERM, "{err}");
    assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn bad_input_is_refused_before_anything_changes() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let base = || AttachPlan::bridge("br-bad").address(net("10.90.0.2/24"));
    let cases: Vec<(AttachPlan, &str)> = vec![
        (base().gateway("2001:db8::1".parse().unwrap()), "is IPv6 but no IPv6 address"),
        (base().guest_ifname("averyveryverylongname"), "guest ifname"),
        (base().guest_ifname("eth 1"), "contains ' '"),
        (base().host_ifname("a/b"), "host ifname"),
        (AttachPlan::bridge("bridge-name-too-long"), "bridge name"),
        (base().mac(MacAddr::new([1, 0, 0x5e, 0, 0, 1])), "unicast"),
        (base().mtu(20), "mtu"),
        (base().address(net("0.0.0.0/0")), "0/0"),
        (base().address(net("10.90.0.2/24")), "given twice"),
        (
            base().gateway("10.90.0.1".parse().unwrap()).gateway("10.90.0.254".parse().unwrap()),
            "one per family",
        ),
    ];
    for (plan, why) in cases {
        let err = attach(&host, &sandbox.guest(&g), &plan).unwrap_err();
        assert_eq!(err.errno(), nix::errno::Errno::EINVAL, "{err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
    assert_eq!(before, (sandbox.state(&sandbox.host_name()), sandbox.state(&g)));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn guests_attached_and_detached_from_several_threads_at_once_share_one_bridge() {
    const GUESTS: usize = 6;
    let mut sandbox = Sandbox::new();
    let names: Vec<String> = (0..GUESTS).map(|i| sandbox.add_guest(&format!("c{i}"))).collect();
    let host = sandbox.host_handle();
    let guests: Vec<Guest> = names.iter().map(|name| sandbox.guest(name)).collect();
    let attachments: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = guests
            .iter()
            .enumerate()
            .map(|(i, guest)| {
                let host = &host;
                scope.spawn(move || {
                    let plan =
                        AttachPlan::bridge("br1").address(net(&format!("10.5.0.{}/24", i + 1)));
                    attach(host, guest, &plan).expect("a concurrent attach")
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("attach thread")).collect()
    });
    assert_eq!(attachments.iter().filter(|a| a.bridge_created).count(), 1);
    let ports = sandbox.ip_json(&sandbox.host_name(), &["link", "show", "master", "br1"]);
    assert_eq!(ports.as_array().map(Vec::len), Some(GUESTS), "{ports}");
    // Every detach may find the bridge unused and remove it: only one can, and none fails.
    std::thread::scope(|scope| {
        for attachment in &attachments {
            let host = &host;
            scope.spawn(move || attachment.detach(host, None).expect("a concurrent detach"));
        }
    });
    assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo"]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_guest_that_is_the_hosts_own_namespace_is_refused_unless_allowed() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    // The host namespace by its name: what `pipework br1 1 ...` or a --net=host container is.
    let same = sandbox.guest(&sandbox.host_name());
    let plan = AttachPlan::bridge("brh")
        .address(net("10.70.0.2/24"))
        .gateway("10.70.0.1".parse().unwrap());
    let before = sandbox.state(&sandbox.host_name());
    let err = attach(&host, &same, &plan).expect_err("the host's own namespace is no guest");
    assert!(matches!(err, pipework_core::Error::Conflict { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the host's own network namespace")
            && text.contains("--allow-host-namespace"),
        "{text}"
    );
    assert_eq!(sandbox.state(&sandbox.host_name()), before, "nothing was created in the host");
    // Asked for explicitly, it is done, and undone.
    let allowed = plan.allow_host_namespace(true);
    let attachment = attach(&host, &same, &allowed).expect("allowed explicitly");
    assert_eq!(sandbox.global_addresses(&sandbox.host_name(), "eth1"), ["10.70.0.2/24"]);
    attachment.detach(&host, Some(&host)).expect("detach");
    assert_eq!(sandbox.state(&sandbox.host_name()), before);
}
