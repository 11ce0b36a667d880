//! Processes identified by PID *and* start time, so that a recycled PID is never taken for them.

use std::fs;

use crate::{
    error::{Error, Op, Result},
    netns::Namespace,
};

/// A process as /proc shows it: its PID and the time it started, which together never repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    /// The PID in pipework's PID namespace.
    pub pid: u32,
    /// Clock ticks from boot to the process's start (field 22 of /proc/PID/stat).
    pub start_time: u64,
}

impl Process {
    /// Reads the start time of `pid`; the process must exist.
    pub fn of(pid: u32) -> Result<Self> {
        let path = format!("/proc/{pid}/stat");
        let stat = fs::read_to_string(&path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound { op: Op::Resolve, object: format!("process {pid}") }
            }
            _ => Error::io(Op::Resolve, path.clone(), &err),
        })?;
        let start_time = parse_start_time(&stat).ok_or_else(|| Error::Protocol {
            op: Op::Resolve,
            object: path,
            detail: "no start time in field 22".into(),
        })?;
        Ok(Process { pid, start_time })
    }

    /// Opens the process's network namespace, then checks the PID was not recycled meanwhile.
    ///
    /// Equivalent to: opening `/proc/PID/ns/net`.
    pub fn open_namespace(&self) -> Result<Namespace> {
        let namespace = Namespace::from_pid(self.pid)?;
        self.ensure_same()?;
        Ok(namespace)
    }

    /// Whether the process still runs: the same start time, and not a zombie left for its
    /// parent to reap (a zombie keeps its /proc entry).
    pub fn is_running(&self) -> bool {
        fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|stat| {
            parse_start_time(&stat) == Some(self.start_time) && parse_state(&stat) != Some('Z')
        })
    }

    /// Fails unless the process still runs (a recycled PID has another start time).
    pub fn ensure_same(&self) -> Result<()> {
        match Process::of(self.pid) {
            Ok(now) if now == *self => Ok(()),
            Ok(_) | Err(Error::NotFound { .. }) => Err(Error::NotFound {
                op: Op::Resolve,
                object: format!("process {} (it exited, and its PID may be reused)", self.pid),
            }),
            Err(err) => Err(err),
        }
    }
}

/// The fields of /proc/PID/stat after the command (which may contain spaces and `)`),
/// starting with field 3, the state.
fn fields_after_command(stat: &str) -> Option<Vec<&str>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().collect())
}

/// The start time from the text of /proc/PID/stat: field 22, 19 after the state.
fn parse_start_time(stat: &str) -> Option<u64> {
    fields_after_command(stat)?.get(19)?.parse().ok()
}

/// The state letter from the text of /proc/PID/stat (`R`, `S`, `Z` for a zombie, ...).
fn parse_state(stat: &str) -> Option<char> {
    fields_after_command(stat)?.first()?.chars().next()
}

/// The value of one line of /proc/PID/status (`NSpid`, `PPid`), when the process exists.
pub(crate) fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == field).then(|| value.trim().to_string())
    })
}

/// How deep `pid` sits below pipework's PID namespace when it is PID 1 of its own namespace
/// (the number of `NSpid` entries), or `None` when it is not an init process.
pub(crate) fn init_depth(pid: u32) -> Option<usize> {
    let nspid = status_field(pid, "NSpid")?;
    let ids: Vec<&str> = nspid.split_whitespace().collect();
    (ids.len() > 1 && ids.last() == Some(&"1")).then_some(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_state(stat), Some('S'));
        assert_eq!(parse_start_time("42 (x) S 1"), None);
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn own_process_is_found_and_stays_the_same() {
        let me = Process::of(std::process::id()).expect("own stat");
        assert!(me.start_time > 0);
        me.ensure_same().expect("still running");
        let namespace = me.open_namespace().expect("own namespace");
        assert_eq!(namespace.id(), Namespace::current().expect("current").id());
    }

    #[test]
    fn a_changed_start_time_means_another_process() {
        let me = Process::of(std::process::id()).expect("own stat");
        let impostor = Process { start_time: me.start_time + 1, ..me };
        assert!(me.is_running() && !impostor.is_running());
        let err = impostor.ensure_same().unwrap_err();
        assert!(err.to_string().contains("exited"), "{err}");
    }

    #[test]
    fn status_fields_are_read() {
        let pid = std::process::id();
        assert_eq!(status_field(pid, "Pid"), Some(pid.to_string()));
        assert_eq!(status_field(pid, "NoSuchField"), None);
    }
}
