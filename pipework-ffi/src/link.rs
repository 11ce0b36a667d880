//! `pipework_link`: a link as the kernel reported it, and its lookup.

use std::{ffi::c_char, time::Duration};

use pipework_core::{Condition, Error, Link, LinkRef, OperState, wait_for};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, TextOut, borrow, free, into_raw, text},
    handle::pipework_handle,
    panic::{boundary, value_boundary},
};

/// A link as the kernel reported it when it was looked up (a snapshot, not a live view).
pub struct pipework_link(Link);

/// The RFC 2863 operational state of a link, numbered like the kernel's `IF_OPER_*`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pipework_oper_state {
    /// The driver does not report a state (loopback, some virtual devices).
    Unknown = 0,
    /// A component is missing.
    NotPresent = 1,
    /// Cannot pass packets.
    Down = 2,
    /// Down because a lower device is down (a veth whose peer is down).
    LowerLayerDown = 3,
    /// In a test mode.
    Testing = 4,
    /// Waiting for an external event.
    Dormant = 5,
    /// Can pass packets.
    Up = 6,
}

impl From<OperState> for pipework_oper_state {
    fn from(state: OperState) -> Self {
        match state {
            OperState::Unknown => pipework_oper_state::Unknown,
            OperState::NotPresent => pipework_oper_state::NotPresent,
            OperState::Down => pipework_oper_state::Down,
            OperState::LowerLayerDown => pipework_oper_state::LowerLayerDown,
            OperState::Testing => pipework_oper_state::Testing,
            OperState::Dormant => pipework_oper_state::Dormant,
            OperState::Up => pipework_oper_state::Up,
        }
    }
}

/// What `pipework_link_wait` waits for.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pipework_wait_condition {
    /// The link exists.
    Exists = 0,
    /// The link is up and passes traffic (operational state up, or carrier where the driver
    /// reports no state).
    Up = 1,
    /// The link is up and has a global IPv4 or IPv6 address that duplicate address detection
    /// has passed.
    Addressed = 2,
    /// The link is addressed and a default route (IPv4 or IPv6) leaves through it.
    Routed = 3,
}

/// `timeout_ms` for `pipework_link_wait` that waits as long as it takes.
pub const PIPEWORK_WAIT_FOREVER: u32 = 0xFFFF_FFFF;

impl TryFrom<u32> for pipework_wait_condition {
    type Error = Error;

    fn try_from(value: u32) -> Result<Self, Error> {
        [Self::Exists, Self::Up, Self::Addressed, Self::Routed]
            .into_iter()
            .find(|condition| *condition as u32 == value)
            .ok_or_else(|| Error::InvalidArgument {
                argument: "condition".into(),
                value: value.to_string(),
                reason: "expected PIPEWORK_WAIT_CONDITION_EXISTS, _UP, _ADDRESSED or _ROUTED"
                    .into(),
            })
    }
}

impl From<pipework_wait_condition> for Condition {
    fn from(condition: pipework_wait_condition) -> Self {
        match condition {
            pipework_wait_condition::Exists => Condition::Exists,
            pipework_wait_condition::Up => Condition::Up,
            pipework_wait_condition::Addressed => Condition::Addressed,
            pipework_wait_condition::Routed => Condition::Routed,
        }
    }
}

/// Looks up `link` through `handle` and stores it in `*link_out`.
fn lookup(
    handle: *const pipework_handle,
    link_out: *mut *mut pipework_link,
    link: impl FnOnce() -> Result<LinkRef, Failure>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: every caller passes its C caller's pointers, valid or NULL.
        let (handle, out) = unsafe { (borrow(handle, "handle")?, Out::new(link_out, "link_out")?) };
        out.write(into_raw(pipework_link(handle.0.link(link()?)?)));
        Ok(())
    })
}

/// Looks up the link called `name` in the handle's namespace.
///
/// A missing link is PIPEWORK_RESULT_NOT_FOUND. Equivalent to: `ip link show dev NAME`.
///
/// # Safety
/// `handle` is a live handle; `name` a NUL-terminated string; `link_out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_from_name(
    handle: *const pipework_handle,
    name: *const c_char,
    link_out: *mut *mut pipework_link,
) -> pipework_result {
    lookup(handle, link_out, || {
        // SAFETY: the caller's contract.
        Ok(LinkRef::from(unsafe { text(name, "name") }?))
    })
}

/// Looks up the link with interface index `index` in the handle's namespace.
///
/// A missing link is PIPEWORK_RESULT_NOT_FOUND. Equivalent to: `ip link show` of one index.
///
/// # Safety
/// `handle` is a live handle; `link_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_from_index(
    handle: *const pipework_handle,
    index: u32,
    link_out: *mut *mut pipework_link,
) -> pipework_result {
    lookup(handle, link_out, || Ok(LinkRef::Index(index)))
}

/// Waits until link `name` in the handle's namespace meets `condition` (a
/// `PIPEWORK_WAIT_CONDITION_*`), woken by the kernel's notifications, and stores it in `*link_out`.
///
/// Gives up after `timeout_ms` milliseconds (`PIPEWORK_WAIT_FOREVER`: never) with
/// PIPEWORK_RESULT_KERNEL and errno ETIMEDOUT. Equivalent to polling `ip link show NAME`.
///
/// # Safety
/// `handle` is a live handle; `name` a NUL-terminated string; `link_out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_wait(
    handle: *const pipework_handle,
    name: *const c_char,
    condition: u32,
    timeout_ms: u32,
    link_out: *mut *mut pipework_link,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (handle, name, out) = unsafe {
            (borrow(handle, "handle")?, text(name, "name")?, Out::new(link_out, "link_out")?)
        };
        let condition = pipework_wait_condition::try_from(condition)?;
        let timeout =
            (timeout_ms != PIPEWORK_WAIT_FOREVER).then(|| Duration::from_millis(timeout_ms.into()));
        out.write(into_raw(pipework_link(wait_for(&handle.0, name, condition.into(), timeout)?)));
        Ok(())
    })
}

/// Reads a field of the link behind `link`; NULL records the error and gives `default`.
fn field<T>(link: *const pipework_link, default: T, read: impl FnOnce(&Link) -> T) -> T {
    value_boundary(default, || {
        // SAFETY: every caller passes its C caller's pointer, valid or NULL.
        Ok(read(&unsafe { borrow(link, "link") }?.0))
    })
}

/// The interface index (0 when `link` is NULL).
///
/// # Safety
/// `link` is NULL or a live link object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_index(link: *const pipework_link) -> u32 {
    field(link, 0, |link| link.index)
}

/// The MTU in bytes (0 when `link` is NULL).
///
/// # Safety
/// `link` is NULL or a live link object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_mtu(link: *const pipework_link) -> u32 {
    field(link, 0, |link| link.mtu)
}

/// The operational state (PIPEWORK_OPER_STATE_UNKNOWN when `link` is NULL).
///
/// # Safety
/// `link` is NULL or a live link object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_state(link: *const pipework_link) -> pipework_oper_state {
    field(link, pipework_oper_state::Unknown, |link| link.oper_state.into())
}

/// Copies the interface name into `buf` (see `pipework_last_error` for the buffer rules).
///
/// # Safety
/// `link` is a live link object; `buf` holds `len` bytes (or is NULL with `len` 0);
/// `written_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_name(
    link: *const pipework_link,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (link, out) = unsafe { (borrow(link, "link")?, TextOut::new(buf, len, written_out)?) };
        out.write(&link.0.name)
    })
}

/// Copies the hardware address as `aa:bb:cc:dd:ee:ff` into `buf`.
///
/// A link without one is PIPEWORK_RESULT_NOT_FOUND. The buffer rules are
/// `pipework_last_error`'s; 18 bytes always suffice.
///
/// # Safety
/// As for `pipework_link_name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_mac(
    link: *const pipework_link,
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (link, out) = unsafe { (borrow(link, "link")?, TextOut::new(buf, len, written_out)?) };
        let mac = link.0.mac.ok_or_else(|| pipework_core::Error::NotFound {
            op: pipework_core::Op::LinkGet,
            object: format!("a hardware address on {}", link.0.name),
        })?;
        out.write(&mac.to_string())
    })
}

/// Releases the link object; NULL does nothing.
///
/// # Safety
/// `link` is NULL or a link object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_link_free(link: *mut pipework_link) {
    // SAFETY: the caller's contract.
    unsafe { free(link) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oper_states_use_the_kernel_numbers() {
        // linux/if.h: IF_OPER_UNKNOWN 0, NOTPRESENT 1, DOWN 2, LOWERLAYERDOWN 3, TESTING 4, DORMANT 5, UP 6.
        let states = [
            (OperState::Unknown, 0),
            (OperState::NotPresent, 1),
            (OperState::Down, 2),
            (OperState::LowerLayerDown, 3),
            (OperState::Testing, 4),
            (OperState::Dormant, 5),
            (OperState::Up, 6),
        ];
        for (state, number) in states {
            assert_eq!(pipework_oper_state::from(state) as u32, number, "{state:?}");
        }
    }

    #[test]
    fn wait_conditions_convert_and_a_bad_one_is_named() {
        for (number, condition) in [
            (0, Condition::Exists),
            (1, Condition::Up),
            (2, Condition::Addressed),
            (3, Condition::Routed),
        ] {
            assert_eq!(
                Condition::from(pipework_wait_condition::try_from(number).unwrap()),
                condition
            );
        }
        let err = pipework_wait_condition::try_from(7).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid condition \"7\": expected PIPEWORK_WAIT_CONDITION_"),
            "{err}"
        );
    }

    #[test]
    fn getters_on_null_give_defaults_and_say_why() {
        assert_eq!(unsafe { pipework_link_mtu(std::ptr::null()) }, 0);
        assert_eq!(crate::error::last_message().as_deref(), Some("link is NULL"));
        assert_eq!(unsafe { pipework_link_state(std::ptr::null()) }, pipework_oper_state::Unknown);
    }
}
