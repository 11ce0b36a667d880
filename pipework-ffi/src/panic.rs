//! The panic boundary every exported function runs inside: no unwind ever reaches C.

use std::{
    any::Any,
    panic::{AssertUnwindSafe, catch_unwind},
};

use crate::error::{Failure, pipework_result};

/// Runs a call's body, recording any failure (a panic included) as the thread's last error.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> pipework_result {
    match run(body) {
        Ok(()) => pipework_result::Ok,
        Err(failure) => failure.record(),
    }
}

/// Runs the body of a call that returns a value: on failure, records it and returns `default`.
pub(crate) fn value_boundary<T>(default: T, body: impl FnOnce() -> Result<T, Failure>) -> T {
    run(body).unwrap_or_else(|failure| {
        failure.record();
        default
    })
}

/// Runs a body without touching the last error (for the functions that report it).
pub(crate) fn quiet_boundary(body: impl FnOnce() -> Result<(), Failure>) -> pipework_result {
    match run(body) {
        Ok(()) => pipework_result::Ok,
        Err(failure) => failure.result,
    }
}

fn run<T>(body: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    // Nothing observes the body's state after a panic: its objects are dropped or never made.
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panicked(payload)))
}

fn panicked(payload: Box<dyn Any + Send>) -> Failure {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    Failure::new(
        pipework_result::Panic,
        libc::EIO,
        format!("internal error (a bug in pipework, please report it): {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::last_message;

    #[test]
    fn a_panic_becomes_a_result_and_a_message() {
        let rc = boundary(|| panic!("boom {}", 42));
        assert_eq!(rc, pipework_result::Panic);
        let message = last_message().unwrap();
        assert!(message.contains("a bug in pipework") && message.ends_with("boom 42"), "{message}");
        assert_eq!(value_boundary(7u32, || panic!("static")), 7);
        assert!(last_message().unwrap().ends_with("static"));
    }

    #[test]
    fn the_quiet_boundary_keeps_the_last_error() {
        Failure::null("kept").record();
        assert_eq!(quiet_boundary(|| Err(Failure::null("other"))), pipework_result::NullParameter);
        assert_eq!(last_message().as_deref(), Some("kept is NULL"));
    }
}
