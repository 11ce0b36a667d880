//! Teardown that runs every step and reports every failure, proved with failures injected into
//! the middle of a detach and of a rollback (`pipework_core::fault`), in private namespaces.

mod common;

use common::Sandbox;
use nix::errno::Errno;
use pipework_core::{
    AttachPlan, Attachment, Error, Handle, IpNet, MacvlanMode, Route, StateStore, Veth, attach,
    error::Op, fault::Faults,
};

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// A guest with a default route of its own on eth0 (like Docker's), attached to bridge
/// `bridge` with a gateway that replaces it: the guest's name, its handle and the attachment.
fn attached_over_a_default_route(
    sandbox: &mut Sandbox,
    host: &Handle,
    bridge: &str,
) -> (String, Handle, Attachment) {
    let g = sandbox.add_guest("g");
    let guest = sandbox.guest(&g);
    let guest_handle = Handle::new(&guest.namespace).unwrap();
    Veth::new("pre0h", "eth0").unwrap().peer_namespace(&guest.namespace).add(host).unwrap();
    let eth0 = guest_handle.link("eth0").unwrap();
    guest_handle.addr_add(eth0.index, net("172.17.0.2/16")).unwrap();
    guest_handle.link_set_up(eth0.index).unwrap();
    host.link_set_up("pre0h").unwrap();
    guest_handle.route_add(&Route::default_via("172.17.0.1".parse().unwrap(), eth0.index)).unwrap();
    let plan = AttachPlan::bridge(bridge)
        .address(net("10.41.0.2/24"))
        .gateway("10.41.0.1".parse().unwrap());
    let attachment = attach(host, &guest, &plan).unwrap();
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["dev"], "eth1");
    (g, guest_handle, attachment)
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_failed_step_in_the_middle_of_a_detach_skips_no_other_step() {
    let mut sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let (g, guest_handle, attachment) = attached_over_a_default_route(&mut sandbox, &host, "br-td");

    // The middle step (removing the bridge, after the host end) fails; the route restore
    // after it still runs.
    let armed = Faults::new().fail(Op::LinkDel, 2, Errno::EIO).arm();
    let err = attachment.detach(&host, Some(&guest_handle)).unwrap_err();
    assert_eq!(armed.counted(), [2], "the host end, then the bridge");
    drop(armed);
    assert_eq!(err.errno(), Errno::EIO, "{err}");
    let text = err.to_string();
    assert!(text.contains("cannot delete link link #"), "{text}");
    let defaults = sandbox.ip_json(&g, &["route", "show", "default"]);
    assert_eq!(defaults.as_array().unwrap().len(), 1, "{defaults}");
    assert_eq!(defaults[0]["dev"], "eth0", "the replaced default route is back: {defaults}");
    let hostname = sandbox.host_name();
    assert!(!sandbox.link_names(&hostname).contains(&attachment.host_ifname));
    assert!(sandbox.link_names(&hostname).contains(&"br-td".to_string()), "the failed step");

    // Detach again, nothing injected: what was left goes, the rest is already done.
    attachment.detach(&host, Some(&guest_handle)).expect("second detach");
    assert_eq!(sandbox.link_names(&hostname), ["lo", "pre0h"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["dev"], "eth0");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn every_failure_of_a_detach_is_reported_in_order() {
    let mut sandbox = Sandbox::new();
    let host = sandbox.host_handle();
    let (g, guest_handle, attachment) = attached_over_a_default_route(&mut sandbox, &host, "br-tf");
    let armed =
        Faults::new().fail(Op::LinkDel, 1, Errno::EIO).fail(Op::RouteAdd, 1, Errno::EBUSY).arm();
    let err = attachment.detach(&host, Some(&guest_handle)).unwrap_err();
    assert_eq!(armed.counted(), [1, 1], "one host-end delete, one route restore");
    drop(armed);
    let Error::Several { op: Op::Detach, errors, .. } = &err else {
        panic!("not Several: {err:?}");
    };
    assert_eq!(errors.iter().map(Error::errno).collect::<Vec<_>>(), [Errno::EIO, Errno::EBUSY]);
    assert_eq!(err.errno(), Errno::EIO, "the first failure stands for the whole");
    let text = err.to_string();
    assert!(text.starts_with("cannot detach eth1 from br-tf: 2 steps failed: (1) "), "{text}");
    assert!(text.contains("(2) cannot add route default"), "{text}");
    attachment.detach(&host, Some(&guest_handle)).expect("second detach");
    assert_eq!(sandbox.link_names(&sandbox.host_name()), ["lo", "pre0h"]);
    assert_eq!(sandbox.ip_json(&g, &["route", "show", "default"])[0]["dev"], "eth0");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_macvlan_detach_removes_the_shim_when_the_guest_end_fails() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    Veth::new("phys0", "wire0").unwrap().add(&host).unwrap();
    host.link_set_up("wire0").unwrap();
    let guest = sandbox.guest(&g);
    let guest_handle = Handle::new(&guest.namespace).unwrap();
    let plan = AttachPlan::macvlan("phys0", MacvlanMode::Bridge)
        .address(net("10.43.0.2/24"))
        .host_shim(net("10.43.0.254/32"));
    let attachment = attach(&host, &guest, &plan).unwrap();
    let shim = attachment.shim.clone().unwrap();
    // The first link deletion is the guest's macvlan; the shim's comes after it.
    let armed = Faults::new().fail(Op::LinkDel, 1, Errno::EIO).arm();
    let err = attachment.detach(&host, Some(&guest_handle)).unwrap_err();
    assert_eq!(armed.counted(), [2], "both deletions were asked for");
    drop(armed);
    assert_eq!(err.errno(), Errno::EIO, "{err}");
    assert!(!sandbox.link_names(&sandbox.host_name()).contains(&shim.name), "shim removed");
    assert!(sandbox.link_names(&g).contains(&"eth1".to_string()), "the failed step left eth1");
    attachment.detach(&host, Some(&guest_handle)).expect("second detach");
    assert_eq!(sandbox.link_names(&g), ["lo"]);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_rollback_that_fails_is_reported_beside_the_error_that_caused_it() {
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let guest = sandbox.guest(&g);
    let plan = AttachPlan::bridge("br-rf").address(net("10.44.0.2/24"));
    // The address fails, then the rollback's deletion of the host end fails too.
    let armed =
        Faults::new().fail(Op::AddrAdd, 1, Errno::EIO).fail(Op::LinkDel, 1, Errno::EBUSY).arm();
    let err = attach(&host, &guest, &plan).unwrap_err();
    drop(armed);
    let Error::RollbackFailed { error, rollback } = &err else {
        panic!("not RollbackFailed: {err:?}");
    };
    assert_eq!((error.errno(), rollback.errno()), (Errno::EIO, Errno::EBUSY));
    assert_eq!(err.errno(), Errno::EIO, "the cause stands for the whole");
    let text = err.to_string();
    assert!(
        text.contains("cannot add address 10.44.0.2/24")
            && text.contains("undoing what it made failed too")
            && text.contains("Device or resource busy"),
        "{text}"
    );
    // What the report says is true: the host end is left, and so is the bridge it is still a
    // port of (a bridge goes only when no port is left on it).
    let left = sandbox.link_names(&sandbox.host_name());
    assert!(
        left.iter().any(|name| name.starts_with("veth1pl") || name.starts_with("pw")),
        "{left:?}"
    );
    assert!(left.contains(&"br-rf".to_string()), "{left:?}");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn an_attach_whose_record_cannot_be_written_is_undone() {
    use std::os::unix::fs::PermissionsExt;
    let mut sandbox = Sandbox::new();
    let g = sandbox.add_guest("g");
    let host = sandbox.host_handle();
    let guest = sandbox.guest(&g);
    // A state directory whose lock can be taken but where no record can be written (for a
    // thread without root's pass through file permissions).
    let dir = std::env::temp_dir().join(format!("{}-records", sandbox.prefix));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(".lock"), "").unwrap();
    std::fs::set_permissions(dir.join(".lock"), std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let store = StateStore::new(&dir);
    let snapshot = || (sandbox.state(&sandbox.host_name()), sandbox.state(&g));
    let before = snapshot();
    let plan = AttachPlan::bridge("br-rec").address(net("10.46.0.2/24"));
    let unprivileged = |call: &(dyn Fn() -> Result<(), Error> + Sync)| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    common::drop_capabilities_in_this_thread(&[
                        common::CAP_DAC_OVERRIDE,
                        common::CAP_DAC_READ_SEARCH,
                    ]);
                    call()
                })
                .join()
                .unwrap()
        })
    };
    let failed = unprivileged(&|| store.attach(&host, &guest, &plan).map(drop));
    let after_failure = snapshot();
    // The same attachment made without a record, then found in place: not this call's to undo.
    let made = attach(&host, &guest, &plan).unwrap();
    let found = unprivileged(&|| store.attach(&host, &guest, &plan).map(drop));
    let still_there = sandbox.link_names(&g);
    made.detach(&host, Some(&Handle::new(&guest.namespace).unwrap())).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let err = failed.unwrap_err();
    assert!(matches!(err, Error::Kernel { errno: Errno::EACCES, .. }), "undone cleanly: {err:?}");
    assert!(err.to_string().contains(&dir.display().to_string()), "{err}");
    assert!(err.to_string().contains("-eth1.json"), "the record failed, not the lock: {err}");
    assert_eq!(before, after_failure, "the unrecorded attachment was undone");
    assert_eq!(found.unwrap_err().errno(), Errno::EACCES);
    assert!(still_there.contains(&"eth1".to_string()), "found in place, kept: {still_there:?}");
    assert_eq!(before, snapshot());
}
