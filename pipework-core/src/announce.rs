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

use std::{fs, io::Write};

use rtnetlink::packet_core::DefaultNla;
use rtnetlink::packet_route::{
    RouteNetlinkMessage,
    link::{AfSpecInet, AfSpecUnspec, LinkAttribute},
};

use crate::{
    error::{Error, Op, Result},
    handle::{BatchRequest, Create},
    link::LinkRef,
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

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Emitable;

    use super::*;

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
