//! The lease keeper daemon: a background process that keeps a native lease after the
//! command that obtained it has exited (`--daemon`), stopped (and the lease released) by
//! detach through its pidfile.
//!
//! The caller obtains the lease itself (so its errors are the usual ones), then starts the
//! keeper program with the lease, the guest's namespace as descriptor 3 and a pipe as
//! descriptor 4; the keeper adopts the lease ([`DhcpLease::adopt`]), writes its pidfile,
//! says `ok` on the pipe and detaches. SIGTERM (or SIGINT, SIGHUP) makes it release the
//! lease and exit; it also exits when its guest goes away.

use std::{
    fs,
    io::{Read, Write},
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
        unix::process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use nix::{
    fcntl::{FcntlArg, OFlag, fcntl},
    sys::signal::{SigSet, Signal},
    unistd::{pipe2, setsid},
};
use serde::{Deserialize, Serialize};

use super::{
    config::DhcpConfig,
    lease::LeaseRecord,
    native::{DhcpLease, LeaseEvent},
    process::{ClientProcess, run_dir},
};
use crate::{
    error::{Error, Op, Result},
    netns::Namespace,
    resolve::{Guest, GuestRecord},
};

/// The keeper program's name, looked for next to the running program and in `$PATH`.
pub const KEEPER_PROGRAM: &str = "pipework-dhcp-keeper";

/// Where the keeper finds the guest's namespace and its readiness pipe.
const NAMESPACE_FD: RawFd = 3;
const READY_FD: RawFd = 4;

/// How long a keeper may take to adopt the lease and answer.
const READY_WAIT: Duration = Duration::from_secs(10);

/// The program that runs the lease keeper: `program args... REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeeperCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the request (`["dhcp-keeper"]` for a subcommand of a larger program).
    pub args: Vec<String>,
}

/// The keeper this program gave with [`KeeperCommand::set_default`].
static DEFAULT_KEEPER: std::sync::OnceLock<KeeperCommand> = std::sync::OnceLock::new();

impl KeeperCommand {
    /// Makes `keeper` what [`KeeperCommand::locate`] finds from now on, in this process (a
    /// program that is its own keeper, like the `pipework` command, gives itself); the first
    /// call wins.
    pub fn set_default(keeper: KeeperCommand) {
        let _ = DEFAULT_KEEPER.set(keeper);
    }

    /// The keeper given with [`KeeperCommand::set_default`], else `pipework-dhcp-keeper`
    /// next to the running program, else in `$PATH`.
    pub fn locate() -> Result<Self> {
        if let Some(keeper) = DEFAULT_KEEPER.get() {
            return Ok(keeper.clone());
        }
        let beside =
            std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(KEEPER_PROGRAM)));
        let path = std::env::var("PATH").unwrap_or_default();
        beside
            .into_iter()
            .chain(path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(KEEPER_PROGRAM)))
            .find(|candidate| candidate.is_file())
            .map(|program| KeeperCommand { program, args: Vec::new() })
            .ok_or_else(|| Error::NotFound {
                op: Op::RunProgram,
                object: format!(
                    "the lease keeper program {KEEPER_PROGRAM:?} (looked next to this program and in $PATH; \
                     it is built with pipework-core, or give a KeeperCommand)"
                ),
            })
    }
}

/// What the keeper is asked to keep.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    guest: GuestRecord,
    config: DhcpConfig,
    lease: LeaseRecord,
    pidfile: PathBuf,
}

/// Starts a keeper for `lease` (already obtained and applied) and waits until it holds it.
pub(crate) fn spawn(
    guest: &Guest,
    config: &DhcpConfig,
    lease: &LeaseRecord,
    pidfile: Option<&Path>,
    keeper: &KeeperCommand,
) -> Result<ClientProcess> {
    let dir = run_dir(guest.namespace.id(), &lease.ifname);
    let pidfile = pidfile.map(Path::to_path_buf).unwrap_or_else(|| dir.join("keeper.pid"));
    let fail = |path: &Path, err: std::io::Error| {
        Error::io(Op::WriteFile, path.display().to_string(), &err)
    };
    fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
    if let Some(parent) = pidfile.parent() {
        fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
    }
    let request = Request {
        guest: guest.record(),
        config: config.clone(),
        lease: lease.clone(),
        pidfile: pidfile.clone(),
    };
    let request = serde_json::to_string(&request).expect("a request serialises");
    let shown = keeper.program.display().to_string();
    let io = |err: std::io::Error| Error::io(Op::RunProgram, &shown, &err);
    let (ready_read, ready_write) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::kernel(Op::RunProgram, &shown, e))?;
    // Above the target numbers, so placing one cannot overwrite the other in the child.
    let high = |fd: BorrowedFd| -> Result<OwnedFd> {
        let raw = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(10))
            .map_err(|e| Error::kernel(Op::RunProgram, &shown, e))?;
        // SAFETY: fcntl just returned this new descriptor; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    };
    let namespace_fd = high(guest.namespace.as_fd())?;
    let ready_fd = high(ready_write.as_fd())?;
    drop(ready_write);
    let log = fs::File::create(dir.join("keeper.log")).map_err(|e| fail(&dir, e))?;
    let mut command = Command::new(&keeper.program);
    command.args(&keeper.args).arg(&request).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
    let (ns_raw, ready_raw) = (namespace_fd.as_raw_fd(), ready_fd.as_raw_fd());
    // SAFETY: only system calls between fork and exec (setsid, dup2 of descriptors that
    // stay open in the parent until spawn returns).
    unsafe {
        command.pre_exec(move || {
            setsid()?;
            for (from, to) in [(ns_raw, NAMESPACE_FD), (ready_raw, READY_FD)] {
                // dup2 leaves the copy without close-on-exec: the keeper inherits it.
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(io)?;
    drop((namespace_fd, ready_fd));
    let answer = read_answer(ready_read, READY_WAIT);
    let process = match answer.as_deref() {
        Some("ok") => ClientProcess::from_pidfile(KEEPER_PROGRAM, &pidfile, &dir),
        _ => None,
    };
    let Some(process) = process else {
        // It may have exited already; either way it is reaped before its files go.
        let _ = child.kill();
        let _ = child.wait();
        let log = fs::read_to_string(dir.join("keeper.log")).unwrap_or_default();
        let removed = fs::remove_dir_all(&dir)
            .map_err(|err| Error::io(Op::WriteFile, dir.display().to_string(), &err));
        let failed = Error::Failed {
            op: Op::RunProgram,
            object: format!("{shown} (lease keeper for {} in {guest})", lease.ifname),
            detail: match answer {
                Some(text) if text != "ok" => text,
                _ => format!("it did not start: {}", log.trim()),
            },
        };
        return Err(failed.rolled_back(removed));
    };
    // The keeper is this process's child until this process exits: reap it when it ends.
    std::thread::spawn(move || child.wait());
    Ok(process)
}

/// Reads the keeper's one-line answer, waiting at most `limit`.
fn read_answer(pipe: OwnedFd, limit: Duration) -> Option<String> {
    let mut poll = [nix::poll::PollFd::new(pipe.as_fd(), nix::poll::PollFlags::POLLIN)];
    let timeout = nix::poll::PollTimeout::try_from(limit).ok()?;
    if nix::poll::poll(&mut poll, timeout).ok()? == 0 {
        return None;
    }
    let mut text = String::new();
    fs::File::from(pipe).read_to_string(&mut text).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// The keeper program's body: adopt the lease, say so, keep it until told to stop.
///
/// `args` ends with the request; the exit code is 0 after a clean stop. Programs that
/// embed the keeper (a `pipework dhcp-keeper` subcommand) call this with their arguments.
pub fn serve_keeper(args: &[String]) -> i32 {
    // Signals are taken with sigtimedwait: block them before any thread exists.
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(signal);
    }
    let _ = signals.thread_block();
    // SAFETY: the parent placed these two descriptors for this process alone.
    let (namespace_fd, ready) =
        unsafe { (OwnedFd::from_raw_fd(NAMESPACE_FD), OwnedFd::from_raw_fd(READY_FD)) };
    let mut ready = fs::File::from(ready);
    let adopted = args
        .last()
        .ok_or_else(|| Error::invalid("keeper request", "", "is missing"))
        .and_then(|text| {
            serde_json::from_str::<Request>(text)
                .map_err(|e| Error::invalid("keeper request", text, e.to_string()))
        })
        .and_then(|request| {
            let guest = request.guest.with_namespace(Namespace::from_inherited_fd(namespace_fd)?);
            if guest.namespace.id() != request.guest.namespace {
                return Err(Error::invalid(
                    "keeper namespace",
                    guest.namespace.to_string(),
                    "is not the guest's",
                ));
            }
            let lease = DhcpLease::adopt(&guest, &request.lease, &request.config)?;
            fs::write(&request.pidfile, format!("{}\n", std::process::id()))
                .map_err(|e| Error::io(Op::WriteFile, request.pidfile.display().to_string(), &e))?;
            Ok((lease, request.pidfile))
        });
    let (lease, pidfile) = match adopted {
        Ok(adopted) => adopted,
        Err(err) => {
            eprintln!("{err}");
            let _ = writeln!(ready, "{err}");
            return 1;
        }
    };
    let _ = writeln!(ready, "ok");
    drop(ready);
    eprintln!(
        "keeping the DHCP lease {}",
        serde_json::to_string(&lease.record()).unwrap_or_default()
    );
    let code = loop {
        if let Some(signal) = wait_signal(&signals, Duration::from_millis(500)) {
            eprintln!("{signal}: releasing the lease");
            break match lease.release() {
                Ok(()) => 0,
                Err(err) => {
                    eprintln!("{err}");
                    1
                }
            };
        }
        if let Some(event) = lease.next_event(Duration::ZERO) {
            eprintln!("{}", serde_json::to_string(&event).unwrap_or_default());
            if matches!(event, LeaseEvent::Ended { .. }) {
                drop(lease);
                break 0;
            }
        }
    };
    let _ = fs::remove_file(&pidfile);
    code
}

/// Waits up to `limit` for one of `signals`.
fn wait_signal(signals: &SigSet, limit: Duration) -> Option<Signal> {
    let timeout =
        libc::timespec { tv_sec: limit.as_secs() as i64, tv_nsec: limit.subsec_nanos().into() };
    // SAFETY: sigtimedwait reads the set and the timeout, and writes no info (null).
    let number = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &timeout) };
    Signal::try_from(number).ok()
}
