//! Waiting for a link to exist, be up or have an address, driven by netlink notifications.

use std::{
    os::fd::AsFd,
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    poll::{PollFd, PollFlags, PollTimeout, poll},
};
use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::Link,
};

/// How often [`wait_for_interruptible`] asks its caller whether to give up.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

/// RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR |
/// RTMGRP_IPV6_ROUTE from `linux/rtnetlink.h`.
const GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The link exists.
    Exists,
    /// The link is up and passes traffic (operational state up, or carrier where the
    /// driver reports no state).
    Up,
    /// The link is up and has a global IPv4 or IPv6 address that duplicate address
    /// detection has passed (not tentative).
    Addressed,
    /// The link is addressed and a default route (IPv4 or IPv6, main table) leaves through it.
    Routed,
}

/// Waits until link `name` in the handle's namespace meets `condition`; `None` waits forever.
///
/// Equivalent to polling `ip link show NAME` until it is UP, but woken by the kernel's
/// notifications instead of a sleep loop.
pub fn wait_for(
    handle: &Handle,
    name: &str,
    condition: Condition,
    timeout: Option<Duration>,
) -> Result<Link> {
    wait_for_interruptible(handle, name, condition, timeout, &|| false)
}

/// [`wait_for`] that asks `interrupted` every 100 ms (for a binding to notice Ctrl-C); once that
/// answers true, the wait ends with errno EINTR.
pub fn wait_for_interruptible(
    handle: &Handle,
    name: &str,
    condition: Condition,
    timeout: Option<Duration>,
    interrupted: &dyn Fn() -> bool,
) -> Result<Link> {
    crate::link::validate_ifname("interface name", name)?;
    let object = format!("link {name} in {}", handle.namespace());
    // Subscribe before the first look, so no change can slip in between.
    let mut socket = handle
        .namespace()
        .within(|| Socket::new(NETLINK_ROUTE).map_err(|err| Error::io(Op::Wait, &object, &err)))?;
    socket.bind(&SocketAddr::new(0, GROUPS)).map_err(|err| Error::io(Op::Wait, &object, &err))?;
    socket.set_non_blocking(true).map_err(|err| Error::io(Op::Wait, &object, &err))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        if let Some(link) = check(handle, name, condition)? {
            return Ok(link);
        }
        if interrupted() {
            return Err(Error::kernel(Op::Wait, object, Errno::EINTR));
        }
        let slice = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left.min(INTERRUPT_CHECK),
                None => return Err(Error::kernel(Op::Wait, object, Errno::ETIMEDOUT)),
            },
            None => INTERRUPT_CHECK,
        };
        let remaining = PollTimeout::try_from(slice).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, remaining) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(Error::kernel(Op::Wait, object, errno)),
        }
        // The notifications only wake us; the state is read back through the handle.
        let mut buffer = vec![0u8; 65536];
        while socket.recv(&mut &mut buffer[..], 0).is_ok() {}
    }
}

fn check(handle: &Handle, name: &str, condition: Condition) -> Result<Option<Link>> {
    let Some(link) = handle.link_get(name)? else {
        return Ok(None);
    };
    let passes_traffic = link.is_up()
        && (link.oper_state == crate::link::OperState::Up
            || (link.oper_state == crate::link::OperState::Unknown && link.has_carrier()));
    let addressed = || -> Result<bool> {
        Ok(passes_traffic
            && handle.addresses(Some(link.index))?.iter().any(|a| {
                let ip = a.net.addr();
                !a.tentative
                    && !ip.is_loopback()
                    && !matches!(ip, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local())
            }))
    };
    let routed = || -> Result<bool> {
        let default_out_here =
            |r: &crate::route::Route| r.destination.prefix_len() == 0 && r.oif == Some(link.index);
        Ok(handle.routes(false)?.iter().any(default_out_here)
            || handle.routes(true)?.iter().any(default_out_here))
    };
    let met = match condition {
        Condition::Exists => true,
        Condition::Up => passes_traffic,
        Condition::Addressed => addressed()?,
        Condition::Routed => addressed()? && routed()?,
    };
    Ok(met.then_some(link))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_wait_ends_with_eintr_and_a_timeout_with_etimedout() {
        let handle = Handle::current().expect("a netlink socket here");
        let asked = std::cell::Cell::new(0);
        let interrupted = || {
            asked.set(asked.get() + 1);
            asked.get() > 2
        };
        let err = wait_for_interruptible(&handle, "nosuch0", Condition::Exists, None, &interrupted)
            .unwrap_err();
        assert_eq!((err.errno(), asked.get()), (Errno::EINTR, 3), "{err}");
        let err = wait_for(&handle, "nosuch0", Condition::Exists, Some(Duration::from_millis(50)))
            .unwrap_err();
        assert_eq!(err.errno(), Errno::ETIMEDOUT, "{err}");
    }
}
