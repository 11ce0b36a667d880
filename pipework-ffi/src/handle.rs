//! `pipework_handle`: a netlink connection bound to one network namespace.

use pipework_core::Handle;

use crate::{
    error::pipework_result,
    ffi::{Out, borrow, free, into_raw},
    namespace::pipework_namespace,
    panic::boundary,
};

/// A netlink connection bound to one namespace: every request made through it acts there,
/// from whichever thread it is made (one call at a time).
pub struct pipework_handle(pub(crate) Handle);

/// Opens a netlink connection inside `netns`.
///
/// Equivalent to: `ip -n NS ...` (the connection part).
///
/// # Safety
/// `netns` is a live namespace object; `handle_out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_handle_new(
    netns: *const pipework_namespace,
    handle_out: *mut *mut pipework_handle,
) -> pipework_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let (namespace, out) =
            unsafe { (borrow(netns, "netns")?, Out::new(handle_out, "handle_out")?) };
        out.write(into_raw(pipework_handle(Handle::new(&namespace.0)?)));
        Ok(())
    })
}

/// Closes the connection; NULL does nothing.
///
/// # Safety
/// `handle` is NULL or a handle object not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_handle_free(handle: *mut pipework_handle) {
    // SAFETY: the caller's contract.
    unsafe { free(handle) }
}
