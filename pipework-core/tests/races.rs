//! Attaches and detaches that meet: another attach put at a precise step of a failing attach or
//! of a detach (the `fault-injection` hook), in private namespaces.

mod common;

use std::sync::{Arc, Mutex};

use common::Sandbox;
use nix::errno::Errno;
use pipework_core::{
    AttachPlan, Attachment, Handle, IpNet, Namespace, StateStore, attach, error::Op, fault::Faults,
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

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn an_attach_waits_for_a_detach_that_is_removing_the_bridge() {
    let mut sandbox = Sandbox::new();
    let (a, b) = (sandbox.add_guest("a"), sandbox.add_guest("b"));
    let host = sandbox.host_handle();
    let hostname = sandbox.host_name();
    let dir = std::env::temp_dir().join(format!("{}-records", sandbox.prefix));
    let store = StateStore::new(&dir);
    let guest_a = sandbox.guest(&a);
    store
        .attach(&host, &guest_a, &AttachPlan::bridge("br-lock").address(net("10.47.0.2/24")))
        .unwrap();

    // A's detach has deleted its host end and found the bridge without ports; just before it
    // deletes the bridge, B starts attaching to it through the same store and has ample time.
    let other = Arc::new(Mutex::new(None));
    let joining = {
        let (hostname, b, dir, other) = (hostname.clone(), b.clone(), dir.clone(), other.clone());
        move || {
            let attaching = std::thread::spawn(move || {
                let handle = Handle::new(&Namespace::from_name(&hostname).unwrap()).unwrap();
                let guest = pipework_core::resolve(&b).unwrap();
                let plan = AttachPlan::bridge("br-lock").address(net("10.47.0.3/24"));
                StateStore::new(&dir).attach(&handle, &guest, &plan).map(|(made, _)| made)
            });
            *other.lock().unwrap() = Some(attaching);
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    let armed = Faults::new().before(Op::LinkDel, 2, joining).arm();
    let (undone, outcome) = store.detach(&host, &a, Some(&guest_a), None);
    assert_eq!(armed.counted(), [2], "the host end, then the bridge");
    drop(armed);
    let attaching = other.lock().unwrap().take().expect("B started");
    let made = attaching.join().expect("B's thread");
    let links = sandbox.ip_json(&hostname, &["link", "show"]);
    let ports: Vec<_> =
        links.as_array().unwrap().iter().filter(|l| l["master"] == "br-lock").collect();
    let recorded = store.all().map(|records| records.len());
    let cleaned = made.is_ok().then(|| store.detach(&host, &b, None, None).1);
    let _ = std::fs::remove_dir_all(&dir);

    outcome.unwrap();
    assert_eq!(undone.len(), 1);
    let made = made.expect("B attached");
    // B waited for A's detach to end, then created the bridge again and joined it.
    assert!(made.bridge_created, "A removed the bridge before B went on");
    assert_eq!(ports.len(), 1, "B's port is on the bridge: {links}");
    assert_eq!(ports[0]["ifname"], made.host_ifname.as_str());
    assert_eq!(recorded.unwrap(), 1, "B's record");
    cleaned.expect("B attached").expect("B's detach");
    assert_eq!(sandbox.link_names(&hostname), ["lo"]);
}

/// Deletes the named namespace `name` at the end of a test if it is still there.
struct NamedCleanup(String);

impl Drop for NamedCleanup {
    fn drop(&mut self) {
        if let Ok(namespace) = Namespace::from_name(&self.0) {
            let _ = namespace.delete();
        }
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_guest_whose_namespace_is_deleted_mid_attach_leaves_nothing_in_the_host() {
    let sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let hostname = sandbox.host_name();
    let before = sandbox.state(&hostname);
    // Just before the veth (the second link), the address, the default route.
    for (step, (op, nth)) in
        [(Op::LinkAdd, 2), (Op::AddrAdd, 1), (Op::RouteAdd, 1)].into_iter().enumerate()
    {
        let name = format!("{}-dies{step}", sandbox.prefix);
        let _cleanup = NamedCleanup(name.clone());
        let namespace = Namespace::create_named(&name).unwrap();
        let guest = pipework_core::resolve(&name).unwrap();
        let armed = Faults::new().before(op, nth, move || namespace.delete().unwrap()).arm();
        let plan = AttachPlan::bridge("br-dies")
            .address(net("10.48.0.2/24"))
            .gateway("10.48.0.1".parse().unwrap());
        let err = attach(&host, &guest, &plan).unwrap_err();
        assert_eq!(armed.counted(), [nth], "the namespace went at {op:?} #{nth}");
        drop(armed);
        let text = err.to_string();
        assert_eq!(err.errno(), Errno::ENOENT, "{text}");
        assert!(
            text.contains("during the attach; what the attach had made is undone")
                && text.contains(&name)
                && text.contains("No such file or directory"),
            "{text}"
        );
        assert_eq!(sandbox.state(&hostname), before, "nothing left in the host after {op:?}");
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_guest_whose_process_is_killed_mid_attach_leaves_nothing_in_the_host() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let hostname = sandbox.host_name();
    let before = sandbox.state(&hostname);
    let mut child =
        sandbox.guest(&g).namespace.command("sleep").unwrap().arg("600").spawn().unwrap();
    let pid = child.id();
    let guest = pipework_core::resolve(&pid.to_string()).unwrap();
    // Just before the address, the guest's process is killed and reaped.
    let armed = Faults::new()
        .before(Op::AddrAdd, 1, move || {
            child.kill().unwrap();
            child.wait().unwrap();
        })
        .arm();
    let plan = AttachPlan::bridge("br-killed").address(net("10.49.0.2/24"));
    let err = attach(&host, &guest, &plan).unwrap_err();
    assert_eq!(armed.counted(), [1]);
    drop(armed);
    let text = err.to_string();
    assert!(
        text.contains(&format!("process {pid} exited since it was resolved"))
            && text.contains("what the attach had made is undone"),
        "{text}"
    );
    assert_eq!(sandbox.state(&hostname), before, "nothing left in the host");
    assert_eq!(sandbox.link_names(&g), ["lo"], "nor in the namespace that outlived the process");
}
