//! Links as the kernel reports them, and the link operations every kind shares.

mod bridge;
mod bridge_vlan;
mod dummy;
mod fdb;
mod generic;
mod geneve;
mod ipoib;
mod ipvlan;
mod macvlan;
mod reclaim;
mod uppers;
mod veth;
mod vlan;
mod vxlan;

use std::{
    fmt,
    os::fd::{AsFd, AsRawFd},
};

use rtnetlink::{
    LinkMessageBuilder, LinkUnspec,
    packet_route::{
        RouteNetlinkMessage,
        link::{InfoData, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage, State},
    },
};
use serde::{Deserialize, Serialize};

pub use self::{
    bridge::{Bridge, EnsuredBridge, PIPEWORK_ALIAS},
    bridge_vlan::BridgeVlan,
    dummy::Dummy,
    fdb::{FLOOD, FdbEntry},
    generic::GenericLink,
    geneve::Geneve,
    ipoib::{IpoibChild, IpoibMode, ipoib_child_name, parse_pkey, validate_pkey},
    ipvlan::{Ipvlan, IpvlanFlag, IpvlanMode},
    macvlan::{Macvlan, MacvlanMode},
    veth::Veth,
    vlan::{EnsuredVlan, MAX_VLAN_ID, Vlan, VlanLink, VlanProtocol, validate_vlan_id, vlan_ifname},
    vxlan::{MAX_VNI, Vxlan, validate_vni},
};
use crate::{
    error::{Error, Op, Result},
    handle::{BatchRequest, Create, Handle},
    mac::MacAddr,
    netns::Namespace,
};

/// What every kind can be given at birth, in its creation request: the namespace it is born
/// in, its MTU, its MAC, whether it comes up, its master. `None` lets the kernel decide.
#[derive(Debug, Clone, Default)]
struct Birth<'a> {
    namespace: Option<&'a Namespace>,
    /// A handle in `namespace`, to read the new link back through (see `namespace_of`).
    reader: Option<&'a Handle>,
    mtu: Option<u32>,
    mac: Option<MacAddr>,
    up: bool,
    master: Option<LinkRef>,
}

/// Turns a [`LinkRef`] (a parent, a master) into the index a request carries.
type Resolve<'r> = &'r dyn Fn(&LinkRef) -> Result<u32>;

impl Birth<'_> {
    /// Adds IFLA_NET_NS_FD, IFLA_MTU, IFLA_ADDRESS, IFF_UP and IFLA_MASTER as set.
    fn apply<T>(
        &self,
        mut message: LinkMessageBuilder<T>,
        index: Resolve<'_>,
    ) -> Result<LinkMessageBuilder<T>> {
        if let Some(namespace) = self.namespace {
            message = message.setns_by_fd(namespace.as_fd().as_raw_fd());
        }
        if let Some(mtu) = self.mtu {
            message = message.mtu(mtu);
        }
        if let Some(mac) = self.mac {
            message = message.address(mac.octets().to_vec());
        }
        if self.up {
            message = message.up();
        }
        if let Some(master) = &self.master {
            message = message.controller(index(master)?);
        }
        Ok(message)
    }

    /// Sends the creation request `message` for link `name` and returns the link as the kernel
    /// made it: from the kernel's echo when it is born in the handle's namespace (no second
    /// request), read back in its own namespace otherwise (the kernel echoes a link born
    /// elsewhere to that namespace only).
    fn create(
        &self,
        handle: &Handle,
        message: LinkMessage,
        name: &str,
        what: &dyn fmt::Display,
    ) -> Result<Link> {
        // The kernel echoes the new link before it joins its master; the request did both.
        let master = message.attributes.iter().find_map(|attribute| match attribute {
            LinkAttribute::Controller(index) => Some(*index),
            _ => None,
        });
        let answers = handle.change_echo(
            RouteNetlinkMessage::NewLink(message),
            Create::Exclusive,
            Op::LinkAdd,
            what,
        )?;
        let elsewhere = self.namespace.filter(|namespace| namespace.id() != handle.namespace_id());
        let read = match elsewhere {
            Some(namespace) => match self.reader {
                Some(reader) => reader.link(name),
                None => Handle::new(namespace).and_then(|reader| reader.link(name)),
            },
            None => {
                let echoed = answers.iter().find_map(|answer| match answer {
                    RouteNetlinkMessage::NewLink(link) => {
                        Some(Link::from_message(link)).filter(|link| link.name == name)
                    }
                    _ => None,
                });
                match echoed {
                    Some(link) => Ok(Link { master: link.master.or(master), ..link }),
                    None => handle.link(name),
                }
            }
        };
        // A link that was made but cannot be read back is nobody's to undo: it goes now.
        read.map_err(|err| {
            let undone = match (elsewhere, self.reader) {
                (Some(_), Some(reader)) => reader.link_del(name),
                (Some(namespace), None) => Handle::new(namespace).and_then(|h| h.link_del(name)),
                (None, _) => handle.link_del(name),
            };
            err.rolled_back(undone)
        })
    }
}

impl Birth<'_> {
    /// `ensure` looks for the link in the handle's namespace: a birth namespace elsewhere is
    /// refused before anything is asked.
    fn check_ensure(&self, handle: &Handle, name: &str) -> Result<()> {
        match self.namespace.filter(|namespace| namespace.id() != handle.namespace_id()) {
            Some(namespace) => Err(Error::invalid(
                "namespace",
                namespace.to_string(),
                format!(
                    "ensure looks for {name} in the handle's namespace; use a handle in that namespace instead"
                ),
            )),
            None => Ok(()),
        }
    }
}

/// A [`Resolve`] for message-level tests: indexes only.
#[cfg(test)]
fn by_index(link: &LinkRef) -> Result<u32> {
    match link {
        LinkRef::Index(index) => Ok(*index),
        LinkRef::Name(name) => panic!("a test message names {name}"),
    }
}

/// The index of `link` in `handle`'s namespace: the index itself, or the named link's.
fn index_in(handle: &Handle, link: &LinkRef) -> Result<u32> {
    match link {
        LinkRef::Index(index) => Ok(*index),
        LinkRef::Name(name) => Ok(handle.link(name.as_str())?.index),
    }
}

/// The birth setters every kind shares (`namespace`, `namespace_of`, `mtu`, `up`, `master`),
/// for a kind that keeps a [`Birth`] in `self.birth`; with `mac`, the `mac` setter too.
macro_rules! birth_setters {
    (mac) => {
        /// The hardware address; a random one when not set.
        pub fn mac(mut self, mac: crate::mac::MacAddr) -> Self {
            self.birth.mac = Some(mac);
            self
        }

        crate::link::birth_setters!();
    };
    () => {
        /// Creates the link directly inside `namespace` (no move afterwards); `add` then reads
        /// it back there through a handle of its own.
        pub fn namespace(mut self, namespace: &'a crate::netns::Namespace) -> Self {
            self.birth.namespace = Some(namespace);
            self
        }

        /// Creates the link directly inside the namespace of `handle`, and reads it back
        /// through that handle.
        pub fn namespace_of(mut self, handle: &'a crate::handle::Handle) -> Self {
            self.birth.namespace = Some(handle.namespace());
            self.birth.reader = Some(handle);
            self
        }

        /// The MTU; the kernel's choice (usually the parent's) when not set.
        pub fn mtu(mut self, mtu: u32) -> Self {
            self.birth.mtu = Some(mtu);
            self
        }

        /// Brings the link up in the same request.
        pub fn up(mut self) -> Self {
            self.birth.up = true;
            self
        }

        /// Makes the link a port of bridge (or bond) `master`, in the same request.
        pub fn master(mut self, master: impl Into<crate::link::LinkRef>) -> Self {
            self.birth.master = Some(master.into());
            self
        }
    };
}
use birth_setters;

/// The kind-specific data (IFLA_INFO_DATA) of a link message, when it has some.
fn info_data(message: &LinkMessage) -> Option<&InfoData> {
    message.attributes.iter().find_map(|attribute| match attribute {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|info| match info {
            LinkInfo::Data(data) => Some(data),
            _ => None,
        }),
        _ => None,
    })
}

/// A reference to a link by index or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRef {
    /// The interface index (`ip link show` first column).
    Index(u32),
    /// The interface name.
    Name(String),
}

impl From<u32> for LinkRef {
    fn from(index: u32) -> Self {
        LinkRef::Index(index)
    }
}

impl From<&str> for LinkRef {
    fn from(name: &str) -> Self {
        LinkRef::Name(name.to_string())
    }
}

impl From<String> for LinkRef {
    fn from(name: String) -> Self {
        LinkRef::Name(name)
    }
}

impl From<&Link> for LinkRef {
    fn from(link: &Link) -> Self {
        LinkRef::Index(link.index)
    }
}

impl fmt::Display for LinkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkRef::Index(index) => write!(f, "link #{index}"),
            LinkRef::Name(name) => write!(f, "link {name}"),
        }
    }
}

/// The RFC 2863 operational state of a link (`ip link` "state").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperState {
    /// Can pass packets.
    Up,
    /// Cannot pass packets.
    Down,
    /// Down because a lower device is down (a veth whose peer is down).
    LowerLayerDown,
    /// Waiting for an external event.
    Dormant,
    /// In a test mode.
    Testing,
    /// A component is missing.
    NotPresent,
    /// The driver does not report a state (loopback, some virtual devices).
    Unknown,
}

impl From<State> for OperState {
    fn from(state: State) -> Self {
        match state {
            State::Up => OperState::Up,
            State::Down => OperState::Down,
            State::LowerLayerDown => OperState::LowerLayerDown,
            State::Dormant => OperState::Dormant,
            State::Testing => OperState::Testing,
            State::NotPresent => OperState::NotPresent,
            _ => OperState::Unknown,
        }
    }
}

/// A link as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Kind (`veth`, `bridge`, `macvlan`, ...); `None` for physical devices.
    pub kind: Option<String>,
    /// Hardware address, when the device has an Ethernet-style one.
    pub mac: Option<MacAddr>,
    /// MTU in bytes.
    pub mtu: u32,
    /// Operational state.
    pub oper_state: OperState,
    /// Index of the bridge or bond this link is a port of.
    pub master: Option<u32>,
    /// Index of the lower device or peer (IFLA_LINK), possibly in another namespace.
    pub parent: Option<u32>,
    /// The `IFF_*` flags.
    pub flags: u32,
    /// The ARPHRD_* link layer type (1 Ethernet, 32 InfiniBand, 772 loopback).
    pub link_type: u16,
    /// The interface alias (`ip link set dev X alias TEXT`).
    pub alias: Option<String>,
}

impl Link {
    /// Whether the link is administratively up (IFF_UP).
    pub fn is_up(&self) -> bool {
        self.flags & LinkFlags::Up.bits() != 0
    }

    /// Whether the link has carrier (IFF_LOWER_UP).
    pub fn has_carrier(&self) -> bool {
        self.flags & LinkFlags::LowerUp.bits() != 0
    }

    /// Whether the link is a Linux bridge.
    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }

    /// Reads a link out of a kernel link message.
    pub(crate) fn from_message(message: &LinkMessage) -> Self {
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            kind: None,
            mac: None,
            mtu: 0,
            oper_state: OperState::Unknown,
            master: None,
            parent: None,
            flags: message.header.flags.bits(),
            link_type: message.header.link_layer_type.into(),
            alias: None,
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name.clone(),
                LinkAttribute::Address(bytes) => link.mac = MacAddr::from_bytes(bytes),
                LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
                LinkAttribute::IfAlias(alias) => link.alias = Some(alias.clone()),
                LinkAttribute::OperState(state) => link.oper_state = (*state).into(),
                LinkAttribute::Controller(index) => link.master = Some(*index),
                LinkAttribute::Link(index) => link.parent = Some(*index),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(kind) = info {
                            link.kind = Some(kind.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

/// Checks an interface name the way the kernel does (`dev_valid_name`), naming `argument` on error.
pub fn validate_ifname(argument: &str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "is empty".to_string()
    } else if name.len() > crate::ifname::MAX_LEN {
        format!(
            "is {} bytes long; Linux allows at most {} (IFNAMSIZ - 1)",
            name.len(),
            crate::ifname::MAX_LEN
        )
    } else if name == "." || name == ".." {
        "is not a valid interface name".to_string()
    } else if let Some(bad) = name.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace()) {
        format!("contains {bad:?}, which interface names cannot contain")
    } else {
        return Ok(());
    };
    Err(Error::invalid(argument, name, reason))
}

impl Handle {
    /// Looks up one link, answering `None` when it does not exist.
    ///
    /// Equivalent to: `ip link show dev NAME`.
    pub fn link_get(&self, link: impl Into<LinkRef>) -> Result<Option<Link>> {
        Ok(self.link_message_get(&link.into())?.as_ref().map(Link::from_message))
    }

    /// The kernel's whole answer about one link, for the kinds that read their own attributes.
    pub(crate) fn link_message_get(&self, link: &LinkRef) -> Result<Option<LinkMessage>> {
        let mut message = LinkMessage::default();
        match link {
            LinkRef::Index(index) => message.header.index = *index,
            LinkRef::Name(name) => message.attributes.push(LinkAttribute::IfName(name.clone())),
        }
        let answer = self.get(RouteNetlinkMessage::GetLink(message), Op::LinkGet, link)?;
        Ok(match answer {
            Some(RouteNetlinkMessage::NewLink(message)) => Some(message),
            _ => None,
        })
    }

    /// Looks up one link that must exist.
    ///
    /// Equivalent to: `ip link show dev NAME`.
    pub fn link(&self, link: impl Into<LinkRef>) -> Result<Link> {
        let link = link.into();
        self.link_get(link.clone())?.ok_or_else(|| Error::NotFound {
            op: Op::LinkGet,
            object: format!("{link} in {}", self.namespace()),
        })
    }

    /// Lists every link of the namespace.
    ///
    /// Equivalent to: `ip link show`.
    pub fn links(&self) -> Result<Vec<Link>> {
        let answers = self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            Op::LinkGet,
            &"all links",
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(message) => Some(Link::from_message(message)),
                _ => None,
            })
            .collect())
    }

    /// Lists the ports of bridge (or bond) `master`, filtered by the kernel.
    ///
    /// Equivalent to: `ip link show master NAME`.
    pub fn ports(&self, master: u32) -> Result<Vec<Link>> {
        let mut request = LinkMessage::default();
        request.attributes.push(LinkAttribute::Controller(master));
        // Without the counters: a bridge may have hundreds of ports.
        request.attributes.push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let answers = self.dump(
            RouteNetlinkMessage::GetLink(request),
            Op::LinkGet,
            &format_args!("the ports of link #{master}"),
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(message) => Some(Link::from_message(message)),
                _ => None,
            })
            .filter(|link| link.master == Some(master))
            .collect())
    }

    /// Brings a link up.
    ///
    /// Equivalent to: `ip link set dev NAME up`.
    pub fn link_set_up(&self, link: impl Into<LinkRef>) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.up())
    }

    /// Brings a link down.
    ///
    /// Equivalent to: `ip link set dev NAME down`.
    pub fn link_set_down(&self, link: impl Into<LinkRef>) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.down())
    }

    /// Makes a link a port of a bridge.
    ///
    /// Equivalent to: `ip link set dev NAME master BRIDGE`.
    pub fn link_set_master(&self, link: impl Into<LinkRef>, master: u32) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.controller(master))
    }

    /// Removes a link from its bridge.
    ///
    /// Equivalent to: `ip link set dev NAME nomaster`.
    pub fn link_set_nomaster(&self, link: impl Into<LinkRef>) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.nocontroller())
    }

    /// Sets a link's MTU.
    ///
    /// Equivalent to: `ip link set dev NAME mtu MTU`.
    pub fn link_set_mtu(&self, link: impl Into<LinkRef>, mtu: u32) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.mtu(mtu))
    }

    /// Sets a link's hardware address.
    ///
    /// Equivalent to: `ip link set dev NAME address MAC`.
    pub fn link_set_mac(&self, link: impl Into<LinkRef>, mac: MacAddr) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.address(mac.octets().to_vec()))
    }

    /// Sets a link's alias, the free-text description `ip link` shows.
    ///
    /// Equivalent to: `ip link set dev NAME alias TEXT`.
    pub fn link_set_alias(&self, link: impl Into<LinkRef>, alias: &str) -> Result<()> {
        let link = link.into();
        self.link_set(&link, |message| message.alias(alias))
    }

    /// Renames a link (the kernel refuses while it is up).
    ///
    /// Equivalent to: `ip link set dev NAME name NEWNAME`.
    pub fn link_set_name(&self, link: impl Into<LinkRef>, name: &str) -> Result<()> {
        validate_ifname("interface name", name)?;
        // IFLA_IFNAME carries the new name, so the link must be addressed by index.
        let index = match link.into() {
            LinkRef::Index(index) => index,
            LinkRef::Name(old) => self.link(old)?.index,
        };
        self.link_set(&LinkRef::Index(index), |message| message.name(name))
    }

    /// Moves a link into `namespace`, renaming it on the way and setting its MTU and MAC.
    ///
    /// One request: the kernel moves, renames, then applies the rest in the new namespace.
    /// Equivalent to: `ip link set dev NAME netns NS name NEWNAME [mtu M] [address MAC]`.
    pub fn link_set_namespace(
        &self,
        link: impl Into<LinkRef>,
        namespace: &crate::netns::Namespace,
        new_name: &str,
        mtu: Option<u32>,
        mac: Option<MacAddr>,
    ) -> Result<()> {
        use std::os::fd::{AsFd, AsRawFd};
        validate_ifname("interface name", new_name)?;
        let index = match link.into() {
            LinkRef::Index(index) => index,
            LinkRef::Name(name) => self.link(name)?.index,
        };
        self.link_set(&LinkRef::Index(index), |mut message| {
            message = message.setns_by_fd(namespace.as_fd().as_raw_fd()).name(new_name);
            if let Some(mtu) = mtu {
                message = message.mtu(mtu);
            }
            if let Some(mac) = mac {
                message = message.address(mac.octets().to_vec());
            }
            message
        })
    }

    /// Deletes a link (for a veth, both ends); with [`Handle::with_detached_reclaim`], returns
    /// once the kernel has unlisted it.
    ///
    /// Equivalent to: `ip link del dev NAME`.
    pub fn link_del(&self, link: impl Into<LinkRef>) -> Result<()> {
        let link = link.into();
        if self.detached_reclaim() {
            return self.link_del_unlisted(&link).map(drop);
        }
        self.link_del_waiting(link)
    }

    /// Deletes a link and waits for the kernel's answer, which comes after its reclamation.
    fn link_del_waiting(&self, link: LinkRef) -> Result<()> {
        let message = link_message(&link, |message| message);
        self.change(RouteNetlinkMessage::DelLink(message), Create::No, Op::LinkDel, &link)
    }

    /// Sends one RTM_SETLINK built by `build` for `link`.
    fn link_set(
        &self,
        link: &LinkRef,
        build: impl FnOnce(
            rtnetlink::LinkMessageBuilder<LinkUnspec>,
        ) -> rtnetlink::LinkMessageBuilder<LinkUnspec>,
    ) -> Result<()> {
        let message = link_message(link, build);
        self.change(RouteNetlinkMessage::SetLink(message), Create::No, Op::LinkSet, link)
    }
}

/// The request that brings link `index` up, for batches.
pub(crate) fn up_request(index: u32) -> BatchRequest {
    let link = LinkRef::Index(index);
    BatchRequest {
        message: RouteNetlinkMessage::SetLink(link_message(&link, |m| m.up())),
        create: Create::No,
        op: Op::LinkSet,
        object: link.to_string(),
    }
}

/// Builds a link message addressed to `link` by index or name.
fn link_message(
    link: &LinkRef,
    build: impl FnOnce(
        rtnetlink::LinkMessageBuilder<LinkUnspec>,
    ) -> rtnetlink::LinkMessageBuilder<LinkUnspec>,
) -> LinkMessage {
    let builder = match link {
        LinkRef::Index(index) => LinkUnspec::new_with_index(*index),
        LinkRef::Name(name) => LinkUnspec::new_with_name(name),
    };
    build(builder).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert!(validate_ifname("guest ifname", "eth1").is_ok());
        assert!(validate_ifname("guest ifname", "abcdefghijklmno").is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("abcdefghijklmnop", "16 bytes"),
            ("a/b", "'/'"),
            ("a b", "' '"),
            ("a:b", "':'"),
            ("..", "not a valid"),
        ] {
            let err = validate_ifname("guest ifname", bad).unwrap_err().to_string();
            assert!(err.contains("guest ifname") && err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn link_refs_display_what_they_name() {
        assert_eq!(LinkRef::from("br0").to_string(), "link br0");
        assert_eq!(LinkRef::from(7).to_string(), "link #7");
    }
}
