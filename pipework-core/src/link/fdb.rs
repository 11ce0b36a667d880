//! Forwarding database entries of a tunnel device: where a VXLAN device sends frames, by MAC.

use std::net::IpAddr;

use rtnetlink::packet_route::{
    AddressFamily, RouteNetlinkMessage,
    neighbour::{
        NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
    },
};

use crate::{
    error::{Op, Result},
    handle::{Create, Handle},
    mac::MacAddr,
};

/// The all-zeros MAC: an entry for it sends broadcast, multicast and unknown frames to its
/// destination (head-end replication, one copy per remote).
pub const FLOOD: MacAddr = MacAddr::new([0; 6]);

/// One entry of a device's own forwarding database: frames for `mac` go to `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdbEntry {
    /// The destination MAC ([`FLOOD`] for every frame without an entry of its own).
    pub mac: MacAddr,
    /// The remote tunnel endpoint.
    pub dst: IpAddr,
}

impl Handle {
    /// Adds an entry beside those of the same MAC on link `index` (a tunnel device).
    ///
    /// Equivalent to: `bridge fdb append MAC dev DEV dst DST self permanent`.
    pub fn fdb_append(&self, index: u32, entry: FdbEntry) -> Result<()> {
        let message = RouteNetlinkMessage::NewNeighbour(fdb_message(index, entry));
        self.change(message, Create::Append, Op::FdbAdd, &describe(index, entry))
    }

    /// Deletes one entry of link `index`.
    ///
    /// Equivalent to: `bridge fdb del MAC dev DEV dst DST self`.
    pub fn fdb_del(&self, index: u32, entry: FdbEntry) -> Result<()> {
        let message = RouteNetlinkMessage::DelNeighbour(fdb_message(index, entry));
        self.change(message, Create::No, Op::FdbDel, &describe(index, entry))
    }

    /// The entries with a destination of link `index`'s own database.
    ///
    /// Equivalent to: `bridge fdb show dev DEV self`.
    pub fn fdb_entries(&self, index: u32) -> Result<Vec<FdbEntry>> {
        let mut request = NeighbourMessage::default();
        request.header.family = AddressFamily::Bridge;
        request.attributes.push(NeighbourAttribute::IfIndex(index));
        let answers = self.dump(
            RouteNetlinkMessage::GetNeighbour(request),
            Op::FdbGet,
            &format_args!("link #{index}"),
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewNeighbour(message) if message.header.ifindex == index => {
                    read_entry(message)
                }
                _ => None,
            })
            .collect())
    }
}

fn describe(index: u32, entry: FdbEntry) -> String {
    format!("{} dst {} on link #{index}", entry.mac, entry.dst)
}

fn fdb_message(index: u32, entry: FdbEntry) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message.attributes.push(NeighbourAttribute::LinkLayerAddress(entry.mac.octets().to_vec()));
    message.attributes.push(NeighbourAttribute::Destination(match entry.dst {
        IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
        IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
    }));
    message
}

fn read_entry(message: &NeighbourMessage) -> Option<FdbEntry> {
    let mac = message.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(bytes) => MacAddr::from_bytes(bytes),
        _ => None,
    })?;
    // With the bridge family, the parser leaves the destination as bytes.
    let dst = message.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => match bytes.len() {
            4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    })?;
    Some(FdbEntry { mac, dst })
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Emitable;

    use super::*;

    #[test]
    fn a_flood_entry_is_a_permanent_self_entry_with_its_destination() {
        let dst: IpAddr = "192.0.2.7".parse().unwrap();
        let message = fdb_message(9, FdbEntry { mac: FLOOD, dst });
        assert_eq!((message.header.ifindex, message.header.family), (9, AddressFamily::Bridge));
        assert_eq!(message.header.flags, NeighbourFlags::Own);
        assert_eq!(read_entry(&message), Some(FdbEntry { mac: FLOOD, dst }));
        assert!(message.buffer_len() > 12);
    }
}
