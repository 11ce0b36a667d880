//! `pipework_namespace`: a network namespace held open by its file descriptor.

use std::{ffi::c_char, time::Duration};

use pipework_core::{Namespace, parse_ip, ping};

use crate::{
    error::{Failure, pipework_result},
    ffi::{Out, borrow, free, into_raw, take, text},
    panic::boundary,
};

/// A network namespace, held open (and so kept alive) until `pipework_namespace_free`.
pub struct pipework_namespace(pub(crate) Namespace);

/// Stores a new namespace object in `*namespace_out`, or returns the failure of `open`.
fn give(
    namespace_out: *mut *mut pipework_namespace,
    open: impl FnOnce() -> Result<Namespace, Failure>,
) -> pipework_result {
    boundary(|| {
        // SAFETY: every caller passes its C caller's out pointer, valid or NULL.
        let out = unsafe { Out::new(namespace_out, "namespace_out") }?;
        out.write(into_raw(pipework_namespace(open()?)));
        Ok(())
    })
}

/// Opens the namespace of the calling thread.
///
/// Equivalent to: `ip netns identify` (for the calling process).
///
/// # Safety
/// `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_current(
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || Ok(Namespace::current()?))
}

/// Opens the network namespace of process `pid` (`/proc/PID/ns/net`).
///
/// # Safety
/// `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_from_pid(
    pid: u32,
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || Ok(Namespace::from_pid(pid)?))
}

/// Opens the namespace named `name` in /run/netns.
///
/// Equivalent to: the lookup of `ip netns exec NAME`.
///
/// # Safety
/// `name` is a NUL-terminated string; `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_from_name(
    name: *const c_char,
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name") }?;
        Ok(Namespace::from_name(name)?)
    })
}

/// Opens the namespace a file refers to (`/proc/PID/ns/net`, a bind mount, Docker's SandboxKey).
///
/// # Safety
/// `path` is a NUL-terminated string; `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_from_path(
    path: *const c_char,
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || {
        // SAFETY: the caller's contract.
        let path = unsafe { text(path, "path") }?;
        Ok(Namespace::from_path(path)?)
    })
}

/// Creates a namespace and names it `name` in /run/netns.
///
/// Equivalent to: `ip netns add NAME`.
///
/// # Safety
/// `name` is a NUL-terminated string; `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_create_named(
    name: *const c_char,
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || {
        // SAFETY: the caller's contract.
        let name = unsafe { text(name, "name") }?;
        Ok(Namespace::create_named(name)?)
    })
}

/// Creates a namespace that lives as long as the object (or a link or process in it).
///
/// Equivalent to: `unshare --net` without a process.
///
/// # Safety
/// `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_create_anonymous(
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    give(namespace_out, || Ok(Namespace::create_anonymous()?))
}

/// Deletes a named namespace created by pipework, and frees the object whatever the result.
///
/// Equivalent to: `ip netns del NAME`. An anonymous namespace just ends here; one opened
/// from a PID or a path is refused (PIPEWORK_RESULT_UNSUPPORTED) and only freed.
///
/// # Safety
/// `netns` is NULL or a namespace object not freed yet; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_delete(
    netns: *mut pipework_namespace,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let namespace = unsafe { take(netns, "netns") }?;
        Ok(namespace.0.delete()?)
    })
}

/// Sends ICMP echo requests from inside `netns` to `destination` until one is answered.
///
/// Gives up after `timeout_ms` milliseconds; on success `*rtt_us_out` gets the round trip in
/// microseconds. Needs CAP_NET_RAW. Equivalent to: `ip netns exec NS ping -c 1 -W TIMEOUT DEST`.
///
/// # Safety
/// `netns` is a live namespace object; `destination` a NUL-terminated string;
/// `rtt_us_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_ping(
    netns: *const pipework_namespace,
    destination: *const c_char,
    timeout_ms: u32,
    rtt_us_out: *mut u64,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (namespace, destination, out) = unsafe {
            (
                borrow(netns, "netns")?,
                text(destination, "destination")?,
                Out::new(rtt_us_out, "rtt_us_out")?,
            )
        };
        let destination = parse_ip("destination", destination)?;
        let rtt = ping(&namespace.0, destination, Duration::from_millis(timeout_ms.into()))?;
        out.write(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX));
        Ok(())
    })
}

/// Closes the namespace object; NULL does nothing.
///
/// A named namespace stays in /run/netns (see `pipework_namespace_delete`).
///
/// # Safety
/// `netns` is NULL or a namespace object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_namespace_free(netns: *mut pipework_namespace) {
    // SAFETY: the caller's contract.
    unsafe { free(netns) }
}
