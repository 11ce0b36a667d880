//! AF_TIPC sockets with name-based service addressing: what applications on a TIPC bus use.

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Op, Result},
    netns::Namespace,
};

/// `AF_TIPC` (not in the libc crate's constants for every target).
const AF_TIPC: libc::c_int = 30;
/// `TIPC_SERVICE_RANGE`: a range of instances of one service type (for bind).
const TIPC_SERVICE_RANGE: u8 = 1;
/// `TIPC_SERVICE_ADDR`: one service instance (for sendto).
const TIPC_SERVICE_ADDR: u8 = 2;
/// `TIPC_CLUSTER_SCOPE`: visible to every node of the network.
const TIPC_CLUSTER_SCOPE: i8 = 2;
/// Service types below 64 are reserved for TIPC itself.
const FIRST_USER_TYPE: u32 = 64;

/// `struct sockaddr_tipc` from `linux/tipc.h`: family, address type, scope, and a 12-byte union.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SockaddrTipc {
    family: u16,
    addrtype: u8,
    scope: i8,
    addr: [u32; 3],
}

/// A TIPC service address: a service type and an instance, found anywhere on the bus by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TipcService {
    /// The service type (64 or more; lower types are TIPC's own).
    pub service_type: u32,
    /// The instance.
    pub instance: u32,
}

/// A datagram received on a [`TipcListener`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipcDatagram {
    /// The payload.
    pub data: Vec<u8>,
    /// The 32-bit address of the sending node.
    pub node: u32,
    /// The sending socket's port number on that node.
    pub port: u32,
}

/// A reliable-datagram socket bound to a service in one namespace, visible to the whole bus.
#[derive(Debug)]
pub struct TipcListener {
    socket: OwnedFd,
    object: String,
}

impl TipcService {
    /// A service address; types below 64 are refused because TIPC reserves them.
    pub fn new(service_type: u32, instance: u32) -> Result<Self> {
        if service_type < FIRST_USER_TYPE {
            return Err(Error::invalid(
                "service type",
                service_type.to_string(),
                "types 0 to 63 are reserved for TIPC; use 64 or more",
            ));
        }
        Ok(TipcService { service_type, instance })
    }

    /// Binds a socket to this service in `namespace` (cluster scope).
    ///
    /// Equivalent to: `bind(socket(AF_TIPC, SOCK_RDM), {TIPC_SERVICE_RANGE, type, instance, instance})`.
    pub fn bind(&self, namespace: &Namespace) -> Result<TipcListener> {
        let object = format!("service {self} in {namespace}");
        let socket = open_socket(namespace, &object)?;
        let mut addr = self.sockaddr(TIPC_SERVICE_RANGE);
        addr.addr[2] = self.instance;
        // SAFETY: a sockaddr_tipc of the right size, on a socket we own.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const SockaddrTipc).cast(),
                size_of::<SockaddrTipc>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(Error::kernel(Op::TipcSocket, object, Errno::last()));
        }
        Ok(TipcListener { socket, object })
    }

    /// Sends one datagram from `namespace` to whichever node publishes this service.
    ///
    /// A freshly bound service takes a moment to reach the other nodes' name tables, so an
    /// unknown service is retried until `timeout`.
    pub fn send(&self, namespace: &Namespace, data: &[u8], timeout: Duration) -> Result<()> {
        let object = format!("service {self} from {namespace}");
        let socket = open_socket(namespace, &object)?;
        let addr = self.sockaddr(TIPC_SERVICE_ADDR);
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: the buffer and the sockaddr_tipc are valid for the lengths given.
            let rc = unsafe {
                libc::sendto(
                    socket.as_raw_fd(),
                    data.as_ptr().cast(),
                    data.len(),
                    0,
                    (&addr as *const SockaddrTipc).cast(),
                    size_of::<SockaddrTipc>() as libc::socklen_t,
                )
            };
            match Errno::result(rc) {
                Ok(_) => return Ok(()),
                Err(Errno::EHOSTUNREACH | Errno::ENOENT | Errno::EAGAIN)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(errno) => return Err(Error::kernel(Op::TipcSocket, object, errno)),
            }
        }
    }

    fn sockaddr(&self, addrtype: u8) -> SockaddrTipc {
        SockaddrTipc {
            family: AF_TIPC as u16,
            addrtype,
            scope: TIPC_CLUSTER_SCOPE,
            addr: [self.service_type, self.instance, 0],
        }
    }
}

impl std::fmt::Display for TipcService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}, {}}}", self.service_type, self.instance)
    }
}

impl TipcListener {
    /// Waits up to `timeout` for one datagram.
    pub fn recv(&self, timeout: Duration) -> Result<TipcDatagram> {
        let timeout = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: SO_RCVTIMEO takes a timeval of this size.
        let rc = unsafe {
            libc::setsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        Errno::result(rc).map_err(|errno| Error::kernel(Op::TipcSocket, &self.object, errno))?;
        let mut data = vec![0u8; 66_000];
        let mut from = SockaddrTipc::default();
        let mut from_len = size_of::<SockaddrTipc>() as libc::socklen_t;
        // SAFETY: the buffers are valid for the lengths given; the kernel writes at most from_len.
        let received = unsafe {
            libc::recvfrom(
                self.socket.as_raw_fd(),
                data.as_mut_ptr().cast(),
                data.len(),
                0,
                (&mut from as *mut SockaddrTipc).cast(),
                &mut from_len,
            )
        };
        let received = Errno::result(received).map_err(|errno| {
            Error::kernel(
                Op::TipcSocket,
                &self.object,
                if errno == Errno::EAGAIN { Errno::ETIMEDOUT } else { errno },
            )
        })?;
        data.truncate(received as usize);
        // A TIPC_SOCKET_ADDR: the union holds {ref (port), node}.
        Ok(TipcDatagram { data, node: from.addr[1], port: from.addr[0] })
    }
}

/// The 32-bit address of the TIPC node of `namespace` (0 until it has one).
///
/// Equivalent to: `tipc node get address`.
pub fn node_address(namespace: &Namespace) -> Result<u32> {
    let object = format!("node address of {namespace}");
    let socket = open_socket(namespace, &object)?;
    let mut addr = SockaddrTipc::default();
    let mut len = size_of::<SockaddrTipc>() as libc::socklen_t;
    // SAFETY: the kernel writes at most len bytes into addr.
    let rc = unsafe {
        libc::getsockname(socket.as_raw_fd(), (&mut addr as *mut SockaddrTipc).cast(), &mut len)
    };
    Errno::result(rc).map_err(|errno| Error::kernel(Op::TipcSocket, object, errno))?;
    Ok(addr.addr[1])
}

/// Opens an AF_TIPC reliable-datagram socket inside `namespace`.
fn open_socket(namespace: &Namespace, object: &str) -> Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = namespace
        .within(|| Ok(unsafe { libc::socket(AF_TIPC, libc::SOCK_RDM | libc::SOCK_CLOEXEC, 0) }))?;
    match Errno::result(fd) {
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(Errno::EAFNOSUPPORT) => Err(Error::Unsupported {
            op: Op::TipcSocket,
            object: object.to_string(),
            reason: "the kernel has no TIPC (module not loaded). Fix: `modprobe tipc` on the host"
                .into(),
        }),
        Err(errno) => Err(Error::kernel(Op::TipcSocket, object, errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_tipc_has_the_kernel_layout() {
        assert_eq!(size_of::<SockaddrTipc>(), 16);
        let service = TipcService::new(18888, 17).unwrap();
        let addr = service.sockaddr(TIPC_SERVICE_ADDR);
        assert_eq!((addr.family, addr.addrtype, addr.scope), (30, 2, 2));
        assert_eq!(addr.addr, [18888, 17, 0]);
        assert_eq!(service.to_string(), "{18888, 17}");
    }

    #[test]
    fn reserved_service_types_are_refused() {
        let err = TipcService::new(1, 1).unwrap_err().to_string();
        assert!(err.contains("service type") && err.contains("reserved"), "{err}");
    }
}
