//! `pipework_guest`: a container or namespace to attach, found from a target string.

use std::ffi::c_char;

use pipework_core::{Guest, resolve};

use crate::{
    error::pipework_result,
    ffi::{Out, borrow, free, into_raw, text},
    namespace::pipework_namespace,
    panic::boundary,
};

/// A guest to attach: its network namespace, held open, and what is known of it.
pub struct pipework_guest(pub(crate) Guest);

/// Finds the guest `target` names through the default resolvers, in order: a PID, a namespace
/// name in /run/netns or a namespace path, a Docker container (`$DOCKER_HOST`), a Podman
/// container (`$CONTAINER_HOST`), an LXC container (`$LXC_PATH`). `name:target` asks one
/// resolver (`pid:`, `netns:`, ...).
///
/// An unknown target is PIPEWORK_RESULT_NOT_FOUND with every resolver's reason.
///
/// # Safety
/// `target` is a NUL-terminated string; `guest_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_guest_resolve(
    target: *const c_char,
    guest_out: *mut *mut pipework_guest,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (target, out) = unsafe { (text(target, "target")?, Out::new(guest_out, "guest_out")?) };
        out.write(into_raw(pipework_guest(resolve(target)?)));
        Ok(())
    })
}

/// A guest that is just `netns` (the namespace object stays the caller's).
///
/// # Safety
/// `netns` is a live namespace object; `guest_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_guest_from_namespace(
    netns: *const pipework_namespace,
    guest_out: *mut *mut pipework_guest,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (namespace, out) =
            unsafe { (borrow(netns, "netns")?, Out::new(guest_out, "guest_out")?) };
        out.write(into_raw(pipework_guest(Guest::from_namespace(namespace.0.try_clone()?))));
        Ok(())
    })
}

/// A new namespace object for the guest's namespace (to open a handle inside the guest).
///
/// # Safety
/// `guest` is a live guest object; `namespace_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_guest_namespace(
    guest: *const pipework_guest,
    namespace_out: *mut *mut pipework_namespace,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (guest, out) =
            unsafe { (borrow(guest, "guest")?, Out::new(namespace_out, "namespace_out")?) };
        out.write(into_raw(pipework_namespace(guest.0.namespace.try_clone()?)));
        Ok(())
    })
}

/// Releases the guest object (and its hold on the namespace); NULL does nothing.
///
/// # Safety
/// `guest` is NULL or a guest object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_guest_free(guest: *mut pipework_guest) {
    // SAFETY: the caller's contract.
    unsafe { free(guest) }
}
