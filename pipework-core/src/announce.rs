//! Announcing a guest's addresses: gratuitous ARP (IPv4) and unsolicited neighbour
//! advertisements (IPv6), so switches and neighbours learn a new or moved address at once.
//!
//! pipework asks the guest's kernel to send them, instead of writing frames to a packet
//! socket: closing an AF_PACKET socket waits for an RCU grace period (`synchronize_net`,
//! about 15 ms here), which would make every attach ten times slower.
//! - IPv4: `arp_notify` is set on the interface (over netlink, before it is brought up), so
//!   bringing it up sends a gratuitous ARP for each of its addresses.
//! - IPv6: `ndisc_notify` is set, so the kernel sends an unsolicited neighbour advertisement
//!   (override flag) for each address once duplicate address detection has passed.
//! - A DHCP lease is applied to an interface that is up already, which the kernel does not
//!   announce: [`send_arp_announcement`] writes one ARP announcement (RFC 5227) on a packet
//!   socket, a cost that a DHCP exchange's milliseconds hide.

use std::{fs, io::Write, net::Ipv4Addr, os::fd::AsRawFd};

use nix::sys::socket::{
    AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrLike, sendto,
    socket,
};

use rtnetlink::packet_core::DefaultNla;
use rtnetlink::packet_route::{
    RouteNetlinkMessage,
    link::{AfSpecInet, AfSpecUnspec, LinkAttribute},
};

use crate::{
    error::{Error, Op, Result},
    handle::{BatchRequest, Create},
    link::LinkRef,
    mac::MacAddr,
    netns::Namespace,
};

/// IFLA_INET_CONF, inside IFLA_AF_SPEC / AF_INET.
const IFLA_INET_CONF: u16 = 1;
/// IPV4_DEVCONF_ARP_NOTIFY from `linux/ip.h`.
const IPV4_DEVCONF_ARP_NOTIFY: u16 = 22;

/// The request that turns on `arp_notify` for link `index`, for the batch before link-up.
///
/// Equivalent to: `sysctl net.ipv4.conf.IFNAME.arp_notify=1`.
pub(crate) fn arp_notify_request(index: u32) -> BatchRequest {
    let mut setting = Vec::with_capacity(8);
    setting.extend_from_slice(&8u16.to_ne_bytes());
    setting.extend_from_slice(&IPV4_DEVCONF_ARP_NOTIFY.to_ne_bytes());
    setting.extend_from_slice(&1u32.to_ne_bytes());
    let conf = AfSpecInet::Other(DefaultNla::new(IFLA_INET_CONF, setting));
    let mut message = rtnetlink::LinkUnspec::new_with_index(index).build();
    message.attributes.push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(vec![conf])]));
    BatchRequest {
        message: RouteNetlinkMessage::SetLink(message),
        create: Create::No,
        op: Op::LinkSet,
        object: format!("arp_notify of {}", LinkRef::Index(index)),
    }
}

/// Turns on `ndisc_notify` for interface `ifname` in `namespace`.
///
/// Equivalent to: `ip netns exec NS sysctl net.ipv6.conf.IFNAME.ndisc_notify=1`.
pub(crate) fn enable_ndisc_notify(namespace: &Namespace, ifname: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify");
    let object = format!("{path} in {namespace}");
    // Network sysctls are those of the namespace of the thread that opens them.
    namespace.within(|| {
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"1"))
            .map_err(|err| Error::io(Op::LinkSet, object, &err))
    })
}

/// The ARP announcement of `address` by `mac`: a broadcast request whose sender and target
/// address are both `address` (RFC 5227, 2.3), which updates the neighbours' caches.
fn arp_announcement(mac: MacAddr, address: Ipv4Addr) -> [u8; 28] {
    let mut frame = [0u8; 28];
    frame[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    frame[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    frame[4] = 6;
    frame[5] = 4;
    frame[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    frame[8..14].copy_from_slice(&mac.octets());
    frame[14..18].copy_from_slice(&address.octets());
    // The target hardware address stays zero: it is unknown in a request.
    frame[24..28].copy_from_slice(&address.octets());
    frame
}

/// Sends one ARP announcement of `address` from link `index` (hardware address `mac`) of
/// `namespace`.
///
/// Equivalent to: `ip netns exec NS arping -c 1 -U -I IFNAME ADDRESS`.
pub(crate) fn send_arp_announcement(
    namespace: &Namespace,
    index: u32,
    mac: MacAddr,
    address: Ipv4Addr,
) -> Result<()> {
    let object =
        format!("an ARP announcement of {address} on {} in {namespace}", LinkRef::Index(index));
    let failed = |errno: nix::errno::Errno| Error::kernel(Op::LinkSet, object.clone(), errno);
    // A packet socket belongs to the namespace of the thread that opens it.
    let fd = namespace.within(|| {
        socket(
            AddressFamily::Packet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None::<SockProtocol>,
        )
        .map_err(failed)
    })?;
    // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = (libc::ETH_P_ARP as u16).to_be();
    to.sll_ifindex = index as i32;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: the pointer and length describe the sockaddr_ll above.
    let to = unsafe {
        LinkAddr::from_raw((&raw const to).cast(), Some(size_of::<libc::sockaddr_ll>() as u32))
    }
    .ok_or_else(|| failed(nix::errno::Errno::EINVAL))?;
    sendto(fd.as_raw_fd(), &arp_announcement(mac, address), &to, MsgFlags::empty())
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Emitable;

    use super::*;

    #[test]
    fn an_arp_announcement_names_the_address_as_sender_and_target() {
        let mac = MacAddr::new([0x02, 0, 0, 0, 0, 0x42]);
        let frame = arp_announcement(mac, Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(&frame[..8], &[0, 1, 8, 0, 6, 4, 0, 1], "Ethernet/IPv4 request");
        assert_eq!(&frame[8..14], &mac.octets());
        assert_eq!(&frame[14..18], &[10, 0, 0, 7]);
        assert_eq!(&frame[18..24], &[0; 6]);
        assert_eq!(&frame[24..28], &[10, 0, 0, 7]);
    }

    #[test]
    fn arp_notify_is_one_nested_devconf_setting() {
        let request = arp_notify_request(7);
        let RouteNetlinkMessage::SetLink(message) = request.message else {
            panic!("not a SETLINK")
        };
        assert_eq!(message.header.index, 7);
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        // ... IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { [22] = 1u32 } } }
        let setting: Vec<u8> =
            [8u16.to_ne_bytes().as_slice(), &22u16.to_ne_bytes(), &1u32.to_ne_bytes()].concat();
        assert!(bytes.windows(setting.len()).any(|w| w == setting), "{bytes:?}");
    }
}
