//! Injected failures for tests (cargo feature `fault-injection`): make the Nth netlink request
//! (or, with [`Faults::fail_any`], the Nth request, namespace switch or OVSDB transaction) of
//! the calling thread fail, to prove that a teardown runs every step and that a rollback
//! reports its own failure; or run something just before it, to put another process's change
//! (a concurrent attach, a guest that dies) at a precise step.
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

/// One injected event at the `nth` request (from 1) of `op` (of any operation when `None`).
struct Rule {
    op: Option<Op>,
    nth: usize,
    action: Action,
    seen: usize,
}

/// What happens at a rule's request.
enum Action {
    /// The request fails with this errno, unsent.
    Fail(Errno),
    /// This runs first (once), then the request goes out.
    Before(Option<Box<dyn FnOnce()>>),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = match &self.action {
            Action::Fail(errno) => format!("fail with {errno}"),
            Action::Before(_) => "run a hook first".into(),
        };
        write!(f, "request {} of {:?}: {action} ({} seen)", self.nth, self.op, self.seen)
    }
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
        self.rules.push(Rule { op: Some(op), nth, action: Action::Fail(errno), seen: 0 });
        self
    }

    /// Makes the `nth` netlink request, namespace switch or OVSDB transaction (from 1) of any
    /// operation fail with `errno`, before it is made.
    pub fn fail_any(mut self, nth: usize, errno: Errno) -> Self {
        self.rules.push(Rule { op: None, nth, action: Action::Fail(errno), seen: 0 });
        self
    }

    /// Runs `hook` just before the `nth` netlink request (from 1) of operation `op` is sent,
    /// which then goes out as usual; the hook runs with no failure armed on its thread.
    pub fn before(mut self, op: Op, nth: usize, hook: impl FnOnce() + 'static) -> Self {
        let action = Action::Before(Some(Box::new(hook)));
        self.rules.push(Rule { op: Some(op), nth, action, seen: 0 });
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

/// Counts a request of `op` made by the calling thread, running the hooks due at it; the
/// errno to fail it with, if armed.
pub(crate) fn check(op: Op) -> Option<Errno> {
    let (failure, hooks) = ARMED.with(|armed| {
        let mut failure = None;
        let mut hooks = Vec::new();
        for rule in armed.borrow_mut().iter_mut().filter(|rule| rule.op.is_none_or(|o| o == op)) {
            rule.seen += 1;
            if rule.seen != rule.nth {
                continue;
            }
            match &mut rule.action {
                Action::Fail(errno) => failure = failure.or(Some(*errno)),
                Action::Before(hook) => hooks.extend(hook.take()),
            }
        }
        (failure, hooks)
    });
    // Outside the borrow, and with the rules set aside: a hook may make requests of its own.
    if !hooks.is_empty() {
        let rules = ARMED.with(|armed| std::mem::take(&mut *armed.borrow_mut()));
        hooks.into_iter().for_each(|hook| hook());
        ARMED.with(|armed| *armed.borrow_mut() = rules);
    }
    failure
}
