//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6), sent from inside a guest
//! so that switches and neighbours learn a new or moved address at once.

use std::{
    mem,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use nix::errno::Errno;

use crate::{
    error::{Error, Op, Result},
    mac::MacAddr,
    netns::{Namespace, NamespaceGuard},
};

const BROADCAST: [u8; 6] = [0xff; 6];
/// The Ethernet address of ff02::1 (all nodes).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Announces `addresses` of interface `index` (with hardware address `mac`) in `namespace`.
///
/// IPv4: an unsolicited ARP reply to the broadcast address, like `arping -A -c 1`.
/// IPv6: an unsolicited neighbour advertisement to ff02::1 with the override flag.
/// Needs CAP_NET_RAW.
pub fn announce(
    namespace: &Namespace,
    index: u32,
    mac: MacAddr,
    addresses: &[IpAddr],
) -> Result<()> {
    let object = format!("addresses of link #{index} in {namespace}");
    let socket = {
        let _inside = NamespaceGuard::enter(namespace)?;
        // SAFETY: plain socket(2) call; the descriptor is owned right after.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::kernel(Op::Probe, object, Errno::last()));
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    for address in addresses {
        let frame = match address {
            IpAddr::V4(ip) => gratuitous_arp(mac, *ip),
            IpAddr::V6(ip) => unsolicited_na(mac, *ip),
        };
        send_frame(&socket, index, &frame)
            .map_err(|errno| Error::kernel(Op::Probe, &object, errno))?;
    }
    Ok(())
}

fn send_frame(socket: &OwnedFd, index: u32, frame: &[u8]) -> std::result::Result<(), Errno> {
    // SAFETY: sockaddr_ll is plain data; zero is a valid starting value.
    let mut address: libc::sockaddr_ll = unsafe { mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_ifindex = index as i32;
    address.sll_halen = 6;
    address.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: the frame and the address outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&raw const address).cast(),
            mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if sent < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// An Ethernet frame carrying an unsolicited ARP reply for `ip` at `mac`.
pub(crate) fn gratuitous_arp(mac: MacAddr, ip: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&BROADCAST);
    frame.extend_from_slice(&mac.octets());
    frame.extend_from_slice(&0x0806u16.to_be_bytes()); // ARP
    frame.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]); // Ethernet, IPv4, lengths
    frame.extend_from_slice(&2u16.to_be_bytes()); // reply
    frame.extend_from_slice(&mac.octets());
    frame.extend_from_slice(&ip.octets());
    frame.extend_from_slice(&BROADCAST);
    frame.extend_from_slice(&ip.octets());
    frame
}

/// An Ethernet frame carrying an unsolicited neighbour advertisement for `ip` at `mac`.
pub(crate) fn unsolicited_na(mac: MacAddr, ip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0]); // neighbour advertisement, checksum later
    icmp.extend_from_slice(&0x2000_0000u32.to_be_bytes()); // override
    icmp.extend_from_slice(&ip.octets());
    icmp.extend_from_slice(&[2, 1]); // target link-layer address option, 8 bytes
    icmp.extend_from_slice(&mac.octets());
    let sum = icmpv6_checksum(ip, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut frame = Vec::with_capacity(14 + 40 + icmp.len());
    frame.extend_from_slice(&ALL_NODES_MAC);
    frame.extend_from_slice(&mac.octets());
    frame.extend_from_slice(&0x86ddu16.to_be_bytes()); // IPv6
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[58, 255]); // ICMPv6, hop limit 255 as NDP requires
    frame.extend_from_slice(&ip.octets());
    frame.extend_from_slice(&ALL_NODES.octets());
    frame.extend_from_slice(&icmp);
    frame
}

/// The ICMPv6 checksum over the IPv6 pseudo-header and the message (RFC 4443).
fn icmpv6_checksum(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let mut data = Vec::with_capacity(40 + message.len());
    data.extend_from_slice(&source.octets());
    data.extend_from_slice(&destination.octets());
    data.extend_from_slice(&(message.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 58]);
    data.extend_from_slice(message);
    crate::ping::checksum(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr::new([2, 0, 0, 0, 0, 9]);

    #[test]
    fn gratuitous_arp_carries_the_address_as_sender_and_target() {
        let frame = gratuitous_arp(MAC, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(frame.len(), 42);
        assert_eq!(&frame[12..14], &[0x08, 0x06]);
        assert_eq!(&frame[20..22], &[0, 2], "reply");
        assert_eq!(&frame[22..28], &MAC.octets());
        assert_eq!(&frame[28..32], &[10, 0, 0, 9]);
        assert_eq!(&frame[38..42], &[10, 0, 0, 9]);
    }

    #[test]
    fn neighbour_advertisement_checksum_verifies() {
        let ip: Ipv6Addr = "2001:db8::9".parse().unwrap();
        let frame = unsolicited_na(MAC, ip);
        let icmp = &frame[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(&icmp[8..24], &ip.octets());
        assert_eq!(&icmp[26..32], &MAC.octets());
        assert_eq!(frame[21], 255, "hop limit");
        // Summing a message that includes its own checksum gives zero.
        assert_eq!(icmpv6_checksum(ip, ALL_NODES, icmp), 0);
    }
}
