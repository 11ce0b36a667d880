//! The link kinds the host kernel may lack (802.1Q/802.1ad VLAN, dummy, ipvlan, bridge VLAN
//! filtering, IPoIB) and the Open vSwitch client: unit checks here, kernel checks in `tier_vm`,
//! run inside Debian's kernel by scripts/tier-vm.sh.

mod common;

use pipework_core::{IpvlanMode, VlanProtocol, link::vlan_ifname};

#[test]
fn kind_options_read_as_the_cli_writes_them() {
    assert_eq!("l3".parse::<IpvlanMode>().unwrap(), IpvlanMode::L3);
    assert_eq!(VlanProtocol::default(), VlanProtocol::Dot1q);
    assert_eq!(vlan_ifname("eth0", 10), "eth0.10");
}

mod tier_vm {
    use std::process::Command;

    use nix::errno::Errno;
    use pipework_core::{
        AttachPlan, AttachStatus, Bridge, BridgeVlan, Dummy, Handle, HostKind, IpNet, IpoibChild,
        Ipvlan, IpvlanFlag, IpvlanMode, MacAddr, MacvlanMode, Namespace, Ovs, OvsPort, Veth, Vlan,
        VlanProtocol, attach, attach::detect,
    };
    use serde_json::Value;

    use super::common::Sandbox;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    /// Runs `ovs-vsctl ARGS` (the independent witness of what OVSDB holds).
    fn ovs_vsctl(args: &[&str]) -> String {
        let output = Command::new("ovs-vsctl").args(args).output().expect("run ovs-vsctl");
        assert!(
            output.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// Whether `ns` reaches `destination`: up to three pings, as an emulated CPU can be slow to
    /// answer the first. Expected failures are checked with one plain `sandbox.ping`.
    fn reaches(sandbox: &Sandbox, ns: &str, destination: &str) -> bool {
        (0..3).any(|_| sandbox.ping(ns, destination))
    }

    /// A veth pair between the sandbox's host and `guest`, both ends up: a "wire" to a guest.
    fn wire(sandbox: &Sandbox, host_end: &str, guest: &str, guest_end: &str) -> (Handle, u32) {
        let host = sandbox.host_handle();
        let guest_ns = Namespace::from_name(guest).unwrap();
        Veth::new(host_end, guest_end).unwrap().peer_namespace(&guest_ns).up().add(&host).unwrap();
        let guest_handle = Handle::new(&guest_ns).unwrap();
        let index = guest_handle.link(guest_end).unwrap().index;
        guest_handle.link_set_up(index).unwrap();
        (guest_handle, index)
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn vlan_subinterfaces_reach_their_own_vlan_only() {
        let mut sandbox = Sandbox::new();
        let far = sandbox.add_guest("far");
        let host = sandbox.host_handle();
        // A veth as the "physical" parent; its other end is a trunk port in namespace `far`.
        let (far_handle, far_trunk) = wire(&sandbox, "phys0", &far, "trunk0");
        let phys = host.link("phys0").unwrap().index;
        for (handle, parent, name, id, address) in [
            (&host, phys, "phys0.10", 10, "10.10.0.1/24"),
            (&host, phys, "phys0.20", 20, "10.20.0.1/24"),
            (&far_handle, far_trunk, "trunk0.10", 10, "10.10.0.2/24"),
            (&far_handle, far_trunk, "trunk0.30", 30, "10.20.0.2/24"),
        ] {
            Vlan::new(name, parent, id).unwrap().up().add(handle).expect("vlan");
            handle.addr_add(handle.link(name).unwrap().index, net(address)).unwrap();
        }
        let shown = &sandbox.ip_json(&sandbox.host_name(), &["link", "show", "phys0.10"])[0];
        assert_eq!(shown["linkinfo"]["info_kind"], "vlan");
        assert_eq!(shown["linkinfo"]["info_data"]["id"], 10);
        assert_eq!(shown["linkinfo"]["info_data"]["protocol"], "802.1Q");
        assert_eq!(shown["link"], "phys0");
        assert!(reaches(&sandbox, &sandbox.host_name(), "10.10.0.2"), "same VLAN: reachable");
        // Same subnet, different VLAN IDs: the frames never meet.
        assert!(!sandbox.ping(&sandbox.host_name(), "10.20.0.2"), "VLAN 20 must not reach VLAN 30");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ensure_reuses_the_same_vlan_and_names_any_other_interface_in_the_way() {
        let mut sandbox = Sandbox::new();
        let far = sandbox.add_guest("far");
        let host = sandbox.host_handle();
        wire(&sandbox, "phys1", &far, "trunk1");
        wire(&sandbox, "phys2", &far, "trunk2");
        let phys1 = host.link("phys1").unwrap().index;
        let first = Vlan::new("phys1.100", phys1, 100).unwrap().ensure(&host).unwrap();
        assert!(first.created);
        let again = Vlan::new("phys1.100", phys1, 100).unwrap().ensure(&host).unwrap();
        assert!(!again.created);
        assert_eq!(again.link.index, first.link.index);
        let read = host.vlan_get("phys1.100").unwrap().unwrap().unwrap();
        assert_eq!(
            (read.id, read.protocol, read.link.parent),
            (100, VlanProtocol::Dot1q, Some(phys1))
        );
        // Same name, other ID / protocol / parent / kind: refused, and nothing changes.
        let before = sandbox.state(&sandbox.host_name());
        let other_id = Vlan::new("phys1.100", phys1, 101).unwrap().ensure(&host).unwrap_err();
        assert!(other_id.to_string().contains("is 802.1Q VLAN 100 on phys1"), "{other_id}");
        let other_protocol = Vlan::new("phys1.100", phys1, 100)
            .unwrap()
            .protocol(VlanProtocol::Dot1ad)
            .ensure(&host)
            .unwrap_err();
        assert!(other_protocol.to_string().contains("802.1ad VLAN 100"), "{other_protocol}");
        let phys2 = host.link("phys2").unwrap().index;
        let other_parent = Vlan::new("phys1.100", phys2, 100).unwrap().ensure(&host).unwrap_err();
        assert!(other_parent.to_string().contains("on phys1"), "{other_parent}");
        let not_vlan = Vlan::new("phys2", phys1, 100).unwrap().ensure(&host).unwrap_err();
        assert!(not_vlan.to_string().contains("is a veth, not a VLAN"), "{not_vlan}");
        assert_eq!(not_vlan.errno(), Errno::EBUSY);
        assert_eq!(sandbox.state(&sandbox.host_name()), before);
        // 802.1ad, read back by the library and by iproute2.
        Vlan::new("phys2.200", phys2, 200)
            .unwrap()
            .protocol(VlanProtocol::Dot1ad)
            .add(&host)
            .unwrap();
        let qinq = host.vlan_get("phys2.200").unwrap().unwrap().unwrap();
        assert_eq!(qinq.protocol, VlanProtocol::Dot1ad);
        let shown = &sandbox.ip_json(&sandbox.host_name(), &["link", "show", "phys2.200"])[0];
        assert_eq!(shown["linkinfo"]["info_data"]["protocol"], "802.1ad");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn a_dummy_born_in_a_guest_holds_its_address() {
        let mut sandbox = Sandbox::new();
        let g = sandbox.add_guest("g");
        let guest = Handle::new(&Namespace::from_name(&g).unwrap()).unwrap();
        let mac: MacAddr = "02:00:00:00:d0:01".parse().unwrap();
        Dummy::new("dummy0").unwrap().mac(mac).mtu(9000).up().add(&guest).expect("dummy");
        let index = guest.link("dummy0").unwrap().index;
        guest.addr_add(index, net("198.51.100.7/32")).unwrap();
        guest.link_set_up("lo").unwrap(); // a guest's own addresses answer through loopback
        let shown = &sandbox.ip_json(&g, &["addr", "show", "dummy0"])[0];
        assert_eq!(shown["linkinfo"]["info_kind"], "dummy");
        assert_eq!(
            (shown["address"].as_str(), shown["mtu"].as_u64()),
            (Some("02:00:00:00:d0:01"), Some(9000))
        );
        assert_eq!(shown["addr_info"][0]["local"], "198.51.100.7");
        assert!(reaches(&sandbox, &g, "198.51.100.7"), "the guest answers on its dummy address");
    }

    /// Two ipvlan guests on one veth parent, 10.60.0.1 and 10.60.0.2; returns the sandbox and
    /// the first guest.
    fn ipvlan_pair(mode: IpvlanMode, flag: Option<IpvlanFlag>) -> (Sandbox, String) {
        let mut sandbox = Sandbox::new();
        let (a, b, far) =
            (sandbox.add_guest("a"), sandbox.add_guest("b"), sandbox.add_guest("far"));
        let host = sandbox.host_handle();
        wire(&sandbox, "parent0", &far, "uplink0");
        let parent = host.link("parent0").unwrap().index;
        for (guest, address) in [(&a, "10.60.0.1/24"), (&b, "10.60.0.2/24")] {
            let ns = Namespace::from_name(guest).unwrap();
            let mut ipvlan = Ipvlan::new("eth1", parent, mode).unwrap().namespace(&ns);
            if let Some(flag) = flag {
                ipvlan = ipvlan.flag(flag);
            }
            ipvlan.add(&host).expect("ipvlan");
            let handle = Handle::new(&ns).unwrap();
            let index = handle.link("eth1").unwrap().index;
            handle.addr_add(index, net(address)).unwrap();
            handle.link_set_up(index).unwrap();
            let shown = &sandbox.ip_json(guest, &["link", "show", "eth1"])[0];
            assert_eq!(shown["linkinfo"]["info_kind"], "ipvlan");
            assert_eq!(shown["linkinfo"]["info_data"]["mode"], mode.to_string());
        }
        (sandbox, a)
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipvlan_guests_in_l2_and_l3_reach_each_other_and_private_ones_do_not() {
        let (sandbox, a) = ipvlan_pair(IpvlanMode::L2, None);
        assert!(reaches(&sandbox, &a, "10.60.0.2"), "l2");
        let (sandbox, a) = ipvlan_pair(IpvlanMode::L3, Some(IpvlanFlag::Bridge));
        assert!(reaches(&sandbox, &a, "10.60.0.2"), "l3 bridge");
        let (sandbox, a) = ipvlan_pair(IpvlanMode::L2, Some(IpvlanFlag::Private));
        assert!(!sandbox.ping(&a, "10.60.0.2"), "l2 private");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn a_vlan_filtering_bridge_keeps_access_ports_of_different_vlans_apart() {
        let mut sandbox = Sandbox::new();
        let host = sandbox.host_handle();
        let bridge = Bridge::new("brv").unwrap().vlan_filtering().ensure(&host).unwrap().link;
        assert!(host.bridge_vlan_filtering(bridge.index).unwrap());
        let mut guests = Vec::new();
        for (label, vid, address) in
            [("a", 10, "10.70.0.1/24"), ("b", 10, "10.70.0.2/24"), ("c", 20, "10.70.0.3/24")]
        {
            let g = sandbox.add_guest(label);
            let port = format!("brv-{label}");
            let (handle, index) = wire(&sandbox, &port, &g, "eth1");
            handle.addr_add(index, net(address)).unwrap();
            let port = host.link(port.as_str()).unwrap().index;
            host.link_set_master(port, bridge.index).unwrap();
            host.bridge_vlan_del(port, 1).unwrap();
            host.bridge_vlan_add(port, BridgeVlan::access(vid)).unwrap();
            assert_eq!(host.bridge_vlans(port).unwrap(), [BridgeVlan::access(vid)]);
            guests.push(g);
        }
        let shown = sandbox.bridge_json(&sandbox.host_name(), &["vlan", "show", "dev", "brv-c"]);
        let vlans = &shown[0]["vlans"];
        assert_eq!(vlans[0]["vlan"], 20, "{shown}");
        let flags: Vec<&str> =
            vlans[0]["flags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(flags.contains(&"PVID") && flags.contains(&"Egress Untagged"), "{shown}");
        assert!(reaches(&sandbox, &guests[0], "10.70.0.2"), "same VLAN");
        assert!(!sandbox.ping(&guests[0], "10.70.0.3"), "VLAN 10 must not reach VLAN 20");
        host.bridge_set_vlan_filtering(bridge.index, false).unwrap();
        assert!(!host.bridge_vlan_filtering(bridge.index).unwrap());
        assert!(
            reaches(&sandbox, &guests[0], "10.70.0.3"),
            "without filtering, one broadcast domain"
        );
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipoib_on_a_non_infiniband_parent_gets_the_kernels_enodev() {
        let sandbox = Sandbox::new();
        let host = sandbox.host_handle();
        Veth::new("notib0", "notib1").unwrap().add(&host).unwrap();
        let parent = host.link("notib0").unwrap().index;
        let before = sandbox.state(&sandbox.host_name());
        let err = IpoibChild::new("notib0.8001", parent)
            .unwrap()
            .pkey(0x8001)
            .unwrap()
            .add(&host)
            .expect_err("a veth is no InfiniBand port");
        assert_eq!(err.errno(), Errno::ENODEV, "{err}");
        assert!(err.to_string().contains("needs an InfiniBand parent"), "{err}");
        assert_eq!(sandbox.state(&sandbox.host_name()), before);
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ovs_bridge_and_tagged_ports_as_ovsdb_records_them() {
        // ovs-vswitchd opens ports by name in its own namespace: the VM's root namespace.
        let mut sandbox = Sandbox::new();
        let ovs = Ovs::connect().expect("ovsdb-server runs in the VM tier");
        let root = Handle::current().unwrap();
        let bridge = format!("ovst{}", std::process::id() % 100_000);
        assert!(ovs.bridge_ensure(&bridge).unwrap(), "created");
        assert!(!ovs.bridge_ensure(&bridge).unwrap(), "found again");
        assert!(ovs_vsctl(&["list-br"]).lines().any(|b| b == bridge));
        // Detection asks ovsdb-server which "openvswitch" devices are bridges.
        assert_eq!(detect(&root, &bridge).unwrap().kind, HostKind::OvsBridge);
        assert_eq!(detect(&root, "ovs-system").unwrap().kind, HostKind::Physical);
        let mut guests = Vec::new();
        for (label, tag, address) in
            [("a", 10, "10.80.0.1/24"), ("b", 10, "10.80.0.2/24"), ("c", 20, "10.80.0.3/24")]
        {
            let g = sandbox.add_guest(label);
            let ns = Namespace::from_name(&g).unwrap();
            let port = format!("{bridge}{label}");
            Veth::new(&port, "eth1").unwrap().peer_namespace(&ns).up().add(&root).unwrap();
            let handle = Handle::new(&ns).unwrap();
            let index = handle.link("eth1").unwrap().index;
            handle.addr_add(index, net(address)).unwrap();
            handle.link_set_up(index).unwrap();
            let ids = [("pipework.interface", port.as_str()), ("pipework.vlan", &tag.to_string())]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let spec = OvsPort { name: port.clone(), tag: Some(tag), external_ids: ids };
            ovs.port_add(&bridge, &spec).expect("add port");
            let read = ovs.port(&port).unwrap().expect("recorded");
            assert_eq!((read.bridge.as_str(), read.tag), (bridge.as_str(), Some(tag)));
            assert_eq!(read.external_ids, spec.external_ids);
            assert!(read.ofport.is_some_and(|p| p > 0), "ovs-vswitchd opened it: {read:?}");
            assert_eq!(ovs_vsctl(&["get", "Port", &port, "tag"]), tag.to_string());
            assert_eq!(
                ovs_vsctl(&["get", "Interface", &port, "external_ids:pipework.vlan"]),
                format!("\"{tag}\"")
            );
            let err = ovs.port_add(&bridge, &spec).unwrap_err();
            assert_eq!(err.errno(), Errno::EEXIST, "{err}");
            guests.push((g, port));
        }
        assert!(reaches(&sandbox, &guests[0].0, "10.80.0.2"), "same tag");
        assert!(!sandbox.ping(&guests[0].0, "10.80.0.3"), "tag 10 must not reach tag 20");
        for (_, port) in &guests {
            assert!(ovs.port_del(port).unwrap());
            assert!(ovs.port(port).unwrap().is_none());
            assert!(!ovs_vsctl(&["list-ports", &bridge]).lines().any(|p| p == port));
            root.link_del(port.as_str()).unwrap();
        }
        assert!(!ovs.port_del(&guests[0].1).unwrap(), "already gone");
        assert!(ovs.bridge_ports(&bridge).unwrap().is_empty());
        assert!(ovs.bridge_delete_if_unused(&bridge).unwrap());
        assert!(!ovs.bridge_exists(&bridge).unwrap());
        assert!(!ovs_vsctl(&["list-br"]).lines().any(|b| b == bridge));
        assert!(root.link_get(bridge.as_str()).unwrap().is_none(), "its internal port went too");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ovs_refusals_are_clear() {
        let ovs = Ovs::connect().unwrap();
        let port = OvsPort { name: "nosuchdev0".into(), ..Default::default() };
        let missing = ovs.port_add("nosuchbr0", &port).unwrap_err();
        assert!(missing.to_string().contains("OVS bridge nosuchbr0 does not exist"), "{missing}");
        assert!(ovs.port("nosuchdev0").unwrap().is_none(), "nothing left behind");
        let bridge = format!("ovsr{}", std::process::id() % 100_000);
        ovs.bridge_ensure(&bridge).unwrap();
        let unopenable = ovs.port_add(&bridge, &port).unwrap_err();
        assert!(unopenable.to_string().contains("ovs-vswitchd could not open it"), "{unopenable}");
        assert!(ovs.port("nosuchdev0").unwrap().is_none(), "rolled back");
        ovs.bridge_delete(&bridge).unwrap();
        let nowhere = Ovs::connect_to("/nonexistent/db.sock".as_ref()).unwrap_err();
        assert_eq!(nowhere.errno(), Errno::ENOENT);
        assert!(nowhere.to_string().contains("is Open vSwitch running?"), "{nowhere}");
    }

    /// The `ip -d` view of one link in `ns`, or `Null` when it does not exist.
    fn shown(sandbox: &Sandbox, ns: &str, name: &str) -> Value {
        sandbox
            .ip_json(ns, &["link", "show"])
            .as_array()
            .unwrap()
            .iter()
            .find(|link| link["ifname"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn at_vlan_on_a_physical_parent_joins_guests_of_one_vlan_only() {
        let mut sandbox = Sandbox::new();
        let far = sandbox.add_guest("far");
        let (a, b, c) = (sandbox.add_guest("a"), sandbox.add_guest("b"), sandbox.add_guest("c"));
        let host = sandbox.host_handle();
        // phys0 is the "physical" parent; trunk0, its other end, carries VLAN 10 into `far`.
        let (far_handle, trunk) = wire(&sandbox, "phys0", &far, "trunk0");
        Vlan::new("trunk0.10", trunk, 10).unwrap().up().add(&far_handle).unwrap();
        far_handle
            .addr_add(far_handle.link("trunk0.10").unwrap().index, net("10.90.0.254/24"))
            .unwrap();
        let plan = |address: &str, vlan: u16| {
            AttachPlan::macvlan("phys0", MacvlanMode::Bridge).address(net(address)).vlan(vlan)
        };
        let att_a = attach(&host, &sandbox.guest(&a), &plan("10.90.0.1/24", 10)).expect("a");
        let att_b = attach(&host, &sandbox.guest(&b), &plan("10.90.0.2/24", 10)).expect("b");
        let att_c = attach(&host, &sandbox.guest(&c), &plan("10.90.0.3/24", 20)).expect("c");
        let vlan_a = att_a.vlan_link.clone().expect("a VLAN record");
        assert!(vlan_a.created && !att_b.vlan_link.clone().unwrap().created);
        assert_eq!((vlan_a.name.as_str(), att_a.host_ifname.as_str()), ("phys0.10", "phys0.10"));
        let sub = shown(&sandbox, &sandbox.host_name(), "phys0.10");
        assert_eq!(sub["linkinfo"]["info_data"]["id"], 10);
        assert_eq!(sub["link"], "phys0");
        assert_eq!(shown(&sandbox, &a, "eth1")["linkinfo"]["info_kind"], "macvlan");
        assert!(reaches(&sandbox, &a, "10.90.0.2"), "a reaches b on VLAN 10");
        assert!(
            reaches(&sandbox, &a, "10.90.0.254"),
            "a reaches the far end of the wire, tagged 10"
        );
        assert!(!sandbox.ping(&c, "10.90.0.1"), "c on VLAN 20 must not reach a");
        assert!(
            !sandbox.ping(&c, "10.90.0.254"),
            "c on VLAN 20 must not reach VLAN 10 across the wire"
        );
        // a created phys0.10, but b still sits on it: it stays until the last guest leaves.
        att_a.detach(&host, Some(&Handle::new(&sandbox.guest(&a).namespace).unwrap())).unwrap();
        assert!(!shown(&sandbox, &sandbox.host_name(), "phys0.10").is_null(), "b still uses it");
        assert!(reaches(&sandbox, &b, "10.90.0.254"), "b unaffected");
        att_b.detach(&host, Some(&Handle::new(&sandbox.guest(&b).namespace).unwrap())).unwrap();
        assert!(
            shown(&sandbox, &sandbox.host_name(), "phys0.10").is_null(),
            "made by pipework, now unused"
        );
        att_c.detach(&host, Some(&Handle::new(&sandbox.guest(&c).namespace).unwrap())).unwrap();
        assert!(shown(&sandbox, &sandbox.host_name(), "phys0.20").is_null());
        assert!(!shown(&sandbox, &sandbox.host_name(), "phys0").is_null(), "the parent stays");
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn a_vlan_sub_interface_that_was_there_is_reused_kept_and_checked() {
        let mut sandbox = Sandbox::new();
        let (far, g) = (sandbox.add_guest("far"), sandbox.add_guest("g"));
        let host = sandbox.host_handle();
        wire(&sandbox, "phys1", &far, "trunk1");
        let phys = host.link("phys1").unwrap().index;
        Vlan::new("phys1.30", phys, 30).unwrap().add(&host).unwrap();
        // A VLAN named like VLAN 40 but tagging 41: the original's pre-check never caught this.
        Vlan::new("phys1.40", phys, 41).unwrap().add(&host).unwrap();
        let guest = sandbox.guest(&g);
        let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
        let plan40 =
            AttachPlan::macvlan("phys1", MacvlanMode::Bridge).address(net("10.91.0.1/24")).vlan(40);
        let err = attach(&host, &guest, &plan40).unwrap_err().to_string();
        assert!(err.contains("phys1.40") && err.contains("is 802.1Q VLAN 41 on phys1"), "{err}");
        let plan_ad = AttachPlan::macvlan("phys1", MacvlanMode::Bridge)
            .vlan(30)
            .vlan_protocol(VlanProtocol::Dot1ad);
        let err = attach(&host, &guest, &plan_ad).unwrap_err().to_string();
        assert!(err.contains("802.1ad VLAN 30") && err.contains("is 802.1Q VLAN 30"), "{err}");
        assert_eq!(
            (sandbox.state(&sandbox.host_name()), sandbox.state(&g)),
            before,
            "nothing changed"
        );
        let plan30 =
            AttachPlan::ipvlan("phys1", IpvlanMode::L2).address(net("10.91.0.1/24")).vlan(30);
        let attachment = attach(&host, &guest, &plan30).expect("attach on the existing VLAN");
        assert!(!attachment.vlan_link.clone().unwrap().created);
        assert_eq!(shown(&sandbox, &g, "eth1")["linkinfo"]["info_kind"], "ipvlan");
        attachment.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).unwrap();
        assert!(!shown(&sandbox, &sandbox.host_name(), "phys1.30").is_null(), "not ours: kept");
        assert!(shown(&sandbox, &g, "eth1").is_null());
        // 802.1ad sub-interfaces are created on request.
        let plan_qinq = AttachPlan::macvlan("phys1", MacvlanMode::Bridge)
            .vlan(50)
            .vlan_protocol(VlanProtocol::Dot1ad);
        let qinq = attach(&host, &guest, &plan_qinq).expect("802.1ad");
        let sub = shown(&sandbox, &sandbox.host_name(), "phys1.50");
        assert_eq!(sub["linkinfo"]["info_data"]["protocol"], "802.1ad");
        qinq.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).unwrap();
        assert!(
            shown(&sandbox, &sandbox.host_name(), "phys1.50").is_null(),
            "ours and unused: removed"
        );
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipvlan_guests_attach_ping_and_refuse_a_mac() {
        let mut sandbox = Sandbox::new();
        let (far, a, b) =
            (sandbox.add_guest("far"), sandbox.add_guest("a"), sandbox.add_guest("b"));
        let host = sandbox.host_handle();
        wire(&sandbox, "phys2", &far, "trunk2");
        let phys_mac = host.link("phys2").unwrap().mac;
        let plan =
            |address: &str| AttachPlan::ipvlan("phys2", IpvlanMode::L2).address(net(address));
        let att_a = attach(&host, &sandbox.guest(&a), &plan("10.92.0.1/24")).expect("a");
        let att_b = attach(&host, &sandbox.guest(&b), &plan("10.92.0.2/24")).expect("b");
        assert_eq!(att_a.mac, phys_mac, "an ipvlan shows its parent's MAC");
        let eth1 = shown(&sandbox, &a, "eth1");
        assert_eq!(
            (
                eth1["linkinfo"]["info_kind"].as_str(),
                eth1["linkinfo"]["info_data"]["mode"].as_str()
            ),
            (Some("ipvlan"), Some("l2"))
        );
        assert!(reaches(&sandbox, &a, "10.92.0.2"), "ipvlan l2 guests reach each other");
        let again = attach(&host, &sandbox.guest(&a), &plan("10.92.0.1/24")).unwrap();
        assert_eq!(again.status, AttachStatus::AlreadyAttached);
        let err = attach(
            &host,
            &sandbox.guest(&a),
            &plan("10.92.0.9/24").guest_ifname("eth2").mac("02:00:00:00:00:09".parse().unwrap()),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid mac") && err.contains("parent's MAC"), "{err}");
        att_a.detach(&host, Some(&Handle::new(&sandbox.guest(&a).namespace).unwrap())).unwrap();
        att_b.detach(&host, Some(&Handle::new(&sandbox.guest(&b).namespace).unwrap())).unwrap();
        assert!(shown(&sandbox, &a, "eth1").is_null() && shown(&sandbox, &b, "eth1").is_null());
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn the_dummy_keyword_gives_the_guest_a_dummy_with_its_address() {
        let mut sandbox = Sandbox::new();
        let g = sandbox.add_guest("g");
        let host = sandbox.host_handle();
        let host_before = sandbox.state(&sandbox.host_name());
        let guest = sandbox.guest(&g);
        let plan =
            AttachPlan::dummy().guest_ifname("dummy0").address(net("203.0.113.9/32")).mtu(1400);
        let attachment = attach(&host, &guest, &plan).expect("dummy");
        let dummy = shown(&sandbox, &g, "dummy0");
        assert_eq!(
            (dummy["linkinfo"]["info_kind"].as_str(), dummy["mtu"].as_u64()),
            (Some("dummy"), Some(1400))
        );
        let addresses = sandbox.ip_json(&g, &["addr", "show", "dummy0"]);
        assert_eq!(addresses[0]["addr_info"][0]["local"], "203.0.113.9");
        assert_eq!(sandbox.state(&sandbox.host_name()), host_before, "nothing in the host");
        assert_eq!((attachment.host_ifname.as_str(), attachment.host_ifindex), ("", 0));
        assert_eq!(attach(&host, &guest, &plan).unwrap().status, AttachStatus::AlreadyAttached);
        let err = attach(&host, &guest, &AttachPlan::dummy().vlan(5)).unwrap_err().to_string();
        assert!(err.contains("invalid vlan") && err.contains("dummy"), "{err}");
        attachment.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).unwrap();
        assert!(shown(&sandbox, &g, "dummy0").is_null());
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn vlan_on_a_linux_bridge_pipework_creates_makes_access_ports() {
        let mut sandbox = Sandbox::new();
        let (a, b, c) = (sandbox.add_guest("a"), sandbox.add_guest("b"), sandbox.add_guest("c"));
        let host = sandbox.host_handle();
        let plan =
            |address: &str, vlan: u16| AttachPlan::bridge("brvl").address(net(address)).vlan(vlan);
        let att_a = attach(&host, &sandbox.guest(&a), &plan("10.93.0.1/24", 10)).expect("a");
        let att_b = attach(&host, &sandbox.guest(&b), &plan("10.93.0.2/24", 10)).expect("b");
        let att_c = attach(&host, &sandbox.guest(&c), &plan("10.93.0.3/24", 20)).expect("c");
        assert!(att_a.bridge_created);
        let bridge = shown(&sandbox, &sandbox.host_name(), "brvl");
        assert_eq!(bridge["linkinfo"]["info_data"]["vlan_filtering"], 1, "{bridge}");
        let vlans =
            sandbox.bridge_json(&sandbox.host_name(), &["vlan", "show", "dev", &att_c.host_ifname]);
        let entries = vlans[0]["vlans"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "only VLAN 20, not the default VLAN 1: {vlans}");
        assert_eq!(entries[0]["vlan"], 20);
        let flags: Vec<&str> =
            entries[0]["flags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(flags, ["PVID", "Egress Untagged"]);
        assert_eq!(host.bridge_vlans(att_a.host_ifindex).unwrap(), [BridgeVlan::access(10)]);
        assert!(reaches(&sandbox, &a, "10.93.0.2"), "same VLAN");
        assert!(!sandbox.ping(&a, "10.93.0.3"), "VLAN 10 must not reach VLAN 20");
        let again = attach(&host, &sandbox.guest(&a), &plan("10.93.0.1/24", 10)).unwrap();
        assert_eq!(again.status, AttachStatus::AlreadyAttached);
        let err = attach(&host, &sandbox.guest(&a), &plan("10.93.0.1/24", 20)).unwrap_err();
        assert!(
            err.to_string().contains("not as an access port of VLAN 20 (its VLANs: 10)"),
            "{err}"
        );
        for (attachment, ns) in [(att_a, &a), (att_b, &b), (att_c, &c)] {
            attachment
                .detach(&host, Some(&Handle::new(&sandbox.guest(ns).namespace).unwrap()))
                .unwrap();
        }
        assert!(
            shown(&sandbox, &sandbox.host_name(), "brvl").is_null(),
            "ours, removed with its last port"
        );
        // A bridge that is not ours and does not filter VLANs is refused, untouched.
        Bridge::new("brtheirs").unwrap().ensure(&host).unwrap();
        host.link_set_alias("brtheirs", "someone else's").unwrap();
        let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&a));
        let err = attach(&host, &sandbox.guest(&a), &AttachPlan::bridge("brtheirs").vlan(10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not filter VLANs") && err.contains("vlan_filtering 1"), "{err}");
        assert_eq!((sandbox.state(&sandbox.host_name()), sandbox.state(&a)), before);
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ovs_attach_tags_ports_records_the_guest_and_detach_removes_the_port() {
        let mut sandbox = Sandbox::new();
        // ovs-vswitchd runs in the VM's root namespace, so the host side is there.
        let root = Handle::current().unwrap();
        let ovs = Ovs::connect().unwrap();
        let bridge = format!("ovsa{}", std::process::id() % 100_000);
        let mut attachments = Vec::new();
        for (label, vlan, address) in
            [("a", 10, "10.94.0.1/24"), ("b", 10, "10.94.0.2/24"), ("c", 20, "10.94.0.3/24")]
        {
            let g = sandbox.add_guest(label);
            let plan = AttachPlan::ovs_bridge(&bridge).address(net(address)).vlan(vlan);
            let attachment = attach(&root, &sandbox.guest(&g), &plan).expect("attach");
            let port = &attachment.host_ifname;
            assert_eq!(ovs_vsctl(&["port-to-br", port]), bridge);
            assert_eq!(ovs_vsctl(&["get", "Port", port, "tag"]), vlan.to_string());
            let name =
                ovs_vsctl(&["get", "Interface", port, "external_ids:pipework.containername"]);
            assert_eq!(name.trim_matches('"'), g);
            let ids = ovs.port(port).unwrap().unwrap().external_ids;
            assert_eq!(ids["pipework.interface"], *port);
            assert_eq!(ids["pipework.bridge"], bridge);
            assert_eq!(ids["pipework.vlan"], vlan.to_string());
            attachments.push((attachment, g));
        }
        assert!(attachments[0].0.bridge_created && !attachments[1].0.bridge_created);
        assert!(reaches(&sandbox, &attachments[0].1, "10.94.0.2"), "same tag");
        assert!(!sandbox.ping(&attachments[0].1, "10.94.0.3"), "tag 10 must not reach tag 20");
        let again =
            attach(&root, &sandbox.guest(&attachments[0].1), &attachments[0].0.plan).unwrap();
        assert_eq!(again.status, AttachStatus::AlreadyAttached);
        // Detach removes the port from OVSDB (the original left it), then the bridge it made.
        for (attachment, g) in &attachments {
            attachment
                .detach(&root, Some(&Handle::new(&sandbox.guest(g).namespace).unwrap()))
                .unwrap();
            assert!(ovs.port(&attachment.host_ifname).unwrap().is_none());
            let listed = Command::new("ovs-vsctl")
                .args(["list", "Port", &attachment.host_ifname])
                .output()
                .unwrap();
            assert!(!listed.status.success(), "no Port row {} left", attachment.host_ifname);
            assert!(root.link_get(attachment.host_ifname.as_str()).unwrap().is_none());
        }
        assert!(
            !ovs.bridge_exists(&bridge).unwrap(),
            "created by pipework, removed with its last port"
        );
        // The host side must be where ovs-vswitchd opens ports.
        let g = sandbox.add_guest("d");
        let err =
            attach(&sandbox.host_handle(), &sandbox.guest(&g), &AttachPlan::ovs_bridge(&bridge))
                .unwrap_err()
                .to_string();
        assert!(err.contains("ovs-vswitchd runs in"), "{err}");
        assert!(!ovs.bridge_exists(&bridge).unwrap());
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipoib_attach_refuses_a_non_infiniband_parent_and_a_mac() {
        let mut sandbox = Sandbox::new();
        let g = sandbox.add_guest("g");
        let host = sandbox.host_handle();
        Veth::new("eth9", "eth9p").unwrap().add(&host).unwrap();
        let before = (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
        let err = attach(&host, &sandbox.guest(&g), &AttachPlan::ipoib("eth9", Some(0x8001)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not an InfiniBand device"), "{err}");
        let with_mac = AttachPlan::ipoib("eth9", None).mac("02:00:00:00:00:01".parse().unwrap());
        let err = attach(&host, &sandbox.guest(&g), &with_mac).unwrap_err().to_string();
        assert!(err.contains("invalid mac") && err.contains("IPoIB"), "{err}");
        assert_eq!((sandbox.state(&sandbox.host_name()), sandbox.state(&g)), before);
    }
}
