//! The plan of an attach: what the guest is connected to, and everything else it should get,
//! built with chained setters and validated before anything changes.

use std::{collections::HashSet, net::IpAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::{
    dhcp::DhcpSpec,
    error::{Error, Result},
    link::{
        IpoibMode, IpvlanFlag, IpvlanMode, MacvlanMode, VlanProtocol, validate_ifname,
        validate_vlan_id,
    },
    mac::MacAddr,
};

/// The container interface name the original script uses when `-i` is not given.
pub const DEFAULT_GUEST_IFNAME: &str = "eth1";

/// The container interface name of an IPoIB guest when `-i` is not given, like the original.
pub const DEFAULT_IPOIB_GUEST_IFNAME: &str = "ib0";

/// What the guest's interface is connected to on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum HostSide {
    /// A Linux bridge, created if missing; the guest gets one end of a veth pair.
    Bridge {
        /// The bridge's name.
        name: String,
    },
    /// A macvlan (or macvtap) child of a physical parent, born inside the guest.
    Macvlan {
        /// The parent device in the host namespace.
        parent: String,
        /// How children of the parent reach each other.
        mode: MacvlanMode,
        /// A macvtap (with a /dev/tapN character device) instead of a macvlan.
        tap: bool,
    },
    /// The device itself moves into the guest (the original's `--direct-phys`, SR-IOV VFs).
    Physical {
        /// The device's name in the host namespace.
        device: String,
    },
    /// An Open vSwitch bridge, created if missing; the guest gets one end of a veth pair whose
    /// host end is a port of the bridge (an access port of the plan's VLAN, if any).
    OvsBridge {
        /// The bridge's name.
        name: String,
    },
    /// An ipvlan child of a parent device, born inside the guest (it shares the parent's MAC).
    Ipvlan {
        /// The parent device in the host namespace.
        parent: String,
        /// Where the child switches traffic.
        mode: IpvlanMode,
        /// How children of the parent reach each other.
        flag: IpvlanFlag,
    },
    /// A dummy interface created inside the guest (the original's `dummy*` keyword).
    Dummy {
        /// The keyword as given (`dummy`, `dummy0`...); nothing of that name is created.
        name: String,
    },
    /// An IPoIB child of an InfiniBand device, created in the host and moved into the guest.
    Ipoib {
        /// The InfiniBand (IPoIB) device in the host namespace.
        parent: String,
        /// The partition key (the original's `@PKEY`); the parent's when `None`.
        pkey: Option<u16>,
        /// Datagram or connected mode; the kernel's default when `None`.
        mode: Option<IpoibMode>,
        /// User-space multicast; the kernel's default when `None`.
        umcast: Option<bool>,
    },
}

impl HostSide {
    /// The host interface this side is built on, for messages.
    pub fn host_interface(&self) -> &str {
        match self {
            HostSide::Bridge { name } => name,
            HostSide::Macvlan { parent, .. } => parent,
            HostSide::Physical { device } => device,
            HostSide::OvsBridge { name } | HostSide::Dummy { name } => name,
            HostSide::Ipvlan { parent, .. } | HostSide::Ipoib { parent, .. } => parent,
        }
    }
}

impl HostSide {
    /// What the guest's interface hangs off, in a few words (`bridge`, `macvlan private`,
    /// `moved device`, `ipvlan l2`...), without the host interface's name.
    pub fn kind_name(&self) -> String {
        match self {
            HostSide::Bridge { .. } => "bridge".into(),
            HostSide::Macvlan { mode, tap, .. } => {
                format!("{} {mode}", if *tap { "macvtap" } else { "macvlan" })
            }
            HostSide::Physical { .. } => "moved device".into(),
            HostSide::OvsBridge { .. } => "Open vSwitch bridge".into(),
            HostSide::Ipvlan { mode, flag: IpvlanFlag::Bridge, .. } => format!("ipvlan {mode}"),
            HostSide::Ipvlan { mode, flag, .. } => format!("ipvlan {mode} {flag}"),
            HostSide::Dummy { .. } => "dummy".into(),
            HostSide::Ipoib { .. } => "IPoIB child".into(),
        }
    }
}

/// In words: `bridge br1`, `macvlan private on eth2`, `moved device eth4`, `dummy`...
impl std::fmt::Display for HostSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind_name();
        match self {
            HostSide::Bridge { name } | HostSide::OvsBridge { name } => write!(f, "{kind} {name}"),
            HostSide::Physical { device } => write!(f, "{kind} {device}"),
            HostSide::Dummy { .. } => write!(f, "{kind} in the guest"),
            HostSide::Ipoib { pkey: Some(pkey), .. } => {
                write!(f, "{kind} on {} with P_Key {pkey:#06x}", self.host_interface())
            }
            _ => write!(f, "{kind} on {}", self.host_interface()),
        }
    }
}

/// Everything an attach should do, validated before anything changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachPlan {
    /// What the guest is connected to.
    pub host: HostSide,
    /// The interface name inside the guest (`-i`, default `eth1`).
    pub guest_ifname: String,
    /// The host-side interface name (`-l`); generated when `None`.
    pub host_ifname: Option<String>,
    /// Addresses for the guest interface; empty for none (the original's `0/0`).
    pub addresses: Vec<IpNet>,
    /// Default gateways, at most one per family.
    pub gateways: Vec<IpAddr>,
    /// The guest interface's MAC; the kernel picks a random one when `None`.
    pub mac: Option<MacAddr>,
    /// The MTU; inherited from the host side when `None`.
    pub mtu: Option<u32>,
    /// For a macvlan: an address for a host-side "shim" macvlan on the same parent, with
    /// routes to the guest's addresses, so the host can reach the guest.
    pub host_shim: Option<IpNet>,
    /// Announce the addresses with a gratuitous ARP / unsolicited neighbour advertisement.
    pub announce: bool,
    /// The original's `@VLAN`: a sub-interface `<parent>.<vid>` under a macvlan or ipvlan
    /// guest, an access port of a VLAN-filtering Linux bridge, or an Open vSwitch port tag.
    #[serde(default)]
    pub vlan: Option<u16>,
    /// The tag protocol of a VLAN sub-interface (802.1Q unless set).
    #[serde(default)]
    pub vlan_protocol: VlanProtocol,
    /// Address the guest interface with DHCPv4 instead of static IPv4 addresses (the
    /// original's `dhcp`, `udhcpc`, `dhclient`, `dhcpcd` words); detach releases the lease.
    #[serde(default)]
    pub dhcp: Option<DhcpSpec>,
    /// Let the guest be the host side's own network namespace (a container run with
    /// `--net=host`, `pipework br1 1 ...`); refused unless set, since the guest interface,
    /// its addresses and its default route would land in the host.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_host_namespace: bool,
    /// A VXLAN overlay to other hosts: the bridge gets (or has) tunnel port `vx<VNI>` that
    /// floods to every remote (`--vxlan VNI@REMOTE,...`); a Linux bridge host side only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vxlan: Option<VxlanUplink>,
}

/// How an overlay's frames travel between hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encapsulation {
    /// VXLAN (RFC 7348), to every remote through the device's forwarding database.
    #[default]
    Vxlan,
    /// Geneve (RFC 8926), to its one remote: the kernel's geneve has no forwarding database.
    Geneve,
}

/// The tunnel port a bridge gets for an overlay across hosts: a VXLAN device `vx<VNI>` whose
/// forwarding database sends broadcast, multicast and unknown frames to every remote
/// (head-end replication), or a Geneve device `gnv<VNI>` to one remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanUplink {
    /// The VXLAN network identifier (1 to 16777215).
    pub vni: u32,
    /// The other hosts' tunnel endpoints, all of one family.
    pub remotes: Vec<IpAddr>,
    /// The device the tunnel's packets leave through (its MTU less the encapsulation is the
    /// overlay's); the route to the remotes decides when `None`.
    pub underlay: Option<String>,
    /// The UDP port (IANA's 4789 for VXLAN, 6081 for Geneve, unless set).
    pub port: u16,
    /// VXLAN or Geneve.
    #[serde(default, skip_serializing_if = "is_vxlan")]
    pub encapsulation: Encapsulation,
}

fn is_vxlan(encapsulation: &Encapsulation) -> bool {
    *encapsulation == Encapsulation::Vxlan
}

impl VxlanUplink {
    /// IANA's VXLAN port.
    pub const PORT: u16 = 4789;
    /// IANA's Geneve port.
    pub const GENEVE_PORT: u16 = 6081;

    /// Parses `VNI@REMOTE[,REMOTE...][%UNDERLAY]`, the form of `--vxlan` (the interface after
    /// `%` as in a scoped address, `fe80::1%eth0`).
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_as(text, Encapsulation::Vxlan)
    }

    /// Parses `VNI@REMOTE[%UNDERLAY]`, the form of `--geneve`: a Geneve port to one remote.
    pub fn parse_geneve(text: &str) -> Result<Self> {
        Self::parse_as(text, Encapsulation::Geneve)
    }

    /// The default port of `encapsulation`.
    pub fn default_port(encapsulation: Encapsulation) -> u16 {
        match encapsulation {
            Encapsulation::Vxlan => Self::PORT,
            Encapsulation::Geneve => Self::GENEVE_PORT,
        }
    }

    fn parse_as(text: &str, encapsulation: Encapsulation) -> Result<Self> {
        let argument = match encapsulation {
            Encapsulation::Vxlan => "vxlan",
            Encapsulation::Geneve => "geneve",
        };
        let invalid = |reason: &str| Error::invalid(argument, text, reason);
        let (rest, underlay) = match text.split_once('%') {
            Some((rest, dev)) => {
                validate_ifname("vxlan underlay", dev)?;
                (rest, Some(dev.to_string()))
            }
            None => (text, None),
        };
        let (vni, remotes) =
            rest.split_once('@').ok_or_else(|| invalid("expected VNI@REMOTE[,REMOTE...][%DEV]"))?;
        let vni = vni.parse().map_err(|_| invalid("the VNI is not a number"))?;
        let remotes = remotes
            .split(',')
            .map(|remote| remote.parse().map_err(|_| invalid("a remote is not an IP address")))
            .collect::<Result<Vec<IpAddr>>>()?;
        let port = Self::default_port(encapsulation);
        let uplink = VxlanUplink { vni, remotes, underlay, port, encapsulation };
        uplink.validate()?;
        Ok(uplink)
    }

    /// The tunnel device's name: `vx<VNI>`, or `gnv<VNI>` for Geneve.
    pub fn device_name(&self) -> String {
        match self.encapsulation {
            Encapsulation::Vxlan => format!("vx{}", self.vni),
            Encapsulation::Geneve => format!("gnv{}", self.vni),
        }
    }

    /// The kernel's kind of the tunnel device (`vxlan`, `geneve`).
    pub fn device_kind(&self) -> &'static str {
        match self.encapsulation {
            Encapsulation::Vxlan => "vxlan",
            Encapsulation::Geneve => "geneve",
        }
    }

    /// The bytes the encapsulation adds: outer IP, UDP, VXLAN (or Geneve without options, as
    /// long) and inner Ethernet headers.
    pub fn overhead(&self) -> u32 {
        if self.remotes.first().is_some_and(IpAddr::is_ipv6) { 70 } else { 50 }
    }

    /// Checks the VNI, the remotes (at least one, unicast, one family, no repeats).
    pub fn validate(&self) -> Result<()> {
        crate::link::validate_vni(self.vni)?;
        let Some(first) = self.remotes.first() else {
            return Err(Error::invalid("vxlan remotes", "", "give at least one remote"));
        };
        if self.encapsulation == Encapsulation::Geneve && self.remotes.len() > 1 {
            let remotes: Vec<String> = self.remotes.iter().map(ToString::to_string).collect();
            return Err(Error::invalid(
                "geneve remotes",
                remotes.join(","),
                "a Geneve port has one remote (the kernel's geneve floods to no list); give                  VXLAN for several",
            ));
        }
        let mut seen = HashSet::new();
        for remote in &self.remotes {
            let reason = if remote.is_multicast() || remote.is_unspecified() {
                "is not a unicast address"
            } else if remote.is_ipv4() != first.is_ipv4() {
                "is not in the family of the first remote"
            } else if !seen.insert(remote) {
                "is given twice"
            } else {
                continue;
            };
            return Err(Error::invalid("vxlan remote", remote.to_string(), reason));
        }
        Ok(())
    }
}

impl AttachPlan {
    /// A plan that connects the guest through `host` as `eth1` (`ib0` for IPoIB, like the
    /// original), with no address.
    pub fn new(host: HostSide) -> Self {
        let guest_ifname = match host {
            HostSide::Ipoib { .. } => DEFAULT_IPOIB_GUEST_IFNAME,
            _ => DEFAULT_GUEST_IFNAME,
        };
        AttachPlan {
            host,
            guest_ifname: guest_ifname.to_string(),
            host_ifname: None,
            addresses: Vec::new(),
            gateways: Vec::new(),
            mac: None,
            mtu: None,
            host_shim: None,
            announce: true,
            vlan: None,
            vlan_protocol: VlanProtocol::default(),
            dhcp: None,
            allow_host_namespace: false,
            vxlan: None,
        }
    }

    /// A plan that connects the guest to Linux bridge `bridge` (created if missing).
    pub fn bridge(bridge: &str) -> Self {
        Self::new(HostSide::Bridge { name: bridge.to_string() })
    }

    /// A plan that gives the guest a macvlan child of `parent`.
    pub fn macvlan(parent: &str, mode: MacvlanMode) -> Self {
        Self::new(HostSide::Macvlan { parent: parent.to_string(), mode, tap: false })
    }

    /// A plan that gives the guest a macvtap child of `parent`.
    pub fn macvtap(parent: &str, mode: MacvlanMode) -> Self {
        Self::new(HostSide::Macvlan { parent: parent.to_string(), mode, tap: true })
    }

    /// A plan that moves host device `device` itself into the guest.
    pub fn physical(device: &str) -> Self {
        Self::new(HostSide::Physical { device: device.to_string() })
    }

    /// A plan that connects the guest to Open vSwitch bridge `bridge` (created if missing).
    pub fn ovs_bridge(bridge: &str) -> Self {
        Self::new(HostSide::OvsBridge { name: bridge.to_string() })
    }

    /// A plan that gives the guest an ipvlan child of `parent`, in `mode` with the kernel's
    /// default (bridge) flag.
    pub fn ipvlan(parent: &str, mode: IpvlanMode) -> Self {
        Self::new(HostSide::Ipvlan { parent: parent.to_string(), mode, flag: IpvlanFlag::Bridge })
    }

    /// A plan that gives the guest a dummy interface of its own.
    pub fn dummy() -> Self {
        Self::new(HostSide::Dummy { name: "dummy".to_string() })
    }

    /// A plan that gives the guest an IPoIB child of `parent`, named `ib0` in the guest like the
    /// original, on partition `pkey` (the parent's when `None`).
    pub fn ipoib(parent: &str, pkey: Option<u16>) -> Self {
        Self::new(HostSide::Ipoib { parent: parent.to_string(), pkey, mode: None, umcast: None })
    }

    /// Puts the guest in VLAN `id` (the original's `@VLAN`; its meaning depends on the host side).
    pub fn vlan(mut self, id: u16) -> Self {
        self.vlan = Some(id);
        self
    }

    /// The tag protocol of a VLAN sub-interface (802.1Q unless set).
    pub fn vlan_protocol(mut self, protocol: VlanProtocol) -> Self {
        self.vlan_protocol = protocol;
        self
    }

    /// Asks for a host-side shim macvlan with `address`, so the host reaches a macvlan guest.
    pub fn host_shim(mut self, address: IpNet) -> Self {
        self.host_shim = Some(address);
        self
    }

    /// Turns the gratuitous ARP / neighbour advertisement after addressing on or off.
    pub fn announce(mut self, announce: bool) -> Self {
        self.announce = announce;
        self
    }

    /// Sets the interface name inside the guest.
    pub fn guest_ifname(mut self, name: &str) -> Self {
        self.guest_ifname = name.to_string();
        self
    }

    /// Sets the host-side interface name.
    pub fn host_ifname(mut self, name: &str) -> Self {
        self.host_ifname = Some(name.to_string());
        self
    }

    /// Adds an address for the guest interface.
    pub fn address(mut self, net: IpNet) -> Self {
        self.addresses.push(net);
        self
    }

    /// Adds a default gateway.
    pub fn gateway(mut self, gateway: IpAddr) -> Self {
        self.gateways.push(gateway);
        self
    }

    /// Sets the guest interface's MAC.
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    /// Sets the MTU.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Joins the bridge to a VXLAN overlay across hosts (see [`VxlanUplink`]).
    pub fn vxlan(mut self, uplink: VxlanUplink) -> Self {
        self.vxlan = Some(uplink);
        self
    }

    /// Allows a guest that is the host side's own namespace (see [`Self::allow_host_namespace`]).
    pub fn allow_host_namespace(mut self, allow: bool) -> Self {
        self.allow_host_namespace = allow;
        self
    }

    /// Addresses the guest interface with DHCP as `spec` says (see [`DhcpSpec::parse`]).
    pub fn dhcp(mut self, spec: DhcpSpec) -> Self {
        self.dhcp = Some(spec);
        self
    }

    /// Checks every argument; an error names the argument and why, and nothing is changed.
    pub fn validate(&self) -> Result<()> {
        match &self.host {
            HostSide::Bridge { name } => validate_ifname("bridge name", name)?,
            HostSide::Macvlan { parent, .. } => validate_ifname("parent interface", parent)?,
            HostSide::Physical { device } => validate_ifname("host interface", device)?,
            HostSide::OvsBridge { name } => validate_ifname("OVS bridge name", name)?,
            HostSide::Ipvlan { parent, .. } => validate_ifname("parent interface", parent)?,
            HostSide::Ipoib { parent, pkey, .. } => {
                validate_ifname("IPoIB parent", parent)?;
                if let Some(pkey) = pkey {
                    crate::link::validate_pkey("pkey", *pkey)?;
                }
            }
            HostSide::Dummy { .. } => {}
        }
        self.validate_kind_options()?;
        if let Some(spec) = &self.dhcp {
            spec.validate()?;
            let static_v4 =
                self.addresses.iter().map(|net| net.addr()).chain(self.gateways.iter().copied());
            if let Some(ip) = static_v4.clone().find(IpAddr::is_ipv4) {
                return Err(Error::invalid(
                    if self.gateways.contains(&ip) { "gateway" } else { "address" },
                    ip.to_string(),
                    "DHCP gives the interface its IPv4 address and router; static IPv4 cannot be added to it",
                ));
            }
            if let Some(shim) = self.host_shim {
                return Err(Error::invalid(
                    "host shim",
                    shim.to_string(),
                    "the guest's address comes from DHCP, so there is no address to route to in advance",
                ));
            }
        }
        if let Some(shim) = self.host_shim {
            if !matches!(self.host, HostSide::Macvlan { .. }) {
                return Err(Error::invalid(
                    "host shim",
                    shim.to_string(),
                    "only a macvlan guest needs a host shim",
                ));
            }
            if self.addresses.is_empty() {
                return Err(Error::invalid(
                    "host shim",
                    shim.to_string(),
                    "the guest has no address to route to",
                ));
            }
        }
        if self.host_ifname.is_some()
            && !matches!(self.host, HostSide::Bridge { .. } | HostSide::OvsBridge { .. })
        {
            return Err(Error::invalid(
                "host ifname",
                self.host_ifname.clone().unwrap_or_default(),
                "only a bridge attachment has a host-side interface to name (-l)",
            ));
        }
        validate_ifname("guest ifname", &self.guest_ifname)?;
        if let Some(name) = &self.host_ifname {
            validate_ifname("host ifname", name)?;
        }
        let mut seen = HashSet::new();
        for net in &self.addresses {
            let ip = net.addr();
            let reason = if ip.is_unspecified() {
                Some(
                    "is unspecified; leave the addresses empty for an interface without one (the original's 0/0)",
                )
            } else if ip.is_multicast() {
                Some("is a multicast address")
            } else if ip.is_loopback() {
                Some("is a loopback address")
            } else if !seen.insert(ip) {
                Some("is given twice")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::invalid("address", net.to_string(), reason));
            }
        }
        let mut families = HashSet::new();
        for gateway in &self.gateways {
            let family = if gateway.is_ipv4() { "IPv4" } else { "IPv6" };
            if !families.insert(family) {
                return Err(Error::invalid(
                    "gateway",
                    gateway.to_string(),
                    format!("a second {family} default gateway; give one per family"),
                ));
            }
            if !self.addresses.iter().any(|net| net.addr().is_ipv4() == gateway.is_ipv4()) {
                return Err(Error::invalid(
                    "gateway",
                    gateway.to_string(),
                    format!("is {family} but no {family} address is given for the interface"),
                ));
            }
            if gateway.is_unspecified() || gateway.is_multicast() {
                return Err(Error::invalid(
                    "gateway",
                    gateway.to_string(),
                    "is not a unicast address",
                ));
            }
            if self.addresses.iter().any(|net| net.addr() == *gateway) {
                return Err(Error::invalid(
                    "gateway",
                    gateway.to_string(),
                    "is the interface's own address",
                ));
            }
        }
        if let Some(mac) = self.mac
            && (mac.is_multicast() || mac.octets() == [0; 6])
        {
            return Err(Error::invalid(
                "mac",
                mac.to_string(),
                "an interface needs a unicast, non-zero MAC",
            ));
        }
        if let Some(mtu) = self.mtu {
            let min = if self.addresses.iter().any(|n| n.addr().is_ipv6()) { 1280 } else { 68 };
            if !(min..=65535).contains(&mtu) {
                return Err(Error::invalid(
                    "mtu",
                    mtu.to_string(),
                    format!(
                        "must be from {min} to 65535{}",
                        if min == 1280 { " with an IPv6 address" } else { "" }
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl AttachPlan {
    /// Checks the VLAN and MAC against what the host side can do with them.
    fn validate_kind_options(&self) -> Result<()> {
        if let Some(uplink) = &self.vxlan {
            uplink.validate()?;
            let refusal = match (&self.host, self.vlan) {
                (HostSide::Bridge { .. }, None) => None,
                (HostSide::Bridge { .. }, Some(_)) => {
                    Some("an overlay carries one segment; give the bridge no VLAN")
                }
                _ => Some("an overlay joins a Linux bridge; give a bridge as the host interface"),
            };
            if let Some(reason) = refusal {
                return Err(Error::invalid("vxlan", uplink.vni.to_string(), reason));
            }
        }
        if let Some(id) = self.vlan {
            validate_vlan_id("vlan", id)?;
            let refusal = match &self.host {
                HostSide::Dummy { .. } => Some("a dummy interface has no VLAN"),
                HostSide::Physical { .. } => Some(
                    "moving a VLAN sub-interface into the guest (--direct-phys with @VLAN) is not supported; use a macvlan or ipvlan on the VLAN",
                ),
                HostSide::Ipoib { .. } => Some(
                    "an IPoIB partition is chosen by the P_Key of the IPoIB host side (--pkey on the command line), not a VLAN",
                ),
                HostSide::Bridge { .. } | HostSide::OvsBridge { .. }
                    if self.vlan_protocol != VlanProtocol::Dot1q =>
                {
                    Some("a bridge port VLAN is 802.1Q; 802.1ad applies to VLAN sub-interfaces")
                }
                _ => None,
            };
            if let Some(reason) = refusal {
                return Err(Error::invalid("vlan", id.to_string(), reason));
            }
        }
        if let Some(mac) = self.mac {
            let refusal = match &self.host {
                HostSide::Ipvlan { .. } => Some(
                    "an ipvlan interface always has its parent's MAC; use a macvlan for a MAC of its own",
                ),
                HostSide::Ipoib { .. } => Some(
                    "an IPoIB interface cannot be given a MAC (the kernel does not support it)",
                ),
                _ => None,
            };
            if let Some(reason) = refusal {
                return Err(Error::invalid("mac", mac.to_string(), reason));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::{Detected, HostChoice, HostKind};

    #[test]
    fn the_default_guest_ifname_follows_the_host_side() {
        assert_eq!(AttachPlan::bridge("br1").guest_ifname, DEFAULT_GUEST_IFNAME);
        assert_eq!(AttachPlan::macvlan("eth2", MacvlanMode::Bridge).guest_ifname, "eth1");
        // What detection of an IPoIB parent gives, as the command line and the bindings build it.
        let detected =
            Detected { name: "ib0".into(), kind: HostKind::Ipoib, link: None, note: None };
        let side = detected.host_side(&HostChoice { pkey: Some(0x8001), ..Default::default() });
        assert_eq!(AttachPlan::new(side.unwrap()).guest_ifname, DEFAULT_IPOIB_GUEST_IFNAME);
        assert_eq!(AttachPlan::ipoib("ib0", None).guest_ifname, "ib0");
    }
}
