//! Attaches that meet: another attach put at a precise step of a failing one (the
//! `fault-injection` hook), in private namespaces.

mod common;

use std::sync::{Arc, Mutex};

use common::Sandbox;
use nix::errno::Errno;
use pipework_core::{
    AttachPlan, Attachment, Handle, IpNet, Namespace, attach, error::Op, fault::Faults,
};

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// Attaches guest `guest` (a /run/netns name) to bridge `bridge` of host namespace `host` from a
/// thread of its own, with its own handles, as another process would.
fn attach_elsewhere(host: &str, guest: &str, bridge: &str, address: &str) -> Attachment {
    let (host, guest, bridge, address) =
        (host.to_string(), guest.to_string(), bridge.to_string(), net(address));
    std::thread::spawn(move || {
        let handle = Handle::new(&Namespace::from_name(&host).unwrap()).unwrap();
        let guest = pipework_core::resolve(&guest).unwrap();
        attach(&handle, &guest, &AttachPlan::bridge(&bridge).address(address)).unwrap()
    })
    .join()
    .expect("the other attach")
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_failed_attach_keeps_the_bridge_it_created_when_another_guest_joined_it() {
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let host = sandbox.host_handle();
    let hostname = sandbox.host_name();
    let other = Arc::new(Mutex::new(None));

    // A creates br-race; just before A creates its veth (its second link), B attaches to the
    // bridge A made; then A's address fails and A rolls back.
    let joined = {
        let (hostname, b, other) = (hostname.clone(), b.clone(), other.clone());
        move || {
            let attachment = attach_elsewhere(&hostname, &b, "br-race", "10.45.0.3/24");
            *other.lock().unwrap() = Some(attachment);
        }
    };
    let armed = Faults::new().before(Op::LinkAdd, 2, joined).fail(Op::AddrAdd, 1, Errno::EIO).arm();
    let plan = AttachPlan::bridge("br-race").address(net("10.45.0.2/24"));
    let err = attach(&host, &sandbox.guest(&a), &plan).unwrap_err();
    assert_eq!(armed.counted(), [2, 1], "B joined before A's veth, then A's address failed");
    drop(armed);
    assert_eq!(err.errno(), Errno::EIO, "{err}");
    let other = other.lock().unwrap().take().expect("B attached");

    // B's port survived A's rollback: the bridge is there and B's host end is still on it.
    let port = sandbox.ip_json(&hostname, &["link", "show", "dev", &other.host_ifname]);
    assert_eq!(port[0]["master"], "br-race", "{port}");
    let mut left = sandbox.link_names(&hostname);
    left.sort();
    let mut expected = vec!["br-race".to_string(), "lo".into(), other.host_ifname.clone()];
    expected.sort();
    assert_eq!(left, expected, "A's veth went, the bridge and B's port stayed");
    assert_eq!(sandbox.link_names(&a), ["lo"], "nothing of A's is left in A");
    assert_eq!(sandbox.global_addresses(&b, "eth1"), ["10.45.0.3/24"]);

    // B's detach removes the bridge A created, now that its last port is gone.
    let b_handle = Handle::new(&sandbox.guest(&b).namespace).unwrap();
    other.detach(&host, Some(&b_handle)).unwrap();
    assert_eq!(sandbox.link_names(&hostname), ["lo"]);
}
