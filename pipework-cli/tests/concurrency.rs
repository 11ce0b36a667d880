//! Several processes (the `pipework` command) and several threads (the library) attaching and
//! detaching 100 guests each to one bridge at once, in a private host namespace: no failure, no
//! duplicate name or address, records that match the kernel.

#[path = "../../pipework-core/tests/common/mod.rs"]
mod common;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Barrier, Mutex},
    time::Instant,
};

use common::Sandbox;
use pipework_core::{AttachPlan, Handle, Namespace, StateStore, resolve};

/// Guests per worker.
const GUESTS: usize = 100;
/// The first guests of each worker are detached right after their attach, so the bridge comes
/// and goes while the others attach.
const CHURN: usize = 10;
/// The bridge every guest joins.
const BRIDGE: &str = "br-cc";

/// How a worker attaches and detaches.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// One `pipework` process per attach and per detach.
    Command,
    /// `StateStore::attach` and `StateStore::detach` from a thread with its own handle.
    Library,
}

/// The state directory of one run, removed at the end.
struct StateDir(PathBuf);

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn address(worker: usize, guest: usize) -> String {
    format!("10.70.{worker}.{}/16", guest + 1)
}

/// One worker's step; a failure is returned as its message, to be counted.
struct Worker<'a> {
    via: Via,
    host: &'a Namespace,
    state: &'a Path,
}

impl Worker<'_> {
    fn attach(&self, handle: &Handle, guest: &str, address: &str) -> Result<(), String> {
        match self.via {
            Via::Command => self.command(&[BRIDGE, guest, address]),
            Via::Library => {
                let resolved = resolve(guest).map_err(|e| e.to_string())?;
                let plan = AttachPlan::bridge(BRIDGE).address(address.parse().unwrap());
                let store = StateStore::new(self.state);
                store.attach(handle, &resolved, &plan).map(drop).map_err(|e| e.to_string())
            }
        }
    }

    fn detach(&self, handle: &Handle, guest: &str) -> Result<(), String> {
        match self.via {
            Via::Command => self.command(&["detach", guest]),
            Via::Library => {
                let resolved = resolve(guest).ok();
                let store = StateStore::new(self.state);
                let (done, outcome) = store.detach(handle, guest, resolved.as_ref(), None);
                outcome.map_err(|e| e.to_string())?;
                match done.len() {
                    1 => Ok(()),
                    n => Err(format!("detach {guest}: {n} attachments undone")),
                }
            }
        }
    }

    fn command(&self, args: &[&str]) -> Result<(), String> {
        let output = self
            .host
            .command(env!("CARGO_BIN_EXE_pipework"))
            .unwrap()
            .args(args)
            .env("PIPEWORK_STATE_DIR", self.state)
            .output()
            .map_err(|e| e.to_string())?;
        match output.status.success() {
            true => Ok(()),
            false => Err(format!("pipework {args:?}: {}", String::from_utf8_lossy(&output.stderr))),
        }
    }
}

fn run(workers: usize, via: Via) {
    let started = Instant::now();
    let mut sandbox = Sandbox::new();
    let guests: Vec<Vec<String>> = (0..workers)
        .map(|w| (0..GUESTS).map(|g| sandbox.add_guest(&format!("w{w}g{g}"))).collect())
        .collect();
    let state = StateDir(std::env::temp_dir().join(format!("{}-state", sandbox.prefix)));
    let hostname = sandbox.host_name();
    let created = started.elapsed();
    let failures = Mutex::new(Vec::new());
    let (attached, checked) = (Barrier::new(workers + 1), Barrier::new(workers + 1));
    let host = sandbox.host();
    std::thread::scope(|scope| {
        for (w, names) in guests.iter().enumerate() {
            let (failures, attached, checked) = (&failures, &attached, &checked);
            let worker = Worker { via, host, state: &state.0 };
            scope.spawn(move || {
                let handle = Handle::new(worker.host).unwrap();
                let fail = |step: Result<(), String>| {
                    if let Err(err) = step {
                        failures.lock().unwrap_or_else(|p| p.into_inner()).push(err);
                    }
                };
                for (g, name) in names.iter().enumerate() {
                    fail(worker.attach(&handle, name, &address(w, g)));
                    if g < CHURN {
                        fail(worker.detach(&handle, name));
                    }
                }
                attached.wait();
                checked.wait();
                for name in &names[CHURN..] {
                    fail(worker.detach(&handle, name));
                }
            });
        }
        attached.wait();
        let result = std::panic::catch_unwind(|| {
            check_attached(&sandbox, &hostname, &guests, &state.0, &failures);
        });
        checked.wait();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(failures.is_empty(), "{} failures, the first: {:?}", failures.len(), failures.first());
    assert_eq!(sandbox.link_names(&hostname), ["lo"], "the ports and the bridge are gone");
    let records = StateStore::new(&state.0).all().unwrap();
    assert!(records.is_empty(), "{} records left", records.len());
    assert_eq!(leftover_files(&state.0), [".lock"], "no temporary file left");
    for name in guests.iter().flatten() {
        assert_eq!(sandbox.link_names(name), ["lo"], "{name} is back as it was");
    }
    eprintln!(
        "{workers} workers via {via:?}: {} attaches and {} detaches in {:?} ({:?} creating the namespaces)",
        workers * GUESTS,
        workers * GUESTS,
        started.elapsed() - created,
        created
    );
}

/// Between the attaches and the detaches: every kept guest on the bridge once, with its own
/// address, its record matching the kernel; the churned ones gone without a trace.
fn check_attached(
    sandbox: &Sandbox,
    hostname: &str,
    guests: &[Vec<String>],
    state: &Path,
    failures: &Mutex<Vec<String>>,
) {
    let failed = failures.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(failed.is_empty(), "{} failures, the first: {:?}", failed.len(), failed[0]);
    let kept = guests.len() * (GUESTS - CHURN);
    let ports = sandbox.ip_json(hostname, &["link", "show", "master", BRIDGE]);
    let ports: Vec<(String, u64)> = ports
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["ifname"].as_str().unwrap().to_string(), p["ifindex"].as_u64().unwrap()))
        .collect();
    assert_eq!(ports.len(), kept, "one port per kept guest");
    assert_eq!(ports.iter().map(|p| &p.0).collect::<BTreeSet<_>>().len(), kept, "unique names");
    let records = StateStore::new(state).all().unwrap();
    assert_eq!(records.len(), kept, "one record per kept guest");
    let mut addresses = BTreeSet::new();
    for record in &records {
        let attachment = &record.attachment;
        let port = (attachment.host_ifname.clone(), u64::from(attachment.host_ifindex));
        assert!(ports.contains(&port), "the record's host end {port:?} is a port of the bridge");
        assert_eq!(attachment.plan.addresses.len(), 1);
        assert!(addresses.insert(attachment.plan.addresses[0]), "unique addresses");
    }
    for (w, names) in guests.iter().enumerate() {
        for (g, name) in names.iter().enumerate() {
            if g < CHURN {
                assert_eq!(sandbox.link_names(name), ["lo"], "{name} was detached");
            } else {
                assert_eq!(sandbox.global_addresses(name, "eth1"), [address(w, g)], "{name}");
            }
        }
    }
}

fn leftover_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn two_commands_at_once_attach_and_detach_100_guests_each() {
    run(2, Via::Command);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn four_commands_at_once_attach_and_detach_100_guests_each() {
    run(4, Via::Command);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn two_library_threads_at_once_attach_and_detach_100_guests_each() {
    run(2, Via::Library);
}

#[test]
#[ignore = "needs root; scripts/test.sh runs it"]
fn four_library_threads_at_once_attach_and_detach_100_guests_each() {
    run(4, Via::Library);
}
