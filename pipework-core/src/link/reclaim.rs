//! Link deletion that returns once the kernel has unlisted the link, leaving the kernel's
//! reclamation wait to a detached process: for short-lived callers such as the CNI plugin.
//!
//! The kernel answers an RTM_DELLINK of a veth only after an RCU barrier and the drain of the
//! device's references, 15-25 ms on this machine, yet the pair is unlisted (names free,
//! addresses, routes and bridge port gone, RTM_DELLINK announced) within a millisecond, and
//! the rtnl lock is free again by then: another change request completes in 0.2 ms during
//! the wait. A grandchild process sends the request and waits for that answer; the caller
//! returns when the kernel announces the deletion (or when the grandchild reports a failure),
//! and nobody waits for the grandchild, which ends by itself.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::{
    errno::Errno,
    fcntl::OFlag,
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::wait::waitpid,
    unistd::{ForkResult, Pid, fork, pipe2, read},
};
use rtnetlink::{
    packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkBuffer, NetlinkMessage, NetlinkPayload},
    packet_route::{
        RouteNetlinkMessage,
        link::{LinkAttribute, LinkMessage},
    },
    sys::{Socket, protocols::NETLINK_ROUTE},
};

use super::{LinkRef, link_message};
use crate::{
    error::{Error, Op, Result},
    handle::{Handle, injected},
};

/// The rtnetlink multicast group of link changes (RTNLGRP_LINK).
const RTNLGRP_LINK: u32 = 1;
/// A report on the pipe: the reclaimer's process ID.
const REPORT_PID: i32 = 1;
/// A report on the pipe: the kernel's answer to the deletion, 0 or an errno.
const REPORT_ANSWER: i32 = 2;
/// The name the reclaimer runs under (`ps`, `/proc/PID/comm`).
const RECLAIMER_NAME: &[u8] = b"pw-reclaim\0";

/// How the wait for a deletion ended.
enum Outcome {
    /// The kernel announced the deletion, or answered that it succeeded.
    Deleted,
    /// The kernel refused it.
    Refused(Errno),
    /// The reclaimer ended without an answer: the request may not have been sent.
    Lost,
}

impl Handle {
    /// Deletes `link`, returning once the kernel has unlisted it; the ID of the detached
    /// process that waits out the kernel's reclamation, if one was started.
    ///
    /// Equivalent to: `ip link del dev NAME &`, returning when `ip monitor link` shows it go.
    pub(crate) fn link_del_unlisted(&self, link: &LinkRef) -> Result<Option<Pid>> {
        let object = format!("{link} in {}", self.namespace());
        if let Some(errno) = injected(Op::LinkDel) {
            return Err(Error::kernel(Op::LinkDel, object, errno));
        }
        let io = |err: std::io::Error| Error::io(Op::LinkDel, &object, &err);
        let errno = |errno: Errno| Error::kernel(Op::LinkDel, &object, errno);
        // Both sockets belong to the handle's namespace; the listener joins before the request.
        let (listener, sender) = self.namespace().within(|| {
            let mut listener = Socket::new(NETLINK_ROUTE).map_err(io)?;
            // Bound first: the kernel skips an unbound socket (port 0) when it multicasts.
            listener.bind_auto().map_err(io)?;
            listener.add_membership(RTNLGRP_LINK).map_err(io)?;
            listener.set_no_enobufs(true).map_err(io)?;
            Ok((listener, Socket::new(NETLINK_ROUTE).map_err(io)?))
        })?;
        let request = delete_request(link);
        let (reports, report_end) = pipe2(OFlag::O_CLOEXEC).map_err(errno)?;
        // SAFETY: the child and the grandchild only make system calls and then `_exit`, which
        // is sound after fork even when other threads hold locks.
        match unsafe { fork() }.map_err(errno)? {
            ForkResult::Child => unsafe {
                start_reclaimer(&request, sender.as_raw_fd(), report_end.as_raw_fd())
            },
            ForkResult::Parent { child } => {
                drop((sender, report_end));
                // The child only forks the reclaimer and reports its ID.
                let _ = waitpid(child, None);
            }
        }
        let reclaimer = read_report(&reports)
            .and_then(|(kind, pid)| (kind == REPORT_PID).then(|| Pid::from_raw(pid)));
        let outcome = match reclaimer {
            Some(_) => wait_for_deletion(&listener, &reports, link),
            None => Outcome::Lost,
        };
        match outcome {
            Outcome::Deleted => Ok(reclaimer),
            Outcome::Refused(refusal) => Err(errno(refusal)),
            // Done here instead, waiting for the kernel like `link_del`.
            Outcome::Lost => self.link_del_waiting(link.clone()).map(|()| None),
        }
    }
}

/// The RTM_DELLINK request of `link`, with an acknowledgement asked for.
fn delete_request(link: &LinkRef) -> Vec<u8> {
    let message = RouteNetlinkMessage::DelLink(link_message(link, |message| message));
    let mut request = NetlinkMessage::from(message);
    request.header.flags = NLM_F_REQUEST | NLM_F_ACK;
    request.header.sequence_number = 1;
    request.finalize();
    let mut bytes = vec![0; request.buffer_len()];
    request.serialize(&mut bytes);
    bytes
}

/// Waits until the kernel announces on `listener` that `link` is gone, or the reclaimer
/// reports the kernel's answer on `reports` (or ends without one).
fn wait_for_deletion(listener: &Socket, reports: &OwnedFd, link: &LinkRef) -> Outcome {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let mut fds = [
            PollFd::new(reports.as_fd(), PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return Outcome::Lost,
        }
        let readable = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        if readable(&fds[1])
            && let Ok(length) = listener.recv(&mut &mut buffer[..], libc::MSG_DONTWAIT)
            && announces_deletion(&buffer[..length], link)
        {
            return Outcome::Deleted;
        }
        if readable(&fds[0]) {
            return match read_report(reports) {
                Some((REPORT_ANSWER, 0)) => Outcome::Deleted,
                Some((REPORT_ANSWER, errno)) => Outcome::Refused(Errno::from_raw(errno)),
                _ => Outcome::Lost,
            };
        }
    }
}

/// Whether the link notifications in `datagram` include the deletion of `link`.
fn announces_deletion(datagram: &[u8], link: &LinkRef) -> bool {
    let mut rest = datagram;
    while let Ok(buffer) = NetlinkBuffer::new_checked(rest) {
        let length = buffer.length() as usize;
        if let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
            && let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(deleted)) =
                message.payload
            && is_link(&deleted, link)
        {
            return true;
        }
        rest = &rest[length.next_multiple_of(4).min(rest.len())..];
    }
    false
}

/// Whether `message` is the kernel's own message (not a bridge port's) about `link`.
fn is_link(message: &LinkMessage, link: &LinkRef) -> bool {
    // AF_BRIDGE deletions announce a port leaving its bridge, not the device going.
    if u8::from(message.header.interface_family) != libc::AF_UNSPEC as u8 {
        return false;
    }
    match link {
        LinkRef::Index(index) => message.header.index == *index,
        LinkRef::Name(name) => message
            .attributes
            .iter()
            .any(|attribute| matches!(attribute, LinkAttribute::IfName(n) if n == name)),
    }
}

/// Reads one 8-byte report (kind, value) from the pipe; `None` at its end.
fn read_report(reports: &OwnedFd) -> Option<(i32, i32)> {
    let mut report = [0u8; 8];
    let mut filled = 0;
    while filled < report.len() {
        match read(reports, &mut report[filled..]) {
            Ok(0) => return None,
            Ok(count) => filled += count,
            Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
    let half = |at: usize| i32::from_ne_bytes(report[at..at + 4].try_into().expect("4 bytes"));
    Some((half(0), half(4)))
}

/// In the forked child: forks the reclaimer, reports its ID and ends, so that the reclaimer
/// belongs to nobody who would wait for it.
///
/// # Safety
/// Only for a freshly forked child: it makes system calls only and never returns.
unsafe fn start_reclaimer(request: &[u8], sender: RawFd, report_end: RawFd) -> ! {
    // SAFETY: the fork and everything after it are plain system calls.
    unsafe {
        match libc::fork() {
            0 => reclaim(request, sender, report_end),
            // No reclaimer: the caller reads the end of the pipe and deletes the link itself.
            -1 => libc::_exit(1),
            reclaimer => {
                report(report_end, REPORT_PID, reclaimer);
                libc::_exit(0)
            }
        }
    }
}

/// In the reclaimer: sends the deletion, waits for the kernel's answer, reports it, ends.
///
/// # Safety
/// Only for a freshly forked process: it makes system calls only and never returns.
unsafe fn reclaim(request: &[u8], sender: RawFd, report_end: RawFd) -> ! {
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        // Nothing else is kept open: not the caller's stdout (a runtime reads it to its end),
        // not its lock files.
        close_all_but([sender, report_end]);
        libc::prctl(libc::PR_SET_NAME, RECLAIMER_NAME.as_ptr());
        // The caller may have stopped reading the pipe: its report is then simply lost.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let answer = if libc::send(sender, request.as_ptr().cast(), request.len(), 0) < 0 {
            Errno::last_raw()
        } else {
            kernel_answer(sender)
        };
        report(report_end, REPORT_ANSWER, answer);
        libc::_exit(0)
    }
}

/// The errno of the kernel's acknowledgement on `sender` (0 for success).
///
/// # Safety
/// `sender` is an open netlink socket.
unsafe fn kernel_answer(sender: RawFd) -> i32 {
    // nlmsghdr (16 bytes), then nlmsgerr's error (a negative errno or 0).
    let mut answer = [0u8; 4096];
    loop {
        // SAFETY: `answer` is a writable buffer of its length.
        let received = unsafe { libc::recv(sender, answer.as_mut_ptr().cast(), answer.len(), 0) };
        if received < 0 {
            let errno = Errno::last_raw();
            if errno == libc::EINTR {
                continue;
            }
            return errno;
        }
        let kind = u16::from_ne_bytes([answer[4], answer[5]]);
        if received >= 20 && kind == libc::NLMSG_ERROR as u16 {
            return -i32::from_ne_bytes([answer[16], answer[17], answer[18], answer[19]]);
        }
    }
}

/// Writes one 8-byte report to the pipe.
///
/// # Safety
/// `report_end` is the pipe's open write end.
unsafe fn report(report_end: RawFd, kind: i32, value: i32) {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&kind.to_ne_bytes());
    bytes[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: 8 bytes from a local buffer; a pipe writes up to PIPE_BUF at once.
    unsafe { libc::write(report_end, bytes.as_ptr().cast(), bytes.len()) };
}

/// Closes every descriptor of the process except the two in `keep`.
///
/// # Safety
/// Nothing in the process may use the closed descriptors afterwards.
unsafe fn close_all_but(keep: [RawFd; 2]) {
    let (low, high) = (keep[0].min(keep[1]) as u32, keep[0].max(keep[1]) as u32);
    let close_range = |first: u32, last: u32| {
        if first <= last {
            // SAFETY: close_range(2) only closes descriptors.
            unsafe { libc::close_range(first, last, 0) };
        }
    };
    if low > 0 {
        close_range(0, low - 1);
    }
    if high > low + 1 {
        close_range(low + 1, high - 1);
    }
    close_range(high + 1, u32::MAX);
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_route::AddressFamily;

    use super::*;

    /// The bytes of an RTM_DELLINK announcement of link `index` named `name` in `family`.
    fn announcement(index: u32, name: &str, family: AddressFamily) -> Vec<u8> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.interface_family = family;
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        let mut message = NetlinkMessage::from(RouteNetlinkMessage::DelLink(link));
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn the_deletion_is_recognised_by_index_or_name_in_any_position_of_the_datagram() {
        let other = announcement(3, "veth9", AddressFamily::Unspec);
        let ours = announcement(7, "pw0", AddressFamily::Unspec);
        let datagram = [other.clone(), ours].concat();
        assert!(announces_deletion(&datagram, &LinkRef::Index(7)));
        assert!(announces_deletion(&datagram, &LinkRef::Name("pw0".into())));
        assert!(!announces_deletion(&other, &LinkRef::Index(7)));
        assert!(!announces_deletion(&datagram, &LinkRef::Name("pw1".into())));
        assert!(!announces_deletion(&[], &LinkRef::Index(7)));
    }

    #[test]
    #[ignore = "needs root; scripts/test.sh runs it"]
    fn the_deletion_is_left_to_a_reclaimer_that_ends_by_itself() {
        use crate::{link::Veth, netns::Namespace};
        // Anonymous namespaces: they go with their descriptors, also when the test fails.
        let (host_ns, guest_ns) =
            (Namespace::create_anonymous().unwrap(), Namespace::create_anonymous().unwrap());
        let (host, guest) = (Handle::new(&host_ns).unwrap(), Handle::new(&guest_ns).unwrap());
        let made = Veth::new("vr0", "eth5").unwrap().peer_namespace(&guest_ns).add(&host).unwrap();
        let reclaimer = host
            .link_del_unlisted(&LinkRef::Index(made.index))
            .unwrap()
            .expect("a reclaimer was started, not the waiting fallback");
        assert!(host.link_get("vr0").unwrap().is_none());
        assert!(guest.link_get("eth5").unwrap().is_none(), "the peer goes with its pair");
        // It is nobody's child here: it ends by itself (gone, or a zombie for init to reap).
        let stat = format!("/proc/{reclaimer}/stat");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(&stat).is_ok_and(|stat| !stat.contains(") Z ")) {
            assert!(std::time::Instant::now() < deadline, "pw-reclaim {reclaimer} still runs");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn a_port_leaving_its_bridge_is_not_the_device_going() {
        let port = announcement(7, "pw0", AddressFamily::Bridge);
        assert!(!announces_deletion(&port, &LinkRef::Index(7)));
    }

    #[test]
    fn the_request_asks_for_an_acknowledgement_and_names_the_link() {
        let request = delete_request(&LinkRef::Index(42));
        let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&request).unwrap();
        assert_eq!(message.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) = message.payload
        else {
            panic!("not an RTM_DELLINK: {message:?}")
        };
        assert_eq!(link.header.index, 42);
    }
}
