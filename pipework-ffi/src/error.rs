//! `pipework_result` and the per-thread detail of the last failure.

use std::{
    cell::RefCell,
    ffi::{c_char, c_int},
};

use pipework_core::Error;

use crate::{ffi::TextOut, panic::quiet_boundary};

/// The outcome of a pipework call.
///
/// The values lie in a private range (8000 and up), so they never collide with an errno.
/// They are grouped by where the failure comes from: 80xx from the C boundary itself,
/// 81xx from pipework-core's error kinds. A retired value is never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pipework_result {
    /// Success.
    Ok = 8000,
    /// A bug in pipework stopped the call; nothing leaked across the boundary.
    Panic = 8001,
    /// A pointer argument was NULL.
    NullParameter = 8002,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 8003,
    /// The caller's buffer is too small for the answer; nothing was written.
    InsufficientSize = 8004,
    /// The kernel refused the operation; `pipework_result_errno` gives its errno.
    Kernel = 8100,
    /// An argument is malformed or out of range; nothing was changed.
    InvalidArgument = 8101,
    /// Something the operation needs does not exist (a guest no resolver knows included).
    NotFound = 8102,
    /// Something the operation would create already exists.
    AlreadyExists = 8103,
    /// The system is in a state that contradicts the request.
    Conflict = 8104,
    /// The kernel, the machine or pipework lacks a feature the request needs.
    Unsupported = 8105,
    /// The kernel or a container engine answered something pipework cannot decode.
    Protocol = 8106,
    /// Nothing answered in time (a DHCP server, a link that never came up); nothing was left.
    Timeout = 8107,
    /// A peer (a DHCP server) answered with a refusal.
    Refused = 8108,
    /// A helper program (an external DHCP client) or a protocol exchange failed.
    Failed = 8109,
    /// A failure of a kind this version of the C API does not name yet.
    Other = 8199,
}

/// A failed call: its result code, the errno that describes it best, and the full message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) result: pipework_result,
    pub(crate) errno: c_int,
    pub(crate) message: String,
}

impl Failure {
    /// A failure that did not come from pipework-core.
    pub(crate) fn new(result: pipework_result, errno: c_int, message: String) -> Self {
        Failure { result, errno, message }
    }

    /// The pointer argument `name` was NULL.
    pub(crate) fn null(name: &str) -> Self {
        Self::new(pipework_result::NullParameter, libc::EINVAL, format!("{name} is NULL"))
    }

    /// Stores this failure as the calling thread's last error and returns its code.
    pub(crate) fn record(self) -> pipework_result {
        let result = self.result;
        LAST_FAILURE.with(|last| *last.borrow_mut() = Some(self));
        result
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let result = match err.primary() {
            Error::Kernel { .. } => pipework_result::Kernel,
            Error::InvalidArgument { .. } => pipework_result::InvalidArgument,
            Error::NotFound { .. } | Error::Unresolved { .. } => pipework_result::NotFound,
            Error::AlreadyExists { .. } => pipework_result::AlreadyExists,
            Error::Conflict { .. } => pipework_result::Conflict,
            Error::Unsupported { .. } => pipework_result::Unsupported,
            Error::Protocol { .. } => pipework_result::Protocol,
            Error::Timeout { .. } => pipework_result::Timeout,
            Error::Refused { .. } => pipework_result::Refused,
            Error::Failed { .. } => pipework_result::Failed,
            _ => pipework_result::Other,
        };
        Failure { result, errno: err.errno() as c_int, message: err.to_string() }
    }
}

thread_local! {
    static LAST_FAILURE: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Copies the message of the calling thread's last failed call into `buf`.
///
/// The message is UTF-8 and NUL-terminated; `*written_out` gets its length without the NUL.
/// It is empty when no call failed on this thread yet. Calls that succeed leave it alone,
/// and so does this function, even when it fails itself (a buffer too small), so it can be
/// called again with a bigger buffer. With `buf` NULL and `len` 0 it only stores the length.
///
/// # Safety
/// `buf` points to `len` writable bytes (or is NULL with `len` 0); `written_out` is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipework_last_error(
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) -> pipework_result {
    quiet_boundary(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { TextOut::new(buf, len, written_out) }?;
        LAST_FAILURE.with(|last| {
            out.write(last.borrow().as_ref().map_or("", |failure| failure.message.as_str()))
        })
    })
}

/// The errno of the calling thread's last failed call, if that call returned `result`.
///
/// For `PIPEWORK_RESULT_KERNEL` it is the kernel's own answer; for the other failures the
/// closest errno (EINVAL for an invalid argument, ENOENT for something not found, EEXIST,
/// EBUSY for a conflict, EOPNOTSUPP, EILSEQ for bad UTF-8, ERANGE for a small buffer).
/// It is 0 for `PIPEWORK_RESULT_OK` and when the last failure returned another code.
#[unsafe(no_mangle)]
pub extern "C" fn pipework_result_errno(result: u32) -> c_int {
    LAST_FAILURE
        .try_with(|last| {
            last.borrow()
                .as_ref()
                .filter(|failure| failure.result as u32 == result)
                .map_or(0, |failure| failure.errno)
        })
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) fn last_message() -> Option<String> {
    LAST_FAILURE.with(|last| last.borrow().as_ref().map(|failure| failure.message.clone()))
}

#[cfg(test)]
mod tests {
    use pipework_core::{MacAddr, Op, parse_cidr};

    use super::*;

    #[test]
    fn core_errors_keep_their_kind_errno_and_message() {
        let invalid = Failure::from(MacAddr::parse("01:00:5e:00:00:01").unwrap_err());
        assert_eq!(invalid.result, pipework_result::InvalidArgument);
        assert_eq!(invalid.errno, libc::EINVAL);
        assert!(invalid.message.starts_with("invalid mac \"01:00:5e:00:00:01\""));
        let cidr = Failure::from(parse_cidr("address", "10.0.0.2").unwrap_err());
        assert!(cidr.message.contains("Maybe you meant 10.0.0.2/24?"), "{}", cidr.message);
        let missing = Failure::from(Error::NotFound { op: Op::Resolve, object: "guest x".into() });
        assert_eq!((missing.result, missing.errno), (pipework_result::NotFound, libc::ENOENT));
        let unknown = Failure::from(Error::Unresolved {
            target: "web".into(),
            answers: vec!["pid: is not a decimal process ID".into()],
        });
        assert_eq!((unknown.result, unknown.errno), (pipework_result::NotFound, libc::ENOENT));
        assert!(unknown.message.contains("no resolver knows it"), "{}", unknown.message);
        let unsupported = Failure::from(Error::Unsupported {
            op: Op::Attach,
            object: "x".into(),
            reason: "y".into(),
        });
        assert_eq!(
            (unsupported.result, unsupported.errno),
            (pipework_result::Unsupported, libc::EOPNOTSUPP)
        );
    }

    #[test]
    fn kernel_errors_carry_the_kernel_errno() {
        let failure = Failure::from(Error::Kernel {
            op: Op::LinkAdd,
            object: "veth0".into(),
            errno: nix::errno::Errno::EPERM,
        });
        assert_eq!((failure.result, failure.errno), (pipework_result::Kernel, libc::EPERM));
        assert!(failure.message.contains("CAP_NET_ADMIN"), "{}", failure.message);
    }

    #[test]
    fn result_values_are_distinct_and_never_collide_with_errno() {
        use pipework_result::*;
        let all = [
            Ok,
            Panic,
            NullParameter,
            InvalidUtf8,
            InsufficientSize,
            Kernel,
            InvalidArgument,
            NotFound,
            AlreadyExists,
            Conflict,
            Unsupported,
            Protocol,
            Other,
        ];
        // The match fails to compile when a code is added without being listed above.
        for result in all {
            match result {
                Ok | Panic | NullParameter | InvalidUtf8 | InsufficientSize | Kernel
                | InvalidArgument | NotFound | AlreadyExists | Conflict | Unsupported
                | Protocol | Timeout | Refused | Failed | Other => {}
            }
        }
        let mut values: Vec<u32> = all.iter().map(|result| *result as u32).collect();
        // Linux errno values stay below 4096 (MAX_ERRNO).
        assert!(values.iter().all(|value| *value >= 4096));
        values.dedup();
        assert_eq!(values.len(), all.len());
    }

    #[test]
    fn the_errno_belongs_to_the_result_the_last_failure_returned() {
        let code = Failure::null("thing").record();
        assert_eq!(code, pipework_result::NullParameter);
        assert_eq!(pipework_result_errno(code as u32), libc::EINVAL);
        assert_eq!(pipework_result_errno(pipework_result::Kernel as u32), 0);
        assert_eq!(pipework_result_errno(pipework_result::Ok as u32), 0);
        assert_eq!(last_message().as_deref(), Some("thing is NULL"));
    }

    #[test]
    fn the_last_error_is_per_thread() {
        Failure::null("here").record();
        let elsewhere = std::thread::spawn(last_message).join().unwrap();
        assert_eq!(elsewhere, None);
        assert_eq!(last_message().as_deref(), Some("here is NULL"));
    }

    #[test]
    fn last_error_fills_a_buffer_and_survives_its_own_failure() {
        Failure::null("options").record();
        let mut written = 0usize;
        // A size query.
        let rc = unsafe { pipework_last_error(std::ptr::null_mut(), 0, &mut written) };
        assert_eq!((rc, written), (pipework_result::Ok, "options is NULL".len()));
        // Too small: nothing written, the message kept.
        let mut small = [b'x' as c_char; 4];
        let rc = unsafe { pipework_last_error(small.as_mut_ptr(), small.len(), &mut written) };
        assert_eq!(rc, pipework_result::InsufficientSize);
        assert_eq!(small, [b'x' as c_char; 4]);
        let mut buf = [0 as c_char; 64];
        let rc = unsafe { pipework_last_error(buf.as_mut_ptr(), buf.len(), &mut written) };
        assert_eq!(rc, pipework_result::Ok);
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
        assert_eq!((text, written), ("options is NULL", 15));
    }
}
