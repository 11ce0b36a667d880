//! Injected failures for tests (cargo feature `fault-injection`): make the Nth netlink request
//! (or, with [`Faults::fail_any`], the Nth request, namespace switch or OVSDB transaction) of
//! the calling thread, and of the worker threads it runs steps on, fail, to prove that a teardown runs every step and that a rollback
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

use std::{
    cell::RefCell,
    sync::{Arc, Mutex},
};

use nix::errno::Errno;

use crate::error::Op;

/// Rules armed by one thread, shared with the worker threads it runs steps on.
type Shared = Arc<Mutex<Vec<Rule>>>;

thread_local! {
    static ARMED: RefCell<Option<Shared>> = const { RefCell::new(None) };
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
    Before(Option<Box<dyn FnOnce() + Send>>),
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
    pub fn before(mut self, op: Op, nth: usize, hook: impl FnOnce() + Send + 'static) -> Self {
        let action = Action::Before(Some(Box::new(hook)));
        self.rules.push(Rule { op: Some(op), nth, action, seen: 0 });
        self
    }

    /// Arms the failures for the requests the calling thread makes (and the worker threads the
    /// core runs its steps on for it) until the guard is dropped.
    pub fn arm(self) -> Armed {
        ARMED.with(|armed| *armed.borrow_mut() = Some(Arc::new(Mutex::new(self.rules))));
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
        let shared = ARMED.with(|armed| armed.borrow().clone());
        shared.map_or_else(Vec::new, |rules| {
            rules.lock().expect("rules").iter().map(|rule| rule.seen).collect()
        })
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.with(|armed| *armed.borrow_mut() = None);
    }
}

/// The calling thread's armed failures, to arm on a worker thread that does part of its work.
pub(crate) struct Inherited(Option<Shared>);

/// The calling thread's armed failures, if any.
pub(crate) fn inherited() -> Inherited {
    Inherited(ARMED.with(|armed| armed.borrow().clone()))
}

impl Inherited {
    /// Arms them on the calling (worker) thread until the guard is dropped; they count on, shared.
    pub(crate) fn arm_here(&self) -> Armed {
        ARMED.with(|armed| *armed.borrow_mut() = self.0.clone());
        Armed { _not_send: std::marker::PhantomData }
    }
}

/// Counts a request of `op` made by the calling thread, running the hooks due at it; the
/// errno to fail it with, if armed.
pub(crate) fn check(op: Op) -> Option<Errno> {
    let shared = ARMED.with(|armed| armed.borrow().clone())?;
    let (failure, hooks) = {
        let mut rules = shared.lock().expect("rules");
        let mut failure = None;
        let mut hooks = Vec::new();
        for rule in rules.iter_mut().filter(|rule| rule.op.is_none_or(|o| o == op)) {
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
    };
    // Outside the lock, and with the rules set aside: a hook may make requests of its own.
    if !hooks.is_empty() {
        let rules = ARMED.with(|armed| armed.borrow_mut().take());
        hooks.into_iter().for_each(|hook| hook());
        ARMED.with(|armed| *armed.borrow_mut() = rules);
    }
    failure
}
