//! 802.1Q and 802.1ad VLAN sub-interfaces, created or found again and checked to be the right one.

use rtnetlink::{
    LinkVlan,
    packet_route::link::{InfoData, InfoVlan, LinkMessage, VlanProtocol as KernelVlanProtocol},
};
use serde::{Deserialize, Serialize};

use super::{Birth, Link, LinkRef, Resolve, birth_setters, index_in, info_data, validate_ifname};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    ifname,
};

/// The highest usable VLAN ID (4095 is reserved by 802.1Q).
pub const MAX_VLAN_ID: u16 = 4094;

/// The tag a VLAN sub-interface puts on its frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VlanProtocol {
    /// IEEE 802.1Q, ethertype 0x8100 (the kernel's default).
    #[default]
    Dot1q,
    /// IEEE 802.1ad ("QinQ" service tag), ethertype 0x88a8.
    Dot1ad,
}

impl From<VlanProtocol> for KernelVlanProtocol {
    fn from(protocol: VlanProtocol) -> Self {
        match protocol {
            VlanProtocol::Dot1q => KernelVlanProtocol::Ieee8021Q,
            VlanProtocol::Dot1ad => KernelVlanProtocol::Ieee8021Ad,
        }
    }
}

impl std::fmt::Display for VlanProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VlanProtocol::Dot1q => "802.1Q",
            VlanProtocol::Dot1ad => "802.1ad",
        })
    }
}

/// Checks a VLAN ID (1 to 4094), naming `argument` on error.
pub fn validate_vlan_id(argument: &str, id: u16) -> Result<()> {
    if (1..=MAX_VLAN_ID).contains(&id) {
        Ok(())
    } else {
        Err(Error::invalid(
            argument,
            id.to_string(),
            format!("a VLAN ID must be from 1 to {MAX_VLAN_ID} (0 and 4095 are reserved)"),
        ))
    }
}

/// The name of VLAN `id` on `parent`: the usual `<parent>.<id>` when it fits in 15 characters,
/// otherwise `vl` and a digest of both (deterministic).
pub fn vlan_ifname(parent: &str, id: u16) -> String {
    ifname::fitted(format!("{parent}.{id}"), "vl", &[parent, &id.to_string()])
}

/// A VLAN sub-interface to create on a parent link.
#[derive(Debug, Clone)]
pub struct Vlan<'a> {
    name: String,
    parent: LinkRef,
    id: u16,
    protocol: VlanProtocol,
    birth: Birth<'a>,
}

/// A VLAN sub-interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanLink {
    /// The link itself; `parent` is the index of the link it tags frames for.
    pub link: Link,
    /// The VLAN ID.
    pub id: u16,
    /// The tag protocol.
    pub protocol: VlanProtocol,
}

/// The VLAN after [`Vlan::ensure`]: what the kernel reports and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredVlan {
    /// The sub-interface.
    pub link: Link,
    /// True when this call created it; false when an identical one was already there.
    pub created: bool,
}

impl<'a> Vlan<'a> {
    /// VLAN `id` named `name` on link `parent`; name and ID are checked.
    pub fn new(name: &str, parent: impl Into<LinkRef>, id: u16) -> Result<Self> {
        validate_ifname("vlan ifname", name)?;
        validate_vlan_id("vlan", id)?;
        Ok(Vlan {
            name: name.to_string(),
            parent: parent.into(),
            id,
            protocol: VlanProtocol::default(),
            birth: Birth::default(),
        })
    }

    /// The tag protocol (802.1Q unless set).
    pub fn protocol(mut self, protocol: VlanProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    birth_setters!(mac);

    /// The RTM_NEWLINK request that creates this sub-interface.
    fn message(&self, index: Resolve<'_>) -> Result<LinkMessage> {
        let message =
            LinkVlan::new(&self.name, index(&self.parent)?, self.id).protocol(self.protocol.into());
        Ok(self.birth.apply(message, index)?.build())
    }

    /// Creates the sub-interface in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add link PARENT name NAME [address MAC] [mtu M] [up] type vlan protocol P id ID`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let message = self.message(&|link| index_in(handle, link))?;
        let what = format_args!("vlan {} (id {})", self.name, self.id);
        self.birth.create(handle, message, &self.name, &what)
    }

    /// Creates the sub-interface, or finds it and checks that it is this very VLAN (same parent,
    /// ID and protocol); anything else under that name is an error that says what it is.
    ///
    /// It looks in the handle's namespace, so a birth namespace elsewhere is refused.
    pub fn ensure(&self, handle: &Handle) -> Result<EnsuredVlan> {
        self.birth.check_ensure(handle, &self.name)?;
        let parent = index_in(handle, &self.parent)?;
        if let Some(existing) = handle.vlan_get(self.name.as_str())? {
            return self.check(handle, parent, existing);
        }
        match self.add(handle) {
            Ok(link) => Ok(EnsuredVlan { link, created: true }),
            // Created by someone else between our look-up and our request.
            Err(err) if err.errno() == nix::errno::Errno::EEXIST => {
                let existing = handle.vlan_get(self.name.as_str())?.ok_or(err)?;
                self.check(handle, parent, existing)
            }
            Err(err) => Err(err),
        }
    }

    fn check(
        &self,
        handle: &Handle,
        parent: u32,
        existing: Result<VlanLink, Link>,
    ) -> Result<EnsuredVlan> {
        let parent_name = |index: Option<u32>| match index {
            Some(index) => match handle.link_get(index) {
                Ok(Some(link)) => link.name,
                _ => format!("#{index}"),
            },
            None => "no parent".to_string(),
        };
        let reason = match existing {
            Ok(vlan)
                if vlan.link.parent == Some(parent)
                    && vlan.id == self.id
                    && vlan.protocol == self.protocol =>
            {
                return Ok(EnsuredVlan { link: vlan.link, created: false });
            }
            Ok(vlan) => format!(
                "an interface of that name exists and is {} VLAN {} on {}",
                vlan.protocol,
                vlan.id,
                parent_name(vlan.link.parent)
            ),
            Err(link) => format!(
                "an interface of that name exists and is a {}, not a VLAN",
                link.kind.as_deref().unwrap_or("physical device")
            ),
        };
        Err(Error::Conflict {
            op: Op::Attach,
            object: format!(
                "{} VLAN {} {} on {} in {}",
                self.protocol,
                self.id,
                self.name,
                parent_name(Some(parent)),
                handle.namespace()
            ),
            reason,
        })
    }
}

impl Handle {
    /// Looks up a link and reads its VLAN settings: `None` when it does not exist,
    /// `Some(Err(link))` when it exists but is not a VLAN.
    ///
    /// Equivalent to: `ip -d link show dev NAME`.
    pub fn vlan_get(&self, link: impl Into<LinkRef>) -> Result<Option<Result<VlanLink, Link>>> {
        let Some(message) = self.link_message_get(&link.into())? else {
            return Ok(None);
        };
        let link = Link::from_message(&message);
        let Some(InfoData::Vlan(infos)) = info_data(&message) else {
            return Ok(Some(Err(link)));
        };
        let mut id = None;
        let mut protocol = VlanProtocol::Dot1q;
        for info in infos {
            match info {
                InfoVlan::Id(value) => id = Some(*value),
                InfoVlan::Protocol(KernelVlanProtocol::Ieee8021Ad) => {
                    protocol = VlanProtocol::Dot1ad
                }
                _ => {}
            }
        }
        Ok(Some(match id {
            Some(id) => Ok(VlanLink { link, id, protocol }),
            None => Err(link),
        }))
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Emitable;

    use super::*;

    #[test]
    fn vlan_ids_outside_1_to_4094_are_refused() {
        assert!(validate_vlan_id("vlan", 1).is_ok() && validate_vlan_id("vlan", 4094).is_ok());
        for bad in [0, 4095, 5000] {
            let err = validate_vlan_id("vlan", bad).unwrap_err().to_string();
            assert!(err.contains("invalid vlan") && err.contains("1 to 4094"), "{err}");
        }
        assert!(Vlan::new("eth0.0", 2, 0).is_err());
        assert!(Vlan::new("a-name-too-long-x", 2, 10).is_err());
    }

    #[test]
    fn names_are_parent_dot_id_or_a_digest_when_too_long() {
        assert_eq!(vlan_ifname("eth0", 100), "eth0.100");
        assert_eq!(vlan_ifname("enp0s31f6", 4094), "enp0s31f6.4094");
        let long = vlan_ifname("enx0123456789ab", 100);
        assert_eq!(long.len(), 15);
        assert!(long.starts_with("vl"));
        assert_eq!(long, vlan_ifname("enx0123456789ab", 100));
        assert_ne!(long, vlan_ifname("enx0123456789ab", 101));
    }

    #[test]
    fn the_request_carries_parent_id_and_protocol() {
        let message = Vlan::new("eth0.100", 7, 100)
            .unwrap()
            .protocol(VlanProtocol::Dot1ad)
            .mtu(1496)
            .up()
            .message(&super::super::by_index)
            .unwrap();
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        // IFLA_LINK (5) = 7
        assert!(bytes.windows(8).any(|w| w == [8, 0, 5, 0, 7, 0, 0, 0]));
        // IFLA_INFO_KIND "vlan"
        assert!(bytes.windows(9).any(|w| w == [9, 0, 1, 0, b'v', b'l', b'a', b'n', 0]));
        // IFLA_VLAN_ID (1) = 100, little endian, padded to 4 bytes
        assert!(bytes.windows(8).any(|w| w == [6, 0, 1, 0, 100, 0, 0, 0]));
        // IFLA_VLAN_PROTOCOL (5) = 0x88a8, network byte order
        assert!(bytes.windows(6).any(|w| w == [6, 0, 5, 0, 0x88, 0xa8]));
        // IFLA_MTU (4) = 1496
        assert!(bytes.windows(8).any(|w| w == [8, 0, 4, 0, 0xd8, 0x05, 0, 0]));
    }
}
