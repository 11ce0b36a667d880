//! VLAN filtering on Linux bridges: the bridge's switch, and the VLANs each port belongs to.

use rtnetlink::{
    LinkBridge, LinkBridgeVlan, LinkMessageBuilder,
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::{
            AfSpecBridge, BridgeVlanInfoFlags, InfoBridge, InfoData, LinkAttribute, LinkExtentMask,
            LinkMessage,
        },
    },
};
use serde::{Deserialize, Serialize};

use super::{LinkRef, info_data, vlan::validate_vlan_id};
use crate::{
    error::{Error, Op, Result},
    handle::{Create, Handle},
};

/// One VLAN of a bridge port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BridgeVlan {
    /// The VLAN ID.
    pub vid: u16,
    /// Untagged frames entering the port are put in this VLAN (the port's PVID).
    pub pvid: bool,
    /// Frames of this VLAN leave the port without a tag.
    pub untagged: bool,
}

impl BridgeVlan {
    /// The access-port VLAN: PVID and untagged, so the guest never sees a tag.
    pub fn access(vid: u16) -> Self {
        BridgeVlan { vid, pvid: true, untagged: true }
    }

    /// A tagged (trunk) member VLAN.
    pub fn tagged(vid: u16) -> Self {
        BridgeVlan { vid, pvid: false, untagged: false }
    }

    fn flags(&self) -> BridgeVlanInfoFlags {
        let mut flags = BridgeVlanInfoFlags::empty();
        if self.pvid {
            flags |= BridgeVlanInfoFlags::Pvid;
        }
        if self.untagged {
            flags |= BridgeVlanInfoFlags::Untagged;
        }
        flags
    }
}

impl Handle {
    /// Whether the bridge with index `bridge` filters by VLAN.
    ///
    /// Equivalent to: `ip -d link show dev BRIDGE` (`vlan_filtering`).
    pub fn bridge_vlan_filtering(&self, bridge: u32) -> Result<bool> {
        Ok(self
            .bridge_settings(bridge)?
            .iter()
            .any(|info| matches!(info, InfoBridge::VlanFiltering(true))))
    }

    /// The VLAN new ports of the bridge with index `bridge` join untagged (`None` for none).
    ///
    /// Equivalent to: `ip -d link show dev BRIDGE` (`vlan_default_pvid`).
    pub fn bridge_default_pvid(&self, bridge: u32) -> Result<Option<u16>> {
        Ok(self
            .bridge_settings(bridge)?
            .iter()
            .find_map(|info| match info {
                InfoBridge::VlanDefaultPvid(pvid) => Some(*pvid),
                _ => None,
            })
            .filter(|pvid| *pvid != 0))
    }

    /// The bridge-specific settings (IFLA_INFO_DATA) of the bridge with index `bridge`.
    fn bridge_settings(&self, bridge: u32) -> Result<Vec<InfoBridge>> {
        let message = self.link_message_get(&LinkRef::Index(bridge))?.ok_or_else(|| {
            Error::NotFound { op: Op::LinkGet, object: format!("bridge #{bridge}") }
        })?;
        match info_data(&message) {
            Some(InfoData::Bridge(infos)) => Ok(infos.clone()),
            _ => Err(Error::Conflict {
                op: Op::LinkGet,
                object: format!("link #{bridge} in {}", self.namespace()),
                reason: "is not a bridge".into(),
            }),
        }
    }

    /// Turns VLAN filtering of the bridge with index `bridge` on or off.
    ///
    /// Equivalent to: `ip link set dev BRIDGE type bridge vlan_filtering 1|0`.
    pub fn bridge_set_vlan_filtering(&self, bridge: u32, on: bool) -> Result<()> {
        let message = LinkMessageBuilder::<LinkBridge>::new_with_info_kind(
            rtnetlink::packet_route::link::InfoKind::Bridge,
        )
        .index(bridge)
        .vlan_filtering(on)
        .build();
        self.change(
            RouteNetlinkMessage::NewLink(message),
            Create::No,
            Op::LinkSet,
            &format_args!("bridge #{bridge} (vlan_filtering {})", u8::from(on)),
        )
    }

    /// Adds `vlan` to the bridge port with index `port` (changes its flags when already there).
    ///
    /// Equivalent to: `bridge vlan add dev PORT vid VID [pvid] [untagged]`.
    pub fn bridge_vlan_add(&self, port: u32, vlan: BridgeVlan) -> Result<()> {
        validate_vlan_id("vlan", vlan.vid)?;
        let message = LinkBridgeVlan::new(port).vlan(vlan.vid, vlan.flags()).build();
        self.change(
            RouteNetlinkMessage::SetLink(message),
            Create::No,
            Op::LinkSet,
            &format_args!("bridge port #{port} (vlan {})", vlan.vid),
        )
    }

    /// Removes VLAN `vid` from the bridge port with index `port`.
    ///
    /// Equivalent to: `bridge vlan del dev PORT vid VID`.
    pub fn bridge_vlan_del(&self, port: u32, vid: u16) -> Result<()> {
        let message = LinkBridgeVlan::new(port).vlan(vid, BridgeVlanInfoFlags::empty()).build();
        self.change(
            RouteNetlinkMessage::DelLink(message),
            Create::No,
            Op::LinkSet,
            &format_args!("bridge port #{port} (vlan {vid})"),
        )
    }

    /// The VLANs of the bridge port with index `port`.
    ///
    /// Equivalent to: `bridge vlan show dev PORT`.
    pub fn bridge_vlans(&self, port: u32) -> Result<Vec<BridgeVlan>> {
        // Per-port VLANs come only from the AF_BRIDGE dump; the kernel has no single-port query.
        let mut request = LinkMessage::default();
        request.header.interface_family = AddressFamily::Bridge;
        request.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let answers = self.dump(
            RouteNetlinkMessage::GetLink(request),
            Op::LinkGet,
            &format_args!("vlans of bridge port #{port}"),
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(message) if message.header.index == port => {
                    Some(message)
                }
                _ => None,
            })
            .flat_map(|message| &message.attributes)
            .filter_map(|attribute| match attribute {
                LinkAttribute::AfSpecBridge(specs) => Some(specs),
                _ => None,
            })
            .flatten()
            .filter_map(|spec| match spec {
                AfSpecBridge::VlanInfo(info) => Some(BridgeVlan {
                    vid: info.vid,
                    pvid: info.flags.contains(BridgeVlanInfoFlags::Pvid),
                    untagged: info.flags.contains(BridgeVlanInfoFlags::Untagged),
                }),
                _ => None,
            })
            .collect())
    }
}
