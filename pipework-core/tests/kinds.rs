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
        Bridge, BridgeVlan, Dummy, Handle, IpNet, IpoibChild, Ipvlan, IpvlanFlag, IpvlanMode,
        MacAddr, Namespace, Ovs, OvsPort, Veth, Vlan, VlanProtocol,
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
        assert!(sandbox.ping(&sandbox.host_name(), "10.10.0.2"), "same VLAN: reachable");
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
        assert!(sandbox.ping(&g, "198.51.100.7"), "the guest answers on its dummy address");
    }

    /// Two ipvlan guests on one veth parent; returns whether they reach each other.
    fn ipvlan_pair_reaches(mode: IpvlanMode, flag: Option<IpvlanFlag>) -> bool {
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
        sandbox.ping(&a, "10.60.0.2")
    }

    #[test]
    #[ignore = "needs the VM tier; scripts/tier-vm.sh runs it"]
    fn ipvlan_guests_in_l2_and_l3_reach_each_other_and_private_ones_do_not() {
        assert!(ipvlan_pair_reaches(IpvlanMode::L2, None), "l2");
        assert!(ipvlan_pair_reaches(IpvlanMode::L3, Some(IpvlanFlag::Bridge)), "l3 bridge");
        assert!(!ipvlan_pair_reaches(IpvlanMode::L2, Some(IpvlanFlag::Private)), "l2 private");
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
        assert!(sandbox.ping(&guests[0], "10.70.0.2"), "same VLAN");
        assert!(!sandbox.ping(&guests[0], "10.70.0.3"), "VLAN 10 must not reach VLAN 20");
        host.bridge_set_vlan_filtering(bridge.index, false).unwrap();
        assert!(!host.bridge_vlan_filtering(bridge.index).unwrap());
        assert!(sandbox.ping(&guests[0], "10.70.0.3"), "without filtering, one broadcast domain");
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
        assert!(sandbox.ping(&guests[0].0, "10.80.0.2"), "same tag");
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
}
