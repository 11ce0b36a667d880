//! TIPC end to end. The host kernel here has no TIPC, so every test is in `tier_vm`: the VM
//! tier runs them inside a VM whose kernel has it (scripts/tier-vm.sh); the main run skips them.

mod common;

mod tier_vm {
    use std::time::Duration;

    use pipework_core::{
        AttachPlan, Guest, attach,
        tipc::{BearerSpec, IdentityScheme, NodeId, TipcBus, TipcNode, TipcService},
    };

    use super::common::{Sandbox, tipc_links};

    /// `n` guests attached to bridge `br0` of the sandbox's host as `eth0`.
    fn bus_guests(sandbox: &mut Sandbox, labels: &[&str]) -> Vec<Guest> {
        let host = sandbox.host_handle();
        labels
            .iter()
            .map(|label| {
                let name = sandbox.add_guest(label);
                let guest = sandbox.guest(&name);
                attach(&host, &guest, &AttachPlan::bridge("br0").guest_ifname("eth0"))
                    .expect("attach");
                guest
            })
            .collect()
    }

    fn name_of(guest: &Guest) -> &str {
        guest.name.as_deref().unwrap()
    }

    #[test]
    #[ignore = "needs the VM tier (a kernel with TIPC, root); scripts/tier-vm.sh runs it"]
    fn four_guests_form_a_bus_carry_a_message_rerun_is_a_noop_and_a_fifth_joins() {
        let mut sandbox = Sandbox::new();
        let mut guests = bus_guests(&mut sandbox, &["a", "b", "c", "d"]);
        let bus = TipcBus::new().net_id(1234).link_timeout(Some(Duration::from_secs(60)));

        let report = bus.configure(&guests).expect("configure the bus");
        println!("{report}");
        assert_eq!(report.links.len(), 12);
        assert!(report.all_links_up(), "{report}");
        for node in &report.nodes {
            assert_eq!(node.net_id, 1234);
            assert_eq!(node.bearers, ["eth:eth0"]);
            // Derived from the namespace name, which is longer than 16 characters here or not.
            assert_eq!(node.identity, Some(NodeId::derive(&node.guest)));
            assert!(node.changes.contains(&"bearer eth:eth0".to_string()), "{:?}", node.changes);
        }
        // Independently: iproute2's tipc sees three links up in every guest.
        for guest in &guests {
            let links = tipc_links(name_of(guest));
            assert_eq!(links.matches(": up").count(), 4, "3 links and broadcast-link:\n{links}");
        }
        let node_a = TipcNode::open(&guests[0].namespace).unwrap();
        let links_a = node_a.links().unwrap();
        let to_b = links_a.iter().find(|l| !l.broadcast).expect("a link");
        assert!(to_b.up && to_b.mtu > 0 && to_b.stats.rx_states > 0, "{to_b:?}");

        // A real message, addressed by service name, from a to c.
        let service = TipcService::new(18888, 7).unwrap();
        let listener = service.bind(&guests[2].namespace).expect("bind in c");
        service
            .send(&guests[0].namespace, b"hello over tipc", Duration::from_secs(10))
            .expect("send from a");
        let datagram = listener.recv(Duration::from_secs(10)).expect("receive in c");
        assert_eq!(datagram.data, b"hello over tipc");
        assert_eq!(datagram.node, report.nodes[0].address, "sent by a's node");

        // Running it again changes nothing.
        let states: Vec<String> = guests.iter().map(|g| tipc_links(name_of(g))).collect();
        let again = bus.configure(&guests).expect("re-run");
        assert!(!again.changed(), "{again}");
        assert!(again.all_links_up());
        for (guest, before) in guests.iter().zip(&states) {
            assert_eq!(&tipc_links(name_of(guest)), before);
        }

        // A fifth guest joins the existing bus; the others are left alone.
        guests.extend(bus_guests(&mut sandbox, &["e"]));
        let joined = bus.configure(&guests).expect("join e");
        println!("{joined}");
        assert_eq!(joined.links.len(), 20);
        assert!(joined.all_links_up(), "{joined}");
        let changed: Vec<&str> = joined
            .nodes
            .iter()
            .filter(|n| !n.changes.is_empty())
            .map(|n| n.guest.as_str())
            .collect();
        assert_eq!(changed, [name_of(&guests[4])]);
        assert_eq!(tipc_links(name_of(&guests[0])).matches(": up").count(), 5);
    }

    #[test]
    #[ignore = "needs the VM tier (a kernel with TIPC, root); scripts/tier-vm.sh runs it"]
    fn conflicts_and_missing_interfaces_are_refused_before_anything_changes() {
        let mut sandbox = Sandbox::new();
        let guests = bus_guests(&mut sandbox, &["x", "y"]);
        // y already has another identity: the bus refuses, and x is left untouched.
        let y = TipcNode::open(&guests[1].namespace).unwrap();
        assert!(y.set_identity(&"other".parse().unwrap()).unwrap());
        let err = TipcBus::new().configure(&guests).unwrap_err().to_string();
        assert!(err.contains("already other") && err.contains(name_of(&guests[1])), "{err}");
        let x = TipcNode::open(&guests[0].namespace).unwrap();
        assert_eq!(x.config().unwrap().identity, None);
        assert!(x.bearers().unwrap().is_empty());

        // A bearer on an interface the guests lack is a clear error, and changes nothing.
        let err = TipcBus::new()
            .bearer(BearerSpec::eth("nope0"))
            .identities(IdentityScheme::Template("n{index}".into()))
            .configure(&guests[..1])
            .unwrap_err();
        assert!(err.to_string().contains("interface nope0"), "{err}");
        assert_eq!(x.config().unwrap().identity, None);

        // The same identity again is a no-op; another one is a conflict that says why.
        assert!(!y.set_identity(&"other".parse().unwrap()).unwrap());
        let err = y.set_identity(&"third".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("already other") && err.contains("cannot be changed"), "{err}");
    }

    #[test]
    #[ignore = "needs the VM tier (a kernel with TIPC, root); scripts/tier-vm.sh runs it"]
    fn legacy_addresses_where_the_kernel_accepts_them() {
        let mut sandbox = Sandbox::new();
        let guests = bus_guests(&mut sandbox, &["l1", "l2"]);
        let bus = TipcBus::new()
            .identities(IdentityScheme::Legacy { zone: 1, cluster: 1, first_node: 1 })
            .link_timeout(Some(Duration::from_secs(60)));
        let report = bus.configure(&guests).expect("legacy bus");
        assert!(report.all_links_up(), "{report}");
        let config = TipcNode::open(&guests[1].namespace).unwrap().config().unwrap();
        assert_eq!(config.legacy_address.map(|a| a.to_string()).as_deref(), Some("1.1.2"));
        assert_eq!(config.address, 0x0100_1002);
        assert_eq!(config.identity.unwrap().to_string(), "1001002");
        assert!(!bus.configure(&guests).unwrap().changed());
    }

    #[test]
    #[ignore = "needs the VM tier (a kernel with TIPC, root); scripts/tier-vm.sh runs it"]
    fn an_interrupted_wait_for_links_stops_with_eintr_and_keeps_the_configuration() {
        let mut sandbox = Sandbox::new();
        let host = sandbox.host_handle();
        // Two guests on two separate bridges: their links can never come up.
        let guests: Vec<Guest> = ["apart1", "apart2"]
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let name = sandbox.add_guest(label);
                let guest = sandbox.guest(&name);
                let plan = AttachPlan::bridge(&format!("br{i}")).guest_ifname("eth0");
                attach(&host, &guest, &plan).expect("attach");
                guest
            })
            .collect();
        let start = std::time::Instant::now();
        let interrupted = || start.elapsed() > Duration::from_millis(500);
        let bus = TipcBus::new().link_timeout(Some(Duration::from_secs(60)));
        let err = bus.configure_interruptible(&guests, &interrupted).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
        assert_eq!(err.errno(), nix::errno::Errno::EINTR, "{err}");
        assert!(err.to_string().contains("interrupted while these links were still down"), "{err}");
        // What was configured stays: a second run changes nothing and shows the links down.
        let report = bus.show(&guests).unwrap();
        assert!(report.nodes.iter().all(|node| node.bearers == ["eth:eth0"]), "{report}");
        assert!(!report.all_links_up(), "{report}");
    }
}
