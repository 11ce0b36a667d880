//! The one error type of pipework-core: every variant names the operation, the object and the cause.

use std::{fmt, io};

use nix::errno::Errno;

/// What pipework was doing when an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// Opening a network namespace (`/proc/PID/ns/net`, `/run/netns/NAME`, a path).
    OpenNamespace,
    /// Creating a network namespace (`ip netns add`).
    CreateNamespace,
    /// Deleting a named network namespace (`ip netns del`).
    DeleteNamespace,
    /// Switching a thread into a network namespace (`setns`).
    EnterNamespace,
    /// Opening a netlink socket.
    OpenNetlink,
    /// Creating a link (`ip link add`).
    LinkAdd,
    /// Changing a link (`ip link set`).
    LinkSet,
    /// Deleting a link (`ip link del`).
    LinkDel,
    /// Reading a link (`ip link show`).
    LinkGet,
    /// Adding an address (`ip addr add`).
    AddrAdd,
    /// Deleting an address (`ip addr del`).
    AddrDel,
    /// Reading addresses (`ip addr show`).
    AddrGet,
    /// Adding a route (`ip route add`).
    RouteAdd,
    /// Deleting a route (`ip route del`).
    RouteDel,
    /// Reading routes (`ip route show`).
    RouteGet,
    /// Adding a forwarding database entry (`bridge fdb append`).
    FdbAdd,
    /// Deleting a forwarding database entry (`bridge fdb del`).
    FdbDel,
    /// Reading forwarding database entries (`bridge fdb show`).
    FdbGet,
    /// Setting a link's queueing discipline (`tc qdisc replace`).
    QdiscSet,
    /// Sending or receiving a probe packet (ICMP echo, gratuitous ARP).
    Probe,
    /// Attaching a guest to a network (the whole pipework operation).
    Attach,
    /// Undoing an attachment.
    Detach,
    /// Comparing an attachment with what the kernel has now.
    Check,
    /// Finding the network namespace of a guest (container, PID, name).
    Resolve,
    /// Waiting for a link to reach a state.
    Wait,
    /// Reading or writing pipework's records of attachments.
    State,
    /// Reading TIPC state (`tipc node|bearer|link list`).
    TipcGet,
    /// Setting a TIPC node's identity, address or network id (`tipc node set`).
    TipcNode,
    /// Enabling, changing or disabling a TIPC bearer (`tipc bearer`).
    TipcBearer,
    /// Configuring a TIPC bus over several guests.
    TipcBus,
    /// Sending or receiving on an AF_TIPC socket.
    TipcSocket,
    /// Asking a container engine (Docker, Podman, LXC) about a container.
    QueryEngine,
    /// Reading or changing Open vSwitch's configuration through ovsdb-server.
    Ovsdb,
    /// Obtaining a DHCP lease (DHCPDISCOVER to DHCPACK) and applying it.
    DhcpAcquire,
    /// Renewing or rebinding a DHCP lease.
    DhcpRenew,
    /// Giving a DHCP lease back (DHCPRELEASE) and removing what it configured.
    DhcpRelease,
    /// Running a helper program (an external DHCP client, the lease keeper).
    RunProgram,
    /// Stopping a process pipework started.
    StopProcess,
    /// Writing a file pipework manages (resolv.conf, pid and lease files).
    WriteFile,
    /// Reading a file pipework is given (a topology file).
    ReadFile,
}

impl Op {
    /// The capability the kernel checks for this operation, named in EPERM messages.
    pub fn capability(self) -> &'static str {
        match self {
            Op::OpenNamespace
            | Op::CreateNamespace
            | Op::DeleteNamespace
            | Op::EnterNamespace
            | Op::Resolve => "CAP_SYS_ADMIN",
            Op::State => "write access to the state directory",
            // Root passes a socket's file permissions with CAP_DAC_OVERRIDE.
            Op::QueryEngine => "CAP_DAC_OVERRIDE",
            Op::Probe | Op::DhcpAcquire | Op::DhcpRenew | Op::DhcpRelease => "CAP_NET_RAW",
            Op::StopProcess => "CAP_KILL",
            Op::WriteFile | Op::ReadFile => "CAP_DAC_OVERRIDE",
            Op::Ovsdb => "write access to the ovsdb-server socket",
            _ => "CAP_NET_ADMIN",
        }
    }
}

impl Op {
    /// Whether this operation opens, creates, enters or deletes a namespace.
    pub fn is_namespace_op(self) -> bool {
        matches!(
            self,
            Op::OpenNamespace | Op::CreateNamespace | Op::DeleteNamespace | Op::EnterNamespace
        )
    }

    /// Whether this operation is part of a DHCP exchange (acquire, renew, release).
    pub fn is_dhcp_op(self) -> bool {
        matches!(self, Op::DhcpAcquire | Op::DhcpRenew | Op::DhcpRelease)
    }

    /// Whether this operation reads or changes TIPC (a node, a bearer, a bus, a socket).
    pub fn is_tipc_op(self) -> bool {
        matches!(self, Op::TipcGet | Op::TipcNode | Op::TipcBearer | Op::TipcBus | Op::TipcSocket)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::OpenNamespace => "open network namespace",
            Op::CreateNamespace => "create network namespace",
            Op::DeleteNamespace => "delete network namespace",
            Op::EnterNamespace => "enter network namespace",
            Op::OpenNetlink => "open netlink socket in",
            Op::LinkAdd => "create link",
            Op::LinkSet => "change link",
            Op::LinkDel => "delete link",
            Op::LinkGet => "read link",
            Op::AddrAdd => "add address",
            Op::AddrDel => "delete address",
            Op::AddrGet => "read addresses of",
            Op::RouteAdd => "add route",
            Op::RouteDel => "delete route",
            Op::RouteGet => "read routes of",
            Op::FdbAdd => "add forwarding entry",
            Op::FdbDel => "delete forwarding entry",
            Op::FdbGet => "read forwarding entries of",
            Op::QdiscSet => "set queueing discipline",
            Op::Probe => "probe",
            Op::Attach => "attach",
            Op::Detach => "detach",
            Op::Check => "check",
            Op::Resolve => "resolve guest",
            Op::Wait => "wait for",
            Op::State => "record",
            Op::TipcGet => "read TIPC",
            Op::TipcNode => "set TIPC",
            Op::TipcBearer => "configure TIPC",
            Op::TipcBus => "configure TIPC bus",
            Op::TipcSocket => "use TIPC socket for",
            Op::QueryEngine => "query container engine",
            Op::Ovsdb => "configure Open vSwitch",
            Op::DhcpAcquire => "acquire a DHCP lease on",
            Op::DhcpRenew => "renew the DHCP lease of",
            Op::DhcpRelease => "release the DHCP lease of",
            Op::RunProgram => "run",
            Op::StopProcess => "stop",
            Op::WriteFile => "write",
            Op::ReadFile => "read",
        })
    }
}

/// Renders an errno with its description and, for EPERM, the capability that is missing.
fn describe_errno(op: Op, errno: Errno) -> String {
    let text = io::Error::from_raw_os_error(errno as i32);
    match errno {
        Errno::EPERM | Errno::EACCES if op == Op::QueryEngine => format!(
            "{text} (run as root, or as a member of the group that owns the engine's socket)"
        ),
        Errno::EPERM | Errno::EACCES => {
            // Any uid with the capability may do it, not only root.
            format!("{text} (this needs {})", op.capability())
        }
        _ => text.to_string(),
    }
}

/// Every failure of pipework-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused an operation; `errno` is its answer.
    #[error("cannot {op} {object}: {}", describe_errno(*op, *errno))]
    Kernel {
        /// What was being done.
        op: Op,
        /// The link, address, route or namespace it was done to.
        object: String,
        /// The kernel's answer.
        errno: Errno,
    },
    /// An argument is malformed or out of range; nothing was changed.
    #[error("invalid {argument} {value:?}: {reason}")]
    InvalidArgument {
        /// The name of the argument (`address`, `mac`, `guest ifname`, ...).
        argument: String,
        /// The value given.
        value: String,
        /// Why it is refused, with the fix where one is obvious.
        reason: String,
    },
    /// Something the operation needs does not exist.
    #[error("cannot {op}: {object} does not exist")]
    NotFound {
        /// What was being done.
        op: Op,
        /// What is missing, with where it was looked for.
        object: String,
    },
    /// Something the operation would create already exists and is not ours to reuse.
    #[error("cannot {op}: {object} already exists{}", hint_suffix(hint))]
    AlreadyExists {
        /// What was being done.
        op: Op,
        /// What exists, with where.
        object: String,
        /// How to get past it.
        hint: String,
    },
    /// The system is in a state that contradicts the request.
    #[error("cannot {op} {object}: {reason}")]
    Conflict {
        /// What was being done.
        op: Op,
        /// What is in the way.
        object: String,
        /// What is in conflict.
        reason: String,
    },
    /// The kernel or the machine lacks a feature the request needs.
    #[error("cannot {op} {object}: {reason}")]
    Unsupported {
        /// What was being done.
        op: Op,
        /// What it was done to.
        object: String,
        /// What is missing, and the fix where one exists.
        reason: String,
    },
    /// Nothing answered in time; nothing was left behind.
    #[error("cannot {op} {object}: no answer within {}: {detail}", format_duration(*waited))]
    Timeout {
        /// What was being done.
        op: Op,
        /// What it was done to.
        object: String,
        /// How long pipework waited.
        waited: std::time::Duration,
        /// What was, and was not, heard.
        detail: String,
    },
    /// A peer (a DHCP server) answered with a refusal.
    #[error("cannot {op} {object}: {by} refused: {reason}")]
    Refused {
        /// What was being done.
        op: Op,
        /// What it was done to.
        object: String,
        /// Who refused (the server's address).
        by: String,
        /// The reason given, or what the refusal was.
        reason: String,
    },
    /// A helper program or a protocol exchange failed; `detail` has its own words.
    #[error("cannot {op} {object}: {detail}")]
    Failed {
        /// What was being done.
        op: Op,
        /// What it was done to (a program with its arguments, an interface).
        object: String,
        /// What went wrong: an exit status and the program's last words, a protocol error.
        detail: String,
    },
    /// The kernel or a container engine answered something pipework cannot decode.
    #[error("cannot {op} {object}: unexpected answer: {detail}")]
    Protocol {
        /// What was being done.
        op: Op,
        /// What it was done to.
        object: String,
        /// What was unexpected.
        detail: String,
    },
    /// Several steps failed: a teardown runs every step and keeps each failure, in order.
    #[error("cannot {op} {object}: {} steps failed: {}", errors.len(), list(errors))]
    Several {
        /// What was being done.
        op: Op,
        /// What it was done to.
        object: String,
        /// Every failure, in the order the steps ran (never fewer than two).
        errors: Vec<Error>,
    },
    /// An operation failed, and undoing what it had made failed too: something may be left.
    #[error("{error}; undoing what it made failed too, so something may be left: {rollback}")]
    RollbackFailed {
        /// The failure that made the rollback necessary.
        error: Box<Error>,
        /// The rollback's own failure.
        rollback: Box<Error>,
    },
    /// No resolver of the chain recognised a guest; every resolver's answer is kept.
    #[error("cannot resolve guest {target:?}: no resolver knows it ({})", answers.join("; "))]
    Unresolved {
        /// The target as given.
        target: String,
        /// Each resolver's name and answer, in chain order (`docker: ...`).
        answers: Vec<String>,
    },
}

/// `1.5s`, `30s`, `250ms`: a duration the way a person writes it.
fn format_duration(duration: std::time::Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration.as_secs() == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// `(1) first; (2) second`: every failure of a teardown, numbered.
fn list(errors: &[Error]) -> String {
    let numbered = errors.iter().enumerate().map(|(i, err)| format!("({}) {err}", i + 1));
    numbered.collect::<Vec<_>>().join("; ")
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() { String::new() } else { format!("; {hint}") }
}

impl Error {
    /// The failure that stands for this error: the first of [`Error::Several`], the cause of
    /// [`Error::RollbackFailed`], the error itself otherwise. Its errno and category are this
    /// error's.
    pub fn primary(&self) -> &Error {
        match self {
            Error::Several { errors, .. } => errors.first().map_or(self, Error::primary),
            Error::RollbackFailed { error, .. } => error.primary(),
            _ => self,
        }
    }

    /// Every failure this error holds: the steps of [`Error::Several`], the cause and the
    /// rollback of [`Error::RollbackFailed`], or the error itself.
    pub fn failures(&self) -> Vec<&Error> {
        match self {
            Error::Several { errors, .. } => errors.iter().flat_map(Error::failures).collect(),
            Error::RollbackFailed { error, rollback } => {
                error.failures().into_iter().chain(rollback.failures()).collect()
            }
            _ => vec![self],
        }
    }

    /// This error with the failure of the rollback it caused beside it, if the rollback failed.
    pub fn rolled_back(self, rollback: Result<()>) -> Error {
        match rollback {
            Ok(()) => self,
            Err(failed) => {
                Error::RollbackFailed { error: Box::new(self), rollback: Box::new(failed) }
            }
        }
    }

    /// The errno that best describes this error (the kernel's own for kernel failures).
    pub fn errno(&self) -> Errno {
        match self.primary() {
            Error::Kernel { errno, .. } => *errno,
            Error::InvalidArgument { .. } => Errno::EINVAL,
            Error::NotFound { .. } => Errno::ENOENT,
            Error::AlreadyExists { .. } => Errno::EEXIST,
            Error::Conflict { .. } => Errno::EBUSY,
            Error::Unsupported { .. } => Errno::EOPNOTSUPP,
            Error::Protocol { .. } => Errno::EPROTO,
            Error::Unresolved { .. } => Errno::ENOENT,
            Error::Timeout { .. } => Errno::ETIMEDOUT,
            Error::Refused { .. } => Errno::ECONNREFUSED,
            Error::Failed { .. } => Errno::EIO,
            Error::Several { .. } | Error::RollbackFailed { .. } => Errno::EIO,
        }
    }

    /// The family of this error, which the bindings turn into their own error types.
    pub fn category(&self) -> Category {
        if !std::ptr::eq(self.primary(), self) {
            return self.primary().category();
        }
        match self {
            Error::InvalidArgument { .. } => return Category::InvalidArgument,
            Error::Kernel { errno: Errno::EPERM | Errno::EACCES, .. } => {
                return Category::MissingCapability;
            }
            _ => {}
        }
        if self.op() == Some(Op::Resolve) {
            return Category::Resolve;
        }
        match self.errno() {
            Errno::ENOENT | Errno::ENODEV | Errno::ESRCH => Category::NotFound,
            Errno::EEXIST => Category::AlreadyExists,
            _ if self.op().is_some_and(Op::is_namespace_op) => Category::Namespace,
            _ if self.op().is_some_and(Op::is_dhcp_op) => Category::Dhcp,
            _ if self.op().is_some_and(Op::is_tipc_op) => Category::Tipc,
            _ => Category::Other,
        }
    }

    /// The capability whose absence made the kernel refuse, for EPERM and EACCES.
    pub fn missing_capability(&self) -> Option<&'static str> {
        match self.primary() {
            Error::Kernel { op, errno: Errno::EPERM | Errno::EACCES, .. } => Some(op.capability()),
            _ => None,
        }
    }

    /// What was being done, for every error that records it.
    pub fn op(&self) -> Option<Op> {
        match self {
            Error::Kernel { op, .. }
            | Error::NotFound { op, .. }
            | Error::AlreadyExists { op, .. }
            | Error::Conflict { op, .. }
            | Error::Unsupported { op, .. }
            | Error::Protocol { op, .. }
            | Error::Timeout { op, .. }
            | Error::Refused { op, .. }
            | Error::Failed { op, .. }
            | Error::Several { op, .. } => Some(*op),
            Error::RollbackFailed { error, .. } => error.op(),
            Error::Unresolved { .. } => Some(Op::Resolve),
            Error::InvalidArgument { .. } => None,
        }
    }

    /// Builds a kernel error from an `io::Error`, keeping its errno.
    pub fn io(op: Op, object: impl Into<String>, err: &io::Error) -> Self {
        Error::Kernel {
            op,
            object: object.into(),
            errno: Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)),
        }
    }

    /// Builds a kernel error from an errno.
    pub fn kernel(op: Op, object: impl Into<String>, errno: Errno) -> Self {
        Error::Kernel { op, object: object.into(), errno }
    }

    /// Builds an invalid-argument error.
    pub fn invalid(
        argument: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            argument: argument.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Runs every step of a teardown and keeps every failure, so that one failed step skips nothing.
///
/// ```
/// use pipework_core::error::{Error, Failures, Op, Result};
///
/// let failed = |reason: &str| -> Result<()> { Err(Error::invalid("step", "1", reason)) };
/// let mut steps = Failures::new(Op::Detach, "eth1");
/// steps.run(failed("first"));
/// steps.run(Ok(()));
/// steps.run(failed("second"));
/// let err = steps.finish().unwrap_err();
/// assert_eq!(err.failures().len(), 2);
/// ```
#[derive(Debug)]
pub struct Failures {
    op: Op,
    object: String,
    errors: Vec<Error>,
}

impl Failures {
    /// No failure yet, for doing `op` to `object`.
    pub fn new(op: Op, object: impl Into<String>) -> Self {
        Failures { op, object: object.into(), errors: Vec::new() }
    }

    /// Keeps the failure of one step (the steps of a nested teardown one by one) and gives
    /// back its value when it succeeded.
    pub fn run<T>(&mut self, step: Result<T>) -> Option<T> {
        match step {
            Ok(value) => Some(value),
            Err(Error::Several { errors, .. }) => {
                self.errors.extend(errors);
                None
            }
            Err(err) => {
                self.errors.push(err);
                None
            }
        }
    }

    /// `Ok` when every step succeeded, the one failure, or [`Error::Several`] for more.
    pub fn finish(mut self) -> Result<()> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(self.errors.remove(0)),
            _ => Err(Error::Several { op: self.op, object: self.object, errors: self.errors }),
        }
    }
}

/// The families of errors that the bindings map to their own types (Python exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// A malformed or out-of-range argument; nothing was changed.
    InvalidArgument,
    /// The kernel refused for lack of a capability ([`Error::missing_capability`] names it).
    MissingCapability,
    /// A guest target could not be resolved.
    Resolve,
    /// Something needed does not exist.
    NotFound,
    /// Something to be created already exists.
    AlreadyExists,
    /// A namespace could not be opened, created, entered or deleted.
    Namespace,
    /// A DHCP exchange failed: no answer, a refusal, a client that failed, a lease run out.
    Dhcp,
    /// A TIPC operation failed, including a kernel without TIPC.
    Tipc,
    /// Any other failure.
    Other,
}

/// The result type of pipework-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_names_the_missing_capability() {
        let err = Error::kernel(Op::LinkAdd, "veth0", Errno::EPERM);
        let text = err.to_string();
        assert!(text.contains("CAP_NET_ADMIN"), "{text}");
        assert!(text.contains("create link veth0"), "{text}");
        assert_eq!(err.errno(), Errno::EPERM);
        let err = Error::kernel(Op::EnterNamespace, "netns x", Errno::EPERM);
        assert!(err.to_string().ends_with("(this needs CAP_SYS_ADMIN)"), "{err}");
    }

    #[test]
    fn categories_follow_the_kind_then_the_operation_then_the_errno() {
        let cases = [
            (Error::invalid("mtu", "1", "too small"), Category::InvalidArgument),
            (Error::kernel(Op::LinkAdd, "br0", Errno::EPERM), Category::MissingCapability),
            (Error::kernel(Op::OpenNamespace, "/x", Errno::EACCES), Category::MissingCapability),
            (Error::NotFound { op: Op::Resolve, object: "guest".into() }, Category::Resolve),
            (Error::Unresolved { target: "web".into(), answers: vec![] }, Category::Resolve),
            (Error::NotFound { op: Op::LinkGet, object: "eth1".into() }, Category::NotFound),
            (Error::kernel(Op::LinkDel, "eth1", Errno::ENODEV), Category::NotFound),
            (Error::kernel(Op::LinkAdd, "br0", Errno::EEXIST), Category::AlreadyExists),
            (Error::kernel(Op::EnterNamespace, "x", Errno::EINVAL), Category::Namespace),
            (Error::kernel(Op::RouteAdd, "default", Errno::ENETUNREACH), Category::Other),
            (Error::kernel(Op::DhcpAcquire, "eth1", Errno::ETIMEDOUT), Category::Dhcp),
            (
                Error::Refused {
                    op: Op::DhcpRenew,
                    object: "eth1".into(),
                    by: "DHCP server 10.0.0.1".into(),
                    reason: "DHCPNAK".into(),
                },
                Category::Dhcp,
            ),
            // The interface a DHCP client or a TIPC bearer needs is missing: NotFound first.
            (Error::NotFound { op: Op::DhcpAcquire, object: "eth9".into() }, Category::NotFound),
            (Error::kernel(Op::DhcpRelease, "eth1", Errno::EPERM), Category::MissingCapability),
            (
                Error::Unsupported {
                    op: Op::TipcGet,
                    object: "netns x".into(),
                    reason: "the kernel has no TIPC".into(),
                },
                Category::Tipc,
            ),
            (Error::kernel(Op::TipcBus, "on 2 guests", Errno::ETIMEDOUT), Category::Tipc),
        ];
        for (err, category) in cases {
            assert_eq!(err.category(), category, "{err}");
        }
    }

    #[test]
    fn only_permission_errors_name_a_missing_capability() {
        let err = Error::kernel(Op::Probe, "10.0.0.1", Errno::EPERM);
        assert_eq!(err.missing_capability(), Some("CAP_NET_RAW"));
        assert_eq!(Error::kernel(Op::Probe, "x", Errno::EIO).missing_capability(), None);
        assert_eq!(Error::invalid("mac", "x", "bad").missing_capability(), None);
    }

    #[test]
    fn several_failures_and_a_failed_rollback_keep_every_error_and_the_first_errno() {
        let failed = |err: Error| -> Result<()> { Err(err) };
        let mut steps = Failures::new(Op::Detach, "eth1 from br1");
        steps.run(failed(Error::kernel(Op::LinkDel, "veth1", Errno::EPERM)));
        steps.run(Ok::<(), Error>(()));
        let mut nested = Failures::new(Op::Detach, "inner");
        nested.run(failed(Error::kernel(Op::RouteAdd, "default", Errno::EBUSY)));
        nested.run(failed(Error::NotFound { op: Op::LinkGet, object: "br1".into() }));
        steps.run(nested.finish());
        let err = steps.finish().unwrap_err();
        assert_eq!(err.failures().len(), 3, "a nested teardown's steps are flattened");
        assert_eq!(err.errno(), Errno::EPERM);
        assert_eq!(err.category(), Category::MissingCapability);
        assert_eq!(err.missing_capability(), Some("CAP_NET_ADMIN"));
        let text = err.to_string();
        assert!(
            text.starts_with(
                "cannot detach eth1 from br1: 3 steps failed: (1) cannot delete link veth1"
            ),
            "{text}"
        );
        assert!(text.contains("; (3) cannot read link: br1 does not exist"), "{text}");
        let one = Failures::new(Op::Detach, "x");
        assert!(one.finish().is_ok());
        let mut one = Failures::new(Op::Detach, "x");
        one.run(failed(Error::invalid("a", "1", "bad")));
        assert!(
            matches!(one.finish(), Err(Error::InvalidArgument { .. })),
            "one failure is itself"
        );

        let cause = Error::kernel(Op::AddrAdd, "10.0.0.2/24", Errno::EEXIST);
        assert!(matches!(cause.rolled_back(Ok(())), Error::Kernel { .. }));
        let cause = Error::kernel(Op::AddrAdd, "10.0.0.2/24", Errno::EEXIST);
        let both = cause.rolled_back(Err(Error::kernel(Op::LinkDel, "veth1", Errno::EBUSY)));
        assert_eq!((both.errno(), both.category()), (Errno::EEXIST, Category::AlreadyExists));
        assert_eq!(both.op(), Some(Op::AddrAdd));
        assert_eq!(
            both.to_string(),
            "cannot add address 10.0.0.2/24: File exists (os error 17); undoing what it made failed too, so something may be left: cannot delete link veth1: Device or resource busy (os error 16)"
        );
    }

    #[test]
    fn errno_of_each_variant() {
        assert_eq!(Error::invalid("mac", "x", "bad").errno(), Errno::EINVAL);
        let exists =
            Error::AlreadyExists { op: Op::Attach, object: "eth1".into(), hint: "use -i".into() };
        assert_eq!(exists.errno(), Errno::EEXIST);
        assert!(exists.to_string().ends_with("already exists; use -i"));
        let io = Error::io(Op::OpenNamespace, "/x", &io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(io.errno(), Errno::ENOENT);
        let timeout = Error::Timeout {
            op: Op::DhcpAcquire,
            object: "eth1".into(),
            waited: std::time::Duration::from_millis(1500),
            detail: "no DHCP server answered".into(),
        };
        assert_eq!(timeout.errno(), Errno::ETIMEDOUT);
        assert_eq!(
            timeout.to_string(),
            "cannot acquire a DHCP lease on eth1: no answer within 1.5s: no DHCP server answered"
        );
        let refused = Error::Refused {
            op: Op::DhcpAcquire,
            object: "eth1".into(),
            by: "DHCP server 10.0.0.1".into(),
            reason: "DHCPNAK \"wrong network\"".into(),
        };
        assert_eq!(refused.errno(), Errno::ECONNREFUSED);
        assert!(refused.to_string().contains("10.0.0.1 refused: DHCPNAK"), "{refused}");
    }
}
