//! Namespaces and handles against the real kernel, checked with `ip netns` and `ip -j`.

mod common;

use std::process::Command;

use common::Sandbox;
use pipework_core::{Handle, Namespace, NamespaceOrigin};

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn named_namespaces_are_seen_by_ip_netns_and_deleted() {
    let mut sandbox = Sandbox::new();
    let name = format!("{}-named", sandbox.prefix);
    let ns = Namespace::create_named(&name).expect("create");
    let listed =
        String::from_utf8(Command::new("ip").args(["netns", "list"]).output().unwrap().stdout)
            .unwrap();
    assert!(listed.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())), "{listed}");
    assert_eq!(ns.name(), Some(name.as_str()));
    let again = Namespace::from_name(&name).expect("from_name");
    assert_eq!(again, ns, "same namespace by name");
    assert_ne!(ns, Namespace::current().unwrap());
    assert!(ns.to_string().contains(&name));
    // A second create of the same name is refused and leaves the first intact.
    let err = Namespace::create_named(&name).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    drop(again);
    ns.delete().expect("delete");
    let listed =
        String::from_utf8(Command::new("ip").args(["netns", "list"]).output().unwrap().stdout)
            .unwrap();
    assert!(!listed.contains(&name), "{listed}");
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
    let _ = sandbox.add_guest("unused");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn pid_path_and_name_open_the_same_namespace() {
    let mut sandbox = Sandbox::new();
    let name = sandbox.add_guest("g");
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &name, "sleep", "30"])
        .spawn()
        .expect("sleep in netns");
    // `ip netns exec` execs sleep once it has entered the namespace.
    let by_name = Namespace::from_name(&name).unwrap();
    let pid = sleeper.id();
    let mut by_pid = None;
    for _ in 0..100 {
        let ns = Namespace::from_pid(pid).unwrap();
        if ns == by_name {
            by_pid = Some(ns);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let by_pid = by_pid.expect("the process reached the namespace");
    assert_eq!(by_pid.origin(), &NamespaceOrigin::Pid(pid));
    let by_path = Namespace::from_path(format!("/run/netns/{name}")).unwrap();
    assert_eq!(by_path, by_name);
    let inode = std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    assert_eq!(by_pid.id().ino, inode, "identity is the nsfs inode");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn anonymous_namespaces_live_as_long_as_their_descriptor() {
    let a = Namespace::create_anonymous().expect("anonymous");
    let b = Namespace::create_anonymous().expect("anonymous");
    assert_ne!(a, b);
    assert_ne!(a, Namespace::current().unwrap());
    let handle = Handle::new(&a).expect("handle");
    let links = handle.links().expect("links");
    assert_eq!(links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["lo"]);
    // The calling thread is back where it was.
    assert_eq!(Namespace::current().unwrap(), Namespace::from_pid(std::process::id()).unwrap());
    a.delete().expect("anonymous delete is a drop");
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn one_handle_serves_several_threads_dumping_at_once() {
    let sandbox = Sandbox::new();
    let handle = sandbox.host_handle();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50 {
                    let links = handle.links().expect("a dump while other threads dump");
                    assert_eq!(links.len(), 1, "{links:?}");
                    handle.addresses(None).expect("an address dump");
                }
            });
        }
    });
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn a_thread_without_cap_sys_admin_gets_an_error_not_an_abort() {
    let sandbox = Sandbox::new();
    let host = sandbox.host().try_clone().expect("host");
    let outcome = std::thread::spawn(move || {
        common::drop_capabilities_in_this_thread(&[common::CAP_SYS_ADMIN]);
        let created = Namespace::create_anonymous().map(drop);
        let entered = Handle::new(&host).map(drop);
        (created, entered)
    })
    .join()
    .expect("the thread returns instead of aborting the process");
    for result in [outcome.0, outcome.1] {
        let err = result.unwrap_err();
        assert_eq!(err.errno(), nix::errno::Errno::EPERM, "{err}");
        assert_eq!(err.missing_capability(), Some("CAP_SYS_ADMIN"), "{err}");
    }
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn missing_pid_and_name_are_clear_errors() {
    let err = Namespace::from_pid(u32::MAX - 1).unwrap_err();
    assert!(err.to_string().contains("process 4294967294 does not exist"), "{err}");
    let err = Namespace::from_name("pwt-no-such-namespace").unwrap_err();
    assert!(
        err.to_string().contains("\"pwt-no-such-namespace\" (in /run/netns) does not exist"),
        "{err}"
    );
    let err = pipework_core::resolve("pwt-no-such-namespace").unwrap_err();
    assert!(
        err.to_string()
            .contains("pid: invalid pid \"pwt-no-such-namespace\": is not a decimal process ID"),
        "{err}"
    );
    assert!(
        err.to_string().contains(
            "netns: network namespace \"pwt-no-such-namespace\" in /run/netns does not exist"
        ),
        "{err}"
    );
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn handles_work_from_inside_a_tokio_runtime() {
    let sandbox = Sandbox::new();
    let host = sandbox.host().try_clone().unwrap();
    for runtime in [
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap(),
    ] {
        let host = host.try_clone().unwrap();
        let names = runtime.block_on(async move {
            let handle = Handle::new(&host).expect("handle inside a runtime");
            handle.links().expect("request inside a runtime")
        });
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].name, "lo");
    }
}
