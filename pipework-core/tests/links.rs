//! Bridges, veth pairs, addresses and routes against the real kernel, checked with `ip -j`.

mod common;

use common::Sandbox;
use pipework_core::{Bridge, Handle, IpNet, MacAddr, Namespace, OperState, Route, Veth};

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn bridge_ensure_creates_brings_up_and_is_idempotent() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let bridge = Bridge::new("br-test").unwrap().mtu(1400);
    let first = bridge.ensure(&host).expect("create");
    assert!(first.created);
    assert!(first.link.is_bridge() && first.link.is_up());
    assert_eq!(first.link.mtu, 1400);
    let second = bridge.ensure(&host).expect("again");
    assert!(!second.created);
    assert_eq!(second.link.index, first.link.index);
    let shown = sandbox.ip_json(&sandbox.host_name(), &["link", "show", "br-test"]);
    assert_eq!(shown[0]["linkinfo"]["info_kind"], "bridge");
    assert!(shown[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
    assert_eq!(shown[0]["mtu"], 1400);
    // A down bridge is brought up.
    host.link_set_down("br-test").unwrap();
    assert!(bridge.ensure(&host).unwrap().link.is_up());
    bridge.delete(&host).expect("delete");
    assert!(host.link_get("br-test").unwrap().is_none());
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&"br-test".to_string()));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn veth_peer_is_born_in_the_guest_with_its_name_mtu_and_mac() {
    let mut sandbox = Sandbox::new();
    let guest_name = sandbox.add_guest("g");
    let guest = Namespace::from_name(&guest_name).unwrap();
    let host = sandbox.host_handle();
    let mac: MacAddr = "02:00:00:aa:bb:01".parse().unwrap();
    Veth::new("vh0", "eth7")
        .unwrap()
        .peer_namespace(&guest)
        .mtu(1450)
        .peer_mac(mac)
        .up()
        .add(&host)
        .expect("veth");
    let host_end = host.link("vh0").unwrap();
    assert_eq!(host_end.kind.as_deref(), Some("veth"));
    assert_eq!(host_end.mtu, 1450);
    assert!(host_end.is_up());
    let guest_handle = Handle::new(&guest).unwrap();
    let peer = guest_handle.link("eth7").unwrap();
    assert_eq!(peer.mac, Some(mac));
    assert_eq!(peer.mtu, 1450);
    assert_eq!(host_end.parent, Some(peer.index), "IFLA_LINK names the peer");
    assert_eq!(peer.oper_state, OperState::Down);
    // Independently: the peer is in the guest, not in the host.
    let shown = sandbox.ip_json(&guest_name, &["link", "show", "eth7"]);
    assert_eq!(shown[0]["address"], "02:00:00:aa:bb:01");
    assert_eq!(shown[0]["mtu"], 1450);
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&"eth7".to_string()));
    host.link_del("vh0").unwrap();
    assert!(guest_handle.link_get("eth7").unwrap().is_none(), "the peer goes with its pair");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn link_setters_and_readback_match_ip() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    Veth::new("va", "vb").unwrap().add(&host).unwrap();
    let bridge = Bridge::new("br-set").unwrap().ensure(&host).unwrap().link;
    host.link_set_mtu("va", 1300).unwrap();
    host.link_set_mac("va", "02:11:22:33:44:55".parse().unwrap()).unwrap();
    host.link_set_master("va", bridge.index).unwrap();
    host.link_set_up("va").unwrap();
    host.link_set_up("vb").unwrap();
    let va = host.link("va").unwrap();
    assert_eq!((va.mtu, va.master, va.is_up()), (1300, Some(bridge.index), true));
    let shown = sandbox.ip_json(&sandbox.host_name(), &["link", "show", "va"]);
    assert_eq!(shown[0]["master"], "br-set");
    assert_eq!(shown[0]["address"], "02:11:22:33:44:55");
    let ports = sandbox.bridge_json(&sandbox.host_name(), &["link", "show"]);
    assert!(
        ports.as_array().unwrap().iter().any(|p| p["ifname"] == "va" && p["master"] == "br-set"),
        "{ports}"
    );
    host.link_set_nomaster("va").unwrap();
    host.link_set_down("va").unwrap();
    host.link_set_name("va", "va2").unwrap();
    let renamed = host.link("va2").unwrap();
    assert_eq!((renamed.index, renamed.master, renamed.is_up()), (va.index, None, false));
    assert!(host.link_get("va").unwrap().is_none());
    let err = host.link("nope0").unwrap_err();
    assert!(err.to_string().contains("link nope0 in netns"), "{err}");
    let all = host.links().unwrap();
    assert!(all.iter().any(|l| l.name == "va2") && all.iter().any(|l| l.name == "vb"));
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn several_addresses_of_both_families_and_routes() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    Veth::new("v4a", "v4b").unwrap().add(&host).unwrap();
    let link = host.link("v4a").unwrap();
    host.link_set_up("v4b").unwrap();
    host.link_set_up(link.index).unwrap();
    let nets: Vec<IpNet> = ["10.9.0.2/24", "10.9.1.2/24", "2001:db8:9::2/64", "2001:db8:a::2/64"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    for net in &nets {
        host.addr_add(link.index, *net).expect("addr add");
    }
    let have: Vec<IpNet> =
        host.addresses(Some(link.index)).unwrap().into_iter().map(|a| a.net).collect();
    for net in &nets {
        assert!(have.contains(net), "{net} in {have:?}");
    }
    let shown = sandbox.ip_json(&sandbox.host_name(), &["addr", "show", "v4a"]);
    let locals: Vec<&str> = shown[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["local"].as_str())
        .collect();
    for want in ["10.9.0.2", "10.9.1.2", "2001:db8:9::2", "2001:db8:a::2"] {
        assert!(locals.contains(&want), "{want} in {locals:?}");
    }
    let brd = shown[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["local"] == "10.9.0.2")
        .unwrap()["broadcast"]
        .clone();
    assert_eq!(brd, "10.9.0.255");
    // Routes: an on-link host route to an off-subnet gateway, then the default via it, both families.
    for gw in ["172.30.0.1", "2001:db8:ff::1"] {
        let gw = gw.parse().unwrap();
        host.route_add(&Route::on_link_host(gw, link.index)).expect("host route");
        host.route_add(&Route::default_via(gw, link.index)).expect("default");
    }
    let v4 = sandbox.ip_json(&sandbox.host_name(), &["route", "show", "default"]);
    assert_eq!(v4[0]["gateway"], "172.30.0.1");
    let v6 = sandbox.ip_json(&sandbox.host_name(), &["-6", "route", "show", "default"]);
    assert_eq!(v6[0]["gateway"], "2001:db8:ff::1");
    let routes = host.routes(false).unwrap();
    assert!(
        routes.iter().any(|r| r.is_default() && r.gateway == Some("172.30.0.1".parse().unwrap()))
    );
    assert!(
        routes.iter().any(|r| r.destination.to_string() == "172.30.0.1/32" && r.gateway.is_none())
    );
    host.route_del(&Route::default_via("172.30.0.1".parse().unwrap(), link.index)).unwrap();
    assert!(!host.routes(false).unwrap().iter().any(|r| r.is_default()));
    host.addr_del(link.index, nets[0]).unwrap();
    let have: Vec<IpNet> =
        host.addresses(Some(link.index)).unwrap().into_iter().map(|a| a.net).collect();
    assert!(!have.contains(&nets[0]) && have.contains(&nets[1]));
}

/// Whether a `pw-reclaim` process (a detached wait for the kernel's reclamation) is running.
fn reclaimer_alive() -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        stat.split_once(" (pw-reclaim) ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn detached_reclaim_returns_with_the_veth_unlisted_and_its_names_free() {
    let mut sandbox = Sandbox::new();
    let guest_name = sandbox.add_guest("g");
    let guest = Namespace::from_name(&guest_name).unwrap();
    let host = sandbox.host_handle().with_detached_reclaim();
    let bridge = Bridge::new("br-rc").unwrap().ensure(&host).unwrap().link;
    let host_name = sandbox.host_name();
    // The same names three times: each deletion leaves them free as it returns.
    for _ in 0..3 {
        let veth = Veth::new("vr0", "eth5").unwrap().peer_namespace(&guest).master(bridge.index);
        veth.up().add(&host).expect("veth");
        host.link_del("vr0").expect("delete");
        assert!(!sandbox.link_names(&host_name).contains(&"vr0".to_string()));
        assert!(!sandbox.link_names(&guest_name).contains(&"eth5".to_string()));
        let ports = sandbox.bridge_json(&host_name, &["link", "show"]);
        assert!(ports.as_array().unwrap().is_empty(), "the bridge still has ports: {ports}");
    }
    // The kernel's refusals come back as before: no such link, a link it cannot delete.
    let err = host.link_del("vr0").unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::ENODEV, "{err}");
    let err = host.link_del("lo").unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EOPNOTSUPP, "{err}");
    assert!(sandbox.link_names(&host_name).contains(&"lo".to_string()));
    // The detached processes end by themselves once the kernel has answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reclaimer_alive() {
        assert!(std::time::Instant::now() < deadline, "a pw-reclaim process is still running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
