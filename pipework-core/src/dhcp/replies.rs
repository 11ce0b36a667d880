//! Hearing what DHCP servers answer a guest interface, so a DHCPNAK is an error at once.
//!
//! mozim drops a DHCPNAK while selecting, renewing or rebinding and waits for a DHCPACK
//! that never comes; a server that refuses would look like no server at all. This small
//! listener (a packet socket with a filter for UDP port 68, opened inside the guest)
//! reports each reply addressed to the guest's MAC, so a refusal becomes a clear error
//! naming the server and its reason, and a timeout can tell "no server" from "offered
//! but never acknowledged".

use std::{
    net::Ipv4Addr,
    os::fd::{AsRawFd, OwnedFd},
};

use nix::sys::socket::{
    AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrLike, bind, recv,
    socket,
};
use tokio::io::unix::AsyncFd;

use crate::mac::MacAddr;

/// The DHCP message types a server sends (RFC 2132 option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplyKind {
    Offer,
    Ack,
    Nak,
}

/// A server's reply to this client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    pub(super) kind: ReplyKind,
    /// The server identifier (option 54), or the IP source address.
    pub(super) server: Ipv4Addr,
    /// The address offered or acknowledged.
    pub(super) address: Ipv4Addr,
    /// The server's message (option 56), sent with a DHCPNAK.
    pub(super) message: Option<String>,
}

/// A packet socket inside the guest that hears the DHCP replies for one MAC.
pub(super) struct ReplyListener {
    socket: AsyncFd<OwnedFd>,
    mac: MacAddr,
}

// Classic BPF opcodes (linux/filter.h), the subset this filter uses.
const LD_B_ABS: u16 = 0x30;
const LD_H_ABS: u16 = 0x28;
const LD_H_IND: u16 = 0x48;
const LDX_B_MSH: u16 = 0xb1;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Keeps unfragmented IPv4 UDP datagrams to port 68; the socket sees IP packets without
/// their Ethernet header, so offsets count from the IP header.
const FILTER: [(u16, u8, u8, u32); 9] = [
    (LD_B_ABS, 0, 0, 9),    // A = IP protocol
    (JEQ_K, 0, 6, 17),      // UDP, or drop
    (LD_H_ABS, 0, 0, 6),    // A = flags and fragment offset
    (JSET_K, 4, 0, 0x1fff), // a later fragment: drop
    (LDX_B_MSH, 0, 0, 0),   // X = IP header length
    (LD_H_IND, 0, 0, 2),    // A = UDP destination port
    (JEQ_K, 0, 1, 68),      // the DHCP client port, or drop
    (RET_K, 0, 0, 0xffff),  // keep
    (RET_K, 0, 0, 0),       // drop
];

impl ReplyListener {
    /// Opens the listener on link `index` for replies to `mac`; call it on a thread inside
    /// the guest namespace, with a tokio runtime entered.
    pub(super) fn open(index: u32, mac: MacAddr) -> std::io::Result<Self> {
        let fd = socket(
            AddressFamily::Packet,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthIp,
        )?;
        attach_filter(&fd)?;
        // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
        let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        address.sll_ifindex = index as i32;
        // SAFETY: the pointer and length describe the sockaddr_ll above.
        let link = unsafe {
            LinkAddr::from_raw(
                (&raw const address).cast(),
                Some(size_of::<libc::sockaddr_ll>() as u32),
            )
        }
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        bind(fd.as_raw_fd(), &link)?;
        // SAFETY: the socket is owned here and stays open, unchanged, for the AsyncFd's life.
        let socket = unsafe { AsyncFd::register(fd) }.map_err(std::io::Error::from)?;
        Ok(ReplyListener { socket, mac })
    }

    /// Waits for the next reply addressed to this client.
    pub(super) async fn next(&self) -> std::io::Result<Reply> {
        let mut buffer = [0u8; 1600];
        loop {
            let mut ready = self.socket.readable().await?;
            match ready.try_io(|fd| {
                recv(fd.get_ref().as_raw_fd(), &mut buffer, MsgFlags::empty()).map_err(Into::into)
            }) {
                Ok(Ok(length)) => {
                    if let Some(reply) = parse(&buffer[..length], self.mac) {
                        return Ok(reply);
                    }
                }
                Ok(Err(err)) => return Err(err),
                Err(_would_block) => continue,
            }
        }
    }
}

fn attach_filter(fd: &OwnedFd) -> std::io::Result<()> {
    let mut program: Vec<libc::sock_filter> =
        FILTER.iter().map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k }).collect();
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    // SAFETY: fprog points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const fprog).cast(),
            size_of::<libc::sock_fprog>() as u32,
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Reads a DHCP reply to `mac` out of an IPv4 packet; anything else is `None`.
fn parse(packet: &[u8], mac: MacAddr) -> Option<Reply> {
    let ip_header = usize::from(packet.first()? & 0x0f) * 4;
    let source = Ipv4Addr::from(<[u8; 4]>::try_from(packet.get(12..16)?).ok()?);
    let bootp = packet.get(ip_header + 8..)?;
    // op BOOTREPLY, Ethernet hardware type, six-byte hardware address, for this MAC.
    if bootp.first() != Some(&2) || bootp.get(1) != Some(&1) || bootp.get(2) != Some(&6) {
        return None;
    }
    if bootp.get(28..34)? != mac.octets() || bootp.get(236..240)? != [99, 130, 83, 99] {
        return None;
    }
    let address = Ipv4Addr::from(<[u8; 4]>::try_from(bootp.get(16..20)?).ok()?);
    let (mut kind, mut server, mut message) = (None, None, None);
    let mut options = bootp.get(240..)?;
    while let Some((&code, rest)) = options.split_first() {
        match code {
            0 => options = rest,
            255 => break,
            _ => {
                let (&length, rest) = rest.split_first()?;
                let value = rest.get(..usize::from(length))?;
                match (code, value) {
                    (53, [2]) => kind = Some(ReplyKind::Offer),
                    (53, [5]) => kind = Some(ReplyKind::Ack),
                    (53, [6]) => kind = Some(ReplyKind::Nak),
                    (54, [a, b, c, d]) => server = Some(Ipv4Addr::new(*a, *b, *c, *d)),
                    (56, text) => message = Some(String::from_utf8_lossy(text).into_owned()),
                    _ => {}
                }
                options = &rest[usize::from(length)..];
            }
        }
    }
    Some(Reply { kind: kind?, server: server.unwrap_or(source), address, message })
}

/// Reads `packet` as the listener reads what it hears, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_parse(packet: &[u8]) {
    let _ = parse(packet, MacAddr::new([2, 0, 0, 0, 0, 7]));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr::new([2, 0, 0, 0, 0, 7]);

    /// An IPv4/UDP packet from 10.9.0.1 carrying a BOOTREPLY with `options`.
    fn reply(mac: MacAddr, yiaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
        let mut packet =
            vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 0, 1, 255, 255, 255, 255];
        packet.extend_from_slice(&[0, 67, 0, 68, 0, 0, 0, 0]);
        let mut bootp = vec![0u8; 240];
        bootp[..3].copy_from_slice(&[2, 1, 6]);
        bootp[16..20].copy_from_slice(&yiaddr);
        bootp[28..34].copy_from_slice(&mac.octets());
        bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
        bootp.extend_from_slice(options);
        packet.extend_from_slice(&bootp);
        packet
    }

    #[test]
    fn a_nak_is_read_with_its_server_and_message() {
        let options = [53, 1, 6, 0, 54, 4, 10, 9, 0, 2, 56, 13]
            .iter()
            .copied()
            .chain(*b"wrong network")
            .chain([255])
            .collect::<Vec<_>>();
        let parsed = parse(&reply(MAC, [0; 4], &options), MAC).unwrap();
        assert_eq!(parsed.kind, ReplyKind::Nak);
        assert_eq!(parsed.server, Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(parsed.message.as_deref(), Some("wrong network"));
    }

    #[test]
    fn an_offer_without_server_id_names_the_sender() {
        let parsed = parse(&reply(MAC, [10, 9, 0, 50], &[53, 1, 2, 255]), MAC).unwrap();
        assert_eq!(parsed.kind, ReplyKind::Offer);
        assert_eq!(parsed.server, Ipv4Addr::new(10, 9, 0, 1));
        assert_eq!(parsed.address, Ipv4Addr::new(10, 9, 0, 50));
    }

    #[test]
    fn replies_to_others_and_garbage_are_ignored() {
        let other = MacAddr::new([2, 0, 0, 0, 0, 8]);
        assert_eq!(parse(&reply(other, [0; 4], &[53, 1, 6, 255]), MAC), None);
        assert_eq!(parse(&reply(MAC, [0; 4], &[53, 5, 6]), MAC), None, "truncated option");
        assert_eq!(parse(&reply(MAC, [0; 4], &[255]), MAC), None, "no message type");
        assert_eq!(parse(&[0x45, 0, 0], MAC), None);
        assert_eq!(parse(&[], MAC), None);
    }

    #[test]
    fn the_filter_jumps_land_on_its_return_instructions() {
        for (index, (code, jt, jf, _)) in FILTER.iter().enumerate() {
            if *code & 0x07 == 0x05 {
                for offset in [jt, jf] {
                    let target = index + 1 + usize::from(*offset);
                    assert!(target < FILTER.len(), "instruction {index} jumps outside");
                }
            }
        }
        assert_eq!(FILTER[7].0, RET_K);
        assert_eq!(FILTER[8], (RET_K, 0, 0, 0));
    }
}
