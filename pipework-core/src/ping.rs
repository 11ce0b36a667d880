//! ICMP echo from inside a namespace: the reachability check of demos and test harnesses.

use std::{
    net::{IpAddr, SocketAddr},
    os::fd::AsRawFd,
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    sys::{
        socket::{
            AddressFamily, SockFlag, SockProtocol, SockType, SockaddrStorage, recvfrom, sendto,
            setsockopt, socket, sockopt,
        },
        time::TimeVal,
    },
};

use crate::{
    error::{Error, Op, Result},
    netns::Namespace,
};

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// Sends ICMP echo requests from `namespace` to `destination` until one is answered or `timeout` passes.
///
/// Returns the round-trip time of the answered request. Needs CAP_NET_RAW.
/// Equivalent to: `ip netns exec NS ping -c 1 -W TIMEOUT DESTINATION`.
pub fn ping(namespace: &Namespace, destination: IpAddr, timeout: Duration) -> Result<Duration> {
    let object = format!("{destination} from {namespace}");
    let (family, protocol) = match destination {
        IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp),
        IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6),
    };
    let socket = namespace.within(|| {
        socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol)
            .map_err(|errno| Error::kernel(Op::Probe, &object, errno))
    })?;
    let target = SockaddrStorage::from(SocketAddr::new(destination, 0));
    let identifier = (std::process::id() as u16) ^ (socket.as_raw_fd() as u16);
    let deadline = Instant::now() + timeout;
    let mut sequence: u16 = 0;
    while Instant::now() < deadline {
        sequence = sequence.wrapping_add(1);
        let request = echo_request(destination.is_ipv6(), identifier, sequence);
        let sent = Instant::now();
        match sendto(socket.as_raw_fd(), &request, &target, nix::sys::socket::MsgFlags::empty()) {
            Ok(_) => {}
            // No route yet, or the neighbour is not resolved: try again until the deadline.
            Err(Errno::ENETUNREACH | Errno::EHOSTUNREACH | Errno::ENOBUFS) => {}
            Err(errno) => return Err(Error::kernel(Op::Probe, &object, errno)),
        }
        let wait_until = (sent + Duration::from_millis(200)).min(deadline);
        while let Some(left) = wait_until.checked_duration_since(Instant::now()) {
            let left = left.max(Duration::from_millis(1));
            setsockopt(
                &socket,
                sockopt::ReceiveTimeout,
                &TimeVal::new(left.as_secs() as i64, left.subsec_micros() as i64),
            )
            .map_err(|errno| Error::kernel(Op::Probe, &object, errno))?;
            let mut buffer = [0u8; 1500];
            match recvfrom::<SockaddrStorage>(socket.as_raw_fd(), &mut buffer) {
                Ok((len, Some(from))) if source_is(&from, destination) => {
                    if is_echo_reply(&buffer[..len], destination.is_ipv6(), identifier, sequence) {
                        return Ok(sent.elapsed());
                    }
                }
                Ok(_) => {}
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(errno) => return Err(Error::kernel(Op::Probe, &object, errno)),
            }
        }
    }
    Err(Error::kernel(Op::Probe, object, Errno::ETIMEDOUT))
}

fn source_is(from: &SockaddrStorage, destination: IpAddr) -> bool {
    match destination {
        IpAddr::V4(v4) => from.as_sockaddr_in().is_some_and(|a| a.ip() == v4),
        IpAddr::V6(v6) => from.as_sockaddr_in6().is_some_and(|a| a.ip() == v6),
    }
}

/// An echo request with an 8-byte header and 16 bytes of payload (the kernel sums ICMPv6 itself).
fn echo_request(ipv6: bool, identifier: u16, sequence: u16) -> Vec<u8> {
    let mut packet = vec![0u8; 24];
    packet[0] = if ipv6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    packet[4..6].copy_from_slice(&identifier.to_be_bytes());
    packet[6..8].copy_from_slice(&sequence.to_be_bytes());
    packet[8..].copy_from_slice(b"pipework-rs ping");
    if !ipv6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

fn is_echo_reply(packet: &[u8], ipv6: bool, identifier: u16, sequence: u16) -> bool {
    // Raw IPv4 sockets deliver the IP header too; raw IPv6 sockets do not.
    let icmp = if ipv6 {
        packet
    } else {
        let header_len = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
        packet.get(header_len..).unwrap_or_default()
    };
    icmp.len() >= 8
        && icmp[0] == if ipv6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 }
        && icmp[4..6] == identifier.to_be_bytes()
        && icmp[6..8] == sequence.to_be_bytes()
}

/// The Internet checksum (RFC 1071).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_request_verifies_to_zero() {
        let packet = echo_request(false, 0x1234, 7);
        assert_eq!(checksum(&packet), 0);
        assert_eq!(packet[0], ECHO_REQUEST_V4);
    }

    #[test]
    fn replies_are_matched_by_identifier_and_sequence() {
        let mut reply = vec![0x45u8; 20];
        let mut icmp = echo_request(false, 9, 3);
        icmp[0] = ECHO_REPLY_V4;
        reply.extend_from_slice(&icmp);
        assert!(is_echo_reply(&reply, false, 9, 3));
        assert!(!is_echo_reply(&reply, false, 9, 4));
        assert!(!is_echo_reply(&reply[..22], false, 9, 3));
    }
}
