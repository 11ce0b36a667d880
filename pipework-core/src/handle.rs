//! `Handle`: a blocking netlink connection bound to one network namespace.

use std::{
    fmt,
    future::Future,
    os::fd::{FromRawFd, IntoRawFd},
    sync::Mutex,
};

use futures_util::StreamExt;
use nix::errno::Errno;
use rtnetlink::{
    packet_core::{
        NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE,
        NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    },
    packet_route::RouteNetlinkMessage,
    sys::{Socket, TokioSocket, protocols::NETLINK_ROUTE},
};
use tokio::runtime::Runtime;

use crate::{
    error::{Error, Op, Result},
    netns::{Namespace, NamespaceId},
};

/// One request of [`Handle::change_batch`].
pub(crate) struct BatchRequest {
    pub(crate) message: RouteNetlinkMessage,
    pub(crate) create: Create,
    pub(crate) op: Op,
    pub(crate) object: String,
}

/// How a change request treats an object that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Fail with EEXIST (`ip ... add`).
    Exclusive,
    /// Replace it (`ip ... replace`).
    Replace,
    /// Change an existing object only (`ip link set`, `ip ... del`).
    No,
    /// Add one more alongside those there (`bridge fdb append`).
    Append,
}

/// A netlink connection bound to one network namespace, with a blocking API.
///
/// The socket is opened inside the namespace, so every request made through the
/// handle acts there, whichever thread makes it. Requests run on the handle's own
/// current-thread tokio runtime; calling from inside another tokio runtime is fine.
pub struct Handle {
    // Always Some until drop; taken there to shut it down without blocking.
    runtime: Option<Runtime>,
    netlink: rtnetlink::Handle,
    namespace: Namespace,
    // The kernel runs one dump per netlink socket at a time and answers EBUSY to a second.
    dump_lock: Mutex<()>,
    // Link deletions return once the link is unlisted (see `with_detached_reclaim`).
    detached_reclaim: bool,
}

impl Handle {
    /// Opens a handle in the calling thread's namespace.
    pub fn current() -> Result<Self> {
        Self::new(&Namespace::current()?)
    }

    /// Opens a handle in `namespace`.
    pub fn new(namespace: &Namespace) -> Result<Self> {
        let object = namespace.to_string();
        let namespace = namespace.try_clone()?;
        let socket = namespace.within(|| {
            Socket::new(NETLINK_ROUTE).map_err(|err| Error::io(Op::OpenNetlink, &object, &err))
        })?;
        socket.set_ext_ack(true).map_err(|err| Error::io(Op::OpenNetlink, &object, &err))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|err| Error::io(Op::OpenNetlink, &object, &err))?;
        let netlink = {
            let _rt = runtime.enter();
            // SAFETY: the descriptor comes from a socket we own and give away here.
            let socket = unsafe { TokioSocket::from_raw_fd(socket.into_raw_fd()) };
            let (connection, netlink, _) = rtnetlink::from_socket(socket);
            runtime.spawn(connection);
            netlink
        };
        Ok(Handle {
            runtime: Some(runtime),
            netlink,
            namespace,
            dump_lock: Mutex::new(()),
            detached_reclaim: false,
        })
    }

    /// Makes this handle's link deletions return once the kernel has unlisted the link (its
    /// RTM_DELLINK announcement), leaving the kernel's reclamation wait (15-25 ms for a veth)
    /// to a detached process that ends by itself: for processes that exit right after, such as
    /// the CNI plugin, whose caller would otherwise wait for it.
    pub fn with_detached_reclaim(mut self) -> Self {
        self.detached_reclaim = true;
        self
    }

    /// Whether link deletions return once the link is unlisted.
    pub(crate) fn detached_reclaim(&self) -> bool {
        self.detached_reclaim
    }

    /// The namespace this handle acts in.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The identity of the namespace this handle acts in.
    pub fn namespace_id(&self) -> NamespaceId {
        self.namespace.id()
    }

    /// Drives `future` to completion on the handle's runtime.
    pub(crate) fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self.runtime.as_ref().expect("runtime lives until drop");
        if tokio::runtime::Handle::try_current().is_ok() {
            // A runtime cannot be driven from a thread that already runs one.
            std::thread::scope(|scope| {
                scope
                    .spawn(|| runtime.block_on(future))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            runtime.block_on(future)
        }
    }

    /// Sends a change request and waits for the kernel's acknowledgement.
    pub(crate) fn change(
        &self,
        message: RouteNetlinkMessage,
        create: Create,
        op: Op,
        object: &dyn fmt::Display,
    ) -> Result<()> {
        self.exchange(message, change_flags(create), op, object).map(drop)
    }

    /// Sends a change request and returns the object as the kernel made it (NLM_F_ECHO),
    /// which saves reading it back.
    pub(crate) fn change_echo(
        &self,
        message: RouteNetlinkMessage,
        create: Create,
        op: Op,
        object: &dyn fmt::Display,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(message, change_flags(create) | NLM_F_ECHO, op, object)
    }

    /// Sends several change requests at once and waits for every acknowledgement.
    ///
    /// The kernel handles them in order, so later requests may depend on earlier ones;
    /// one answer per request, in order (a failure does not stop the later requests).
    pub(crate) fn change_batch(&self, requests: Vec<BatchRequest>) -> Vec<Result<()>> {
        let pending: Vec<_> = requests
            .iter()
            .map(|request| {
                if let Some(errno) = injected(request.op) {
                    return Err(Some(errno));
                }
                let mut message = NetlinkMessage::from(request.message.clone());
                message.header.flags = change_flags(request.create);
                self.netlink.clone().request(message).map_err(|_| None)
            })
            .collect();
        let outcomes = self.block_on(futures_util::future::join_all(pending.into_iter().map(
            |stream| async move {
                let mut stream = stream?;
                while let Some(answer) = stream.next().await {
                    if let NetlinkPayload::Error(err) = answer.payload
                        && let Some(code) = err.code
                    {
                        return Err(Some(Errno::from_raw(-code.get())));
                    }
                }
                Ok(())
            },
        )));
        outcomes
            .into_iter()
            .zip(requests)
            .map(|(outcome, request)| {
                outcome.map_err(|errno| {
                    let object = format!("{} in {}", request.object, self.namespace);
                    match errno {
                        Some(errno) => Error::kernel(request.op, object, errno),
                        None => Error::Protocol {
                            op: request.op,
                            object,
                            detail: "the netlink connection is closed".into(),
                        },
                    }
                })
            })
            .collect()
    }

    /// Sends a request for one object and returns the kernel's answer.
    pub(crate) fn get(
        &self,
        message: RouteNetlinkMessage,
        op: Op,
        object: &dyn fmt::Display,
    ) -> Result<Option<RouteNetlinkMessage>> {
        match self.exchange(message, NLM_F_REQUEST, op, object) {
            Ok(mut answers) => Ok(answers.pop()),
            Err(Error::Kernel { errno: Errno::ENODEV | Errno::ENOENT | Errno::ESRCH, .. }) => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Sends a dump request and returns every answer; dumps from several threads take turns.
    pub(crate) fn dump(
        &self,
        message: RouteNetlinkMessage,
        op: Op,
        object: &dyn fmt::Display,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let _turn = self.dump_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.exchange(message, NLM_F_REQUEST | NLM_F_DUMP, op, object)
    }

    fn exchange(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        op: Op,
        object: &dyn fmt::Display,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = flags;
        let mut netlink = self.netlink.clone();
        let exchanged = async move {
            let mut answers = Vec::new();
            let mut stream = netlink.request(request).map_err(|_| None)?;
            while let Some(answer) = stream.next().await {
                match answer.payload {
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    NetlinkPayload::Error(err) => {
                        if let Some(code) = err.code {
                            return Err(Some(Errno::from_raw(-code.get())));
                        }
                    }
                    NetlinkPayload::Done(_) => break,
                    _ => {}
                }
            }
            Ok(answers)
        };
        let answers = match injected(op) {
            Some(errno) => Err(Some(errno)),
            None => self.block_on(exchanged),
        };
        answers.map_err(|errno| {
            let object = format!("{object} in {}", self.namespace);
            match errno {
                Some(errno) => Error::kernel(op, object, errno),
                None => Error::Protocol {
                    op,
                    object,
                    detail: "the netlink connection is closed".into(),
                },
            }
        })
    }
}

/// The errno of a failure injected into the calling thread's next request of `op` (cargo
/// feature `fault-injection`, see [`crate::fault`]); never one without the feature.
pub(crate) fn injected(op: Op) -> Option<Errno> {
    #[cfg(feature = "fault-injection")]
    return crate::fault::check(op);
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = op;
        None
    }
}

fn change_flags(create: Create) -> u16 {
    NLM_F_REQUEST
        | NLM_F_ACK
        | match create {
            Create::Exclusive => NLM_F_CREATE | NLM_F_EXCL,
            Create::Replace => NLM_F_CREATE | NLM_F_REPLACE,
            Create::No => 0,
            Create::Append => NLM_F_CREATE | NLM_F_APPEND,
        }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // A plain drop would panic when the handle is dropped inside an async context.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}
