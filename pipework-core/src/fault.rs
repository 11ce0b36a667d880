//! Injected failures for tests (cargo feature `fault-injection`): make the Nth netlink request
//! of the calling thread fail, to prove that a teardown runs every step and that a rollback
//! reports its own failure.
//!
//! ```
//! use pipework_core::{Handle, error::Op, fault::Faults};
//!
//! let _armed = Faults::new().fail(Op::LinkGet, 1, nix::errno::Errno::EIO).arm();
//! let err = Handle::current()?.link_get("lo").unwrap_err();
//! assert_eq!(err.errno(), nix::errno::Errno::EIO);
//! # Ok::<(), pipework_core::Error>(())
//! ```

use std::cell::RefCell;

use nix::errno::Errno;

use crate::error::Op;

thread_local! {
    static ARMED: RefCell<Vec<Rule>> = const { RefCell::new(Vec::new()) };
}

/// One injected failure: the `nth` request (from 1) of `op` (of any operation when `None`).
#[derive(Debug, Clone)]
struct Rule {
    op: Option<Op>,
    nth: usize,
    errno: Errno,
    seen: usize,
}

/// The failures to inject, built with [`Faults::fail`] and armed for the calling thread.
#[derive(Debug, Default)]
#[must_use = "nothing is injected until the faults are armed"]
pub struct Faults {
    rules: Vec<Rule>,
}

impl Faults {
    /// No failure yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `nth` netlink request (from 1) of operation `op` fail with `errno`, unsent.
    pub fn fail(mut self, op: Op, nth: usize, errno: Errno) -> Self {
        self.rules.push(Rule { op: Some(op), nth, errno, seen: 0 });
        self
    }

    /// Makes the `nth` netlink request (from 1) of any operation fail with `errno`, unsent.
    pub fn fail_any(mut self, nth: usize, errno: Errno) -> Self {
        self.rules.push(Rule { op: None, nth, errno, seen: 0 });
        self
    }

    /// Arms the failures for the requests the calling thread makes until the guard is dropped.
    pub fn arm(self) -> Armed {
        ARMED.with(|armed| *armed.borrow_mut() = self.rules);
        Armed { _not_send: std::marker::PhantomData }
    }
}

/// Armed failures; dropping it disarms them.
#[derive(Debug)]
pub struct Armed {
    // The failures belong to the thread that armed them.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Armed {
    /// How many requests each rule has counted so far, in the order they were added.
    pub fn counted(&self) -> Vec<usize> {
        ARMED.with(|armed| armed.borrow().iter().map(|rule| rule.seen).collect())
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.with(|armed| armed.borrow_mut().clear());
    }
}

/// Counts a request of `op` made by the calling thread; the errno to fail it with, if armed.
pub(crate) fn check(op: Op) -> Option<Errno> {
    ARMED.with(|armed| {
        let mut failure = None;
        for rule in armed.borrow_mut().iter_mut().filter(|rule| rule.op.is_none_or(|o| o == op)) {
            rule.seen += 1;
            if rule.seen == rule.nth {
                failure = failure.or(Some(rule.errno));
            }
        }
        failure
    })
}
