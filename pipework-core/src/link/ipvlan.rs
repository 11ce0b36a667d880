//! ipvlan links: guests share the parent's MAC and are told apart by IP address.

use std::{fmt, str::FromStr};

use rtnetlink::{
    LinkIpVlan,
    packet_route::link::{IpVlanFlags, IpVlanMode, LinkMessage},
};
use serde::{Deserialize, Serialize};

use super::{Birth, Link, LinkRef, Resolve, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Result},
    handle::Handle,
};

/// Where an ipvlan link switches its traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpvlanMode {
    /// Layer 2: the guests see each other's ARP and broadcasts (the kernel's default).
    #[default]
    L2,
    /// Layer 3: routed by the parent, no broadcast or multicast.
    L3,
    /// Layer 3 with the host's netfilter (conntrack) applied.
    L3s,
}

/// How ipvlan guests on the same parent may talk to each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpvlanFlag {
    /// Directly, inside the parent (the kernel's default).
    #[default]
    Bridge,
    /// Not at all.
    Private,
    /// Only through the external switch the parent is plugged into.
    Vepa,
}

impl FromStr for IpvlanMode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "l2" => Ok(IpvlanMode::L2),
            "l3" => Ok(IpvlanMode::L3),
            "l3s" => Ok(IpvlanMode::L3s),
            _ => Err(Error::invalid("ipvlan mode", text, "must be l2, l3 or l3s")),
        }
    }
}

impl FromStr for IpvlanFlag {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "bridge" => Ok(IpvlanFlag::Bridge),
            "private" => Ok(IpvlanFlag::Private),
            "vepa" => Ok(IpvlanFlag::Vepa),
            _ => Err(Error::invalid("ipvlan flag", text, "must be bridge, private or vepa")),
        }
    }
}

impl fmt::Display for IpvlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpvlanMode::L2 => "l2",
            IpvlanMode::L3 => "l3",
            IpvlanMode::L3s => "l3s",
        })
    }
}

impl fmt::Display for IpvlanFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpvlanFlag::Bridge => "bridge",
            IpvlanFlag::Private => "private",
            IpvlanFlag::Vepa => "vepa",
        })
    }
}

impl From<IpvlanMode> for IpVlanMode {
    fn from(mode: IpvlanMode) -> Self {
        match mode {
            IpvlanMode::L2 => IpVlanMode::L2,
            IpvlanMode::L3 => IpVlanMode::L3,
            IpvlanMode::L3s => IpVlanMode::L3S,
        }
    }
}

impl From<IpvlanFlag> for IpVlanFlags {
    fn from(flag: IpvlanFlag) -> Self {
        match flag {
            IpvlanFlag::Bridge => IpVlanFlags::empty(),
            IpvlanFlag::Private => IpVlanFlags::Private,
            IpvlanFlag::Vepa => IpVlanFlags::Vepa,
        }
    }
}

/// An ipvlan link to create on a parent. It has no MAC of its own: it always has its
/// parent's.
#[derive(Debug, Clone)]
pub struct Ipvlan<'a> {
    name: String,
    parent: LinkRef,
    mode: IpvlanMode,
    flag: Option<IpvlanFlag>,
    birth: Birth<'a>,
}

impl<'a> Ipvlan<'a> {
    /// An ipvlan named `name` on link `parent` (in the handle's namespace), in `mode`; the
    /// name is checked.
    pub fn new(name: &str, parent: impl Into<LinkRef>, mode: IpvlanMode) -> Result<Self> {
        validate_ifname("ipvlan ifname", name)?;
        Ok(Ipvlan {
            name: name.to_string(),
            parent: parent.into(),
            mode,
            flag: None,
            birth: Birth::default(),
        })
    }

    /// How guests on the same parent may talk to each other (the kernel's bridge when not set).
    pub fn flag(mut self, flag: IpvlanFlag) -> Self {
        self.flag = Some(flag);
        self
    }

    birth_setters!();

    /// The RTM_NEWLINK request that creates this link.
    fn message(&self, index: Resolve<'_>) -> Result<LinkMessage> {
        let mut message = LinkIpVlan::new(&self.name, index(&self.parent)?, self.mode.into());
        if let Some(flag) = self.flag {
            message = message.flag(flag.into());
        }
        Ok(self.birth.apply(message, index)?.build())
    }

    /// Creates the link in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add link PARENT name NAME [netns NS] [mtu M] type ipvlan mode MODE [FLAG]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let message = self.message(&|link| index_in(handle, link))?;
        let what = format_args!("ipvlan {} ({})", self.name, self.mode);
        self.birth.create(handle, message, &self.name, &what)
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::Emitable;

    use super::*;

    fn bytes_of(ipvlan: &Ipvlan) -> Vec<u8> {
        let message = ipvlan.message(&super::super::by_index).unwrap();
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        bytes
    }

    #[test]
    fn mode_and_flag_are_sent_only_as_asked() {
        let plain = bytes_of(&Ipvlan::new("ipv0", 3, IpvlanMode::L3s).unwrap());
        // IFLA_IPVLAN_MODE (1) = 2 (l3s), and no IFLA_IPVLAN_FLAGS (2).
        assert!(plain.windows(6).any(|w| w == [6, 0, 1, 0, 2, 0]));
        assert!(!plain.windows(4).any(|w| w == [6, 0, 2, 0]));
        let vepa =
            bytes_of(&Ipvlan::new("ipv0", 3, IpvlanMode::L2).unwrap().flag(IpvlanFlag::Vepa));
        assert!(vepa.windows(6).any(|w| w == [6, 0, 1, 0, 0, 0]));
        assert!(vepa.windows(6).any(|w| w == [6, 0, 2, 0, 2, 0]));
    }

    #[test]
    fn modes_and_flags_parse_and_refuse_clearly() {
        assert_eq!("l3s".parse::<IpvlanMode>().unwrap(), IpvlanMode::L3s);
        assert_eq!("private".parse::<IpvlanFlag>().unwrap(), IpvlanFlag::Private);
        let err = "l4".parse::<IpvlanMode>().unwrap_err().to_string();
        assert!(err.contains("ipvlan mode") && err.contains("l2, l3 or l3s"), "{err}");
        assert!("passthru".parse::<IpvlanFlag>().is_err());
    }
}
