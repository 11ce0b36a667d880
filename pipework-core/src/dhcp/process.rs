//! Background DHCP processes (external clients, the lease keeper daemon): their files under
//! /run/pipework, found again by pidfile and start time, and stopped by PID.

use std::{
    fs,
    path::{Path, PathBuf},
    thread::sleep,
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Op, Result},
    netns::NamespaceId,
    resolve::process::Process,
};

/// Where pipework keeps the pid, lease and log files of DHCP clients.
pub const RUN_DIR: &str = "/run/pipework/dhcp";

/// How often a stopping process is checked.
const STOP_POLL: Duration = Duration::from_millis(10);

/// The directory of one guest interface's DHCP files: `/run/pipework/dhcp/<netns inode>-<ifname>`.
pub fn run_dir(namespace: NamespaceId, ifname: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{}-{ifname}", namespace.ino))
}

/// A background process pipework started for a guest, as found again at detach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientProcess {
    /// What runs (`udhcpc`, `dhclient`, `dhcpcd`, or the lease keeper).
    pub program: String,
    /// Its process ID.
    pub pid: u32,
    /// Its start time (clock ticks since boot, `/proc/PID/stat` field 22), so that a
    /// recycled PID is never signalled.
    pub start_time: u64,
    /// The pidfile it wrote.
    pub pidfile: PathBuf,
    /// The directory of its files, removed when it is stopped.
    pub dir: PathBuf,
}

impl ClientProcess {
    /// The process a pidfile names, if it runs.
    pub(crate) fn from_pidfile(program: &str, pidfile: &Path, dir: &Path) -> Option<Self> {
        let pid: u32 = fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
        let start_time = Process::of(pid).ok()?.start_time;
        Some(ClientProcess {
            program: program.to_string(),
            pid,
            start_time,
            pidfile: pidfile.to_path_buf(),
            dir: dir.to_path_buf(),
        })
    }

    /// Whether the very process that was started still runs (not a zombie, not a new one).
    pub fn is_running(&self) -> bool {
        Process { pid: self.pid, start_time: self.start_time }.is_running()
    }

    /// Sends `signal` and waits up to `grace` for the process to end, then kills it; its
    /// files go with it.
    ///
    /// Equivalent to: `kill -SIGNAL $(cat PIDFILE); sleep; kill -KILL ...; rm -r DIR`.
    pub(crate) fn stop(&self, signal: Signal, grace: Duration) -> Result<()> {
        if self.is_running() {
            self.signal(signal)?;
            if !self.wait_gone(grace) {
                self.signal(Signal::SIGKILL)?;
                if !self.wait_gone(Duration::from_secs(2)) {
                    return Err(Error::Failed {
                        op: Op::StopProcess,
                        object: format!("{} (pid {})", self.program, self.pid),
                        detail: "it is still running after SIGKILL".into(),
                    });
                }
            }
        }
        self.remove_files();
        Ok(())
    }

    /// Waits up to `limit` for the process to end.
    pub fn wait_gone(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while self.is_running() {
            if start.elapsed() >= limit {
                return false;
            }
            sleep(STOP_POLL);
        }
        true
    }

    /// Removes the process's directory under /run/pipework.
    pub(crate) fn remove_files(&self) {
        if self.dir.starts_with(RUN_DIR) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        match kill(Pid::from_raw(self.pid as i32), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(Error::kernel(
                Op::StopProcess,
                format!("{} (pid {})", self.program, self.pid),
                errno,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_by_its_pidfile_and_a_recycled_pid_is_not() {
        let dir = std::env::temp_dir().join(format!("pipework-process-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("x.pid");
        fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
        let me = ClientProcess::from_pidfile("test", &pidfile, &dir).unwrap();
        assert!(me.is_running());
        let recycled = ClientProcess { start_time: me.start_time + 1, ..me.clone() };
        assert!(!recycled.is_running(), "another start time is another process");
        // Stopping a process that is not running only removes files, and never outside RUN_DIR.
        recycled.stop(Signal::SIGTERM, Duration::ZERO).unwrap();
        assert!(pidfile.exists());
        fs::remove_dir_all(&dir).unwrap();
        assert!(ClientProcess::from_pidfile("test", &pidfile, &dir).is_none());
    }

    #[test]
    fn run_dirs_are_per_namespace_and_interface() {
        let ns = NamespaceId { dev: 4, ino: 4026532999 };
        assert_eq!(run_dir(ns, "eth1"), Path::new("/run/pipework/dhcp/4026532999-eth1"));
    }
}
