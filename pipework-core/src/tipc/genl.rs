//! A blocking generic-netlink connection to the "TIPCv2" family inside one network namespace.

use std::{
    fmt::Debug,
    os::fd::AsRawFd,
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use netlink_packet_generic::{
    GenlMessage,
    ctrl::{GenlCtrl, GenlCtrlCmd, nlas::GenlCtrlAttrs},
};
use nix::errno::Errno;
use rtnetlink::{
    packet_core::{
        NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer, NetlinkDeserializable, NetlinkMessage,
        NetlinkPayload, NetlinkSerializable,
    },
    sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC},
};

use super::codec::{FAMILY_NAME, TipcAttr, TipcCmd, TipcMessage};
use crate::{
    error::{Error, Op, Result},
    netns::Namespace,
};

/// How long to wait for the kernel's answer before calling the connection broken.
const ANSWER_TIMEOUT_SECS: libc::time_t = 10;

/// What a request failed with: the kernel's errno, or an answer that did not decode.
enum Failure {
    Errno(Errno),
    Decode(String),
}

/// A generic-netlink socket opened inside a namespace, with the TIPCv2 family id resolved.
pub(crate) struct TipcConnection {
    socket: Mutex<Socket>,
    family: u16,
    sequence: AtomicU32,
    namespace: String,
}

impl TipcConnection {
    /// Opens the socket inside `namespace` and resolves the "TIPCv2" family by name.
    pub(crate) fn open(namespace: &Namespace) -> Result<Self> {
        let object = namespace.to_string();
        let mut socket = namespace.within(|| {
            Socket::new(NETLINK_GENERIC).map_err(|err| Error::io(Op::OpenNetlink, &object, &err))
        })?;
        let setup = |socket: &mut Socket| -> std::io::Result<()> {
            socket.bind_auto()?;
            socket.connect(&SocketAddr::new(0, 0))?;
            set_receive_timeout(socket)
        };
        setup(&mut socket).map_err(|err| Error::io(Op::OpenNetlink, &object, &err))?;
        let mut connection = TipcConnection {
            socket: Mutex::new(socket),
            family: 0,
            sequence: AtomicU32::new(1),
            namespace: object,
        };
        connection.family = connection.resolve_family()?;
        Ok(connection)
    }

    /// A description of the namespace, for messages.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    fn resolve_family(&self) -> Result<u16> {
        let request = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(FAMILY_NAME.to_string())],
        });
        let answers = self.exchange(request, NLM_F_REQUEST).map_err(|failure| match failure {
            Failure::Errno(Errno::ENOENT) => Error::Unsupported {
                op: Op::TipcGet,
                object: self.namespace.clone(),
                reason: "the kernel has no TIPC: the generic-netlink family \"TIPCv2\" does not \
                         exist (module not loaded). Fix: `modprobe tipc` on the host (a kernel \
                         built without CONFIG_TIPC cannot do TIPC at all)"
                    .into(),
            },
            failure => self.error(Op::TipcGet, "the TIPCv2 family", failure),
        })?;
        answers
            .iter()
            .flat_map(|answer| &answer.payload.nlas)
            .find_map(|nla| match nla {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| Error::Protocol {
                op: Op::TipcGet,
                object: self.namespace.clone(),
                detail: "the controller's answer has no family id for TIPCv2".into(),
            })
    }

    /// Sends a change command and waits for the acknowledgement.
    pub(crate) fn change(
        &self,
        cmd: TipcCmd,
        attrs: Vec<TipcAttr>,
        op: Op,
        object: &str,
    ) -> Result<()> {
        self.tipc(cmd, attrs, NLM_F_REQUEST | NLM_F_ACK)
            .map(drop)
            .map_err(|failure| self.error(op, object, failure))
    }

    /// Sends a command that answers with one message (a "doit" get).
    pub(crate) fn get(&self, cmd: TipcCmd, op: Op, object: &str) -> Result<Vec<TipcMessage>> {
        self.tipc(cmd, Vec::new(), NLM_F_REQUEST | NLM_F_ACK)
            .map_err(|failure| self.error(op, object, failure))
    }

    /// Sends a dump command and returns every answer.
    pub(crate) fn dump(&self, cmd: TipcCmd, op: Op, object: &str) -> Result<Vec<TipcMessage>> {
        self.tipc(cmd, Vec::new(), NLM_F_REQUEST | NLM_F_DUMP)
            .map_err(|failure| self.error(op, object, failure))
    }

    fn tipc(
        &self,
        cmd: TipcCmd,
        attrs: Vec<TipcAttr>,
        flags: u16,
    ) -> Result<Vec<TipcMessage>, Failure> {
        let mut request = GenlMessage::from_payload(TipcMessage { cmd, attrs });
        request.set_resolved_family_id(self.family);
        Ok(self.exchange(request, flags)?.into_iter().map(|answer| answer.payload).collect())
    }

    fn error(&self, op: Op, object: &str, failure: Failure) -> Error {
        let object = format!("{object} in {}", self.namespace);
        match failure {
            Failure::Errno(errno) => Error::kernel(op, object, errno),
            Failure::Decode(detail) => Error::Protocol { op, object, detail },
        }
    }

    /// Sends one request and collects the answers until the acknowledgement or the end of the dump.
    fn exchange<M>(&self, message: M, flags: u16) -> Result<Vec<M>, Failure>
    where
        M: NetlinkSerializable + NetlinkDeserializable + Debug,
    {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut request =
            NetlinkMessage::new(Default::default(), NetlinkPayload::InnerMessage(message));
        request.header.flags = flags;
        request.header.sequence_number = sequence;
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);

        let socket = self.socket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        socket.send(&bytes, 0).map_err(io_failure)?;
        let mut answers = Vec::new();
        loop {
            let (buffer, _) = socket.recv_from_full().map_err(io_failure)?;
            let mut rest = buffer.as_slice();
            while !rest.is_empty() {
                let length = NetlinkBuffer::new_checked(rest)
                    .map_err(|err| Failure::Decode(err.to_string()))?
                    .length() as usize;
                let message = NetlinkMessage::<M>::deserialize(rest)
                    .map_err(|err| Failure::Decode(err.to_string()))?;
                rest = &rest[length.next_multiple_of(4).min(rest.len())..];
                if message.header.sequence_number != sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(answer) => {
                        answers.push(answer);
                        // A request without ACK or DUMP gets exactly one answer.
                        if flags & (NLM_F_ACK | NLM_F_DUMP) == 0 {
                            return Ok(answers);
                        }
                    }
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            Some(code) => Err(Failure::Errno(Errno::from_raw(-code.get()))),
                            None => Ok(answers),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    _ => {}
                }
            }
        }
    }
}

fn io_failure(err: std::io::Error) -> Failure {
    match err.raw_os_error() {
        // The receive timeout expired: the kernel never answered.
        Some(libc::EAGAIN) => Failure::Decode("the kernel did not answer".into()),
        Some(code) => Failure::Errno(Errno::from_raw(code)),
        None => Failure::Decode(err.to_string()),
    }
}

fn set_receive_timeout(socket: &Socket) -> std::io::Result<()> {
    let timeout = libc::timeval { tv_sec: ANSWER_TIMEOUT_SECS, tv_usec: 0 };
    // SAFETY: SO_RCVTIMEO takes a timeval, passed with its size, on a descriptor we own.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}
