//! What a host interface argument means: an existing bridge, OVS bridge, IPoIB or physical device,
//! or one of the original script's keywords for a device to create. Answered from netlink only.

use serde::{Deserialize, Serialize};

use super::HostSide;
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::{IpvlanFlag, IpvlanMode, Link, MacvlanMode},
    mac::MacAddr,
    ovs::Ovs,
};

/// ARPHRD_INFINIBAND: the link type of IPoIB devices.
pub(super) const ARPHRD_INFINIBAND: u16 = 32;
/// ARPHRD_LOOPBACK.
const ARPHRD_LOOPBACK: u16 = 772;

/// The kind of a host interface, as pipework reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// An existing Linux bridge: the guest gets a veth port on it.
    LinuxBridge,
    /// An existing Open vSwitch bridge.
    OvsBridge,
    /// An existing IPoIB device (link type InfiniBand).
    Ipoib,
    /// The loopback device: nothing can be attached to it.
    Loopback,
    /// Any other existing device (Ethernet, bond, VLAN, veth...): the guest gets a macvlan on it,
    /// or the device itself with `--direct-phys`.
    Physical,
    /// No such device and a `br*` name: a Linux bridge will be created.
    NewLinuxBridge,
    /// No such device and an `ovs*` name: an Open vSwitch bridge will be created.
    NewOvsBridge,
    /// No such device and a `dummy*` name: a dummy device will be created in the guest.
    NewDummy,
}

/// In words, as `pipework --dry-run` prints it: `an existing Linux bridge`, `a new dummy`...
impl std::fmt::Display for HostKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostKind::LinuxBridge => "an existing Linux bridge",
            HostKind::OvsBridge => "an existing Open vSwitch bridge",
            HostKind::Ipoib => "an existing IPoIB device",
            HostKind::Loopback => "the loopback device",
            HostKind::Physical => "an existing device",
            HostKind::NewLinuxBridge => "a new Linux bridge (created by the attach)",
            HostKind::NewOvsBridge => "a new Open vSwitch bridge (created by the attach)",
            HostKind::NewDummy => "a new dummy (created in the guest)",
        })
    }
}

/// How the caller wants a host interface used, beyond what detection says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostChoice {
    /// Move a physical device itself into the guest (the original's `--direct-phys`).
    pub direct_phys: bool,
    /// The macvlan mode for a physical parent (bridge when `None`, like the original).
    pub macvlan_mode: Option<MacvlanMode>,
    /// A macvtap instead of a macvlan on a physical parent.
    pub macvtap: bool,
    /// An ipvlan in this mode instead of a macvlan on a physical parent.
    pub ipvlan: Option<IpvlanMode>,
    /// The partition key of an IPoIB child (the parent's when `None`).
    pub pkey: Option<u16>,
}

/// A host interface argument after detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    /// The interface name (for `mac:` arguments, the name of the matching device).
    pub name: String,
    /// What it is.
    pub kind: HostKind,
    /// The device as the kernel reports it, when it exists.
    pub link: Option<Link>,
}

impl Detected {
    /// The host side for this interface: the original script's choice, adjusted by `choice`.
    pub fn host_side(&self, choice: &HostChoice) -> Result<HostSide> {
        let macvlan_options = choice.macvlan_mode.is_some() || choice.macvtap;
        if (macvlan_options || choice.ipvlan.is_some())
            && (choice.direct_phys || self.kind != HostKind::Physical)
        {
            return Err(Error::invalid(
                "host interface",
                &self.name,
                format!(
                    "a macvlan mode, macvtap or ipvlan needs a physical parent, and this is {}",
                    self.kind_text()
                ),
            ));
        }
        if macvlan_options && choice.ipvlan.is_some() {
            return Err(Error::invalid(
                "ipvlan",
                choice.ipvlan.map(|mode| mode.to_string()).unwrap_or_default(),
                "an ipvlan has no macvlan mode and is no macvtap; choose one kind",
            ));
        }
        if let Some(pkey) = choice.pkey
            && self.kind != HostKind::Ipoib
        {
            return Err(Error::invalid(
                "pkey",
                format!("{pkey:#06x}"),
                format!("a partition key needs an IPoIB parent, and this is {}", self.kind_text()),
            ));
        }
        let direct_phys = choice.direct_phys;
        match (self.kind, direct_phys) {
            (HostKind::Physical, true) => Ok(HostSide::Physical { device: self.name.clone() }),
            (_, true) => Err(Error::invalid(
                "host interface",
                &self.name,
                format!("--direct-phys moves a physical device, and this is {}", self.kind_text()),
            )),
            (HostKind::LinuxBridge | HostKind::NewLinuxBridge, false) => {
                Ok(HostSide::Bridge { name: self.name.clone() })
            }
            (HostKind::Physical, false) if choice.ipvlan.is_some() => Ok(HostSide::Ipvlan {
                parent: self.name.clone(),
                mode: choice.ipvlan.unwrap_or_default(),
                flag: IpvlanFlag::Bridge,
            }),
            (HostKind::Physical, false) => Ok(HostSide::Macvlan {
                parent: self.name.clone(),
                mode: choice.macvlan_mode.unwrap_or_default(),
                tap: choice.macvtap,
            }),
            (HostKind::Loopback, false) => Err(Error::invalid(
                "host interface",
                &self.name,
                "is the loopback device; nothing can be attached to it",
            )),
            (HostKind::OvsBridge | HostKind::NewOvsBridge, false) => {
                Ok(HostSide::OvsBridge { name: self.name.clone() })
            }
            (HostKind::Ipoib, false) => Ok(HostSide::Ipoib {
                parent: self.name.clone(),
                pkey: choice.pkey,
                mode: None,
                umcast: None,
            }),
            (HostKind::NewDummy, false) => Ok(HostSide::Dummy { name: self.name.clone() }),
        }
    }

    fn kind_text(&self) -> &'static str {
        match self.kind {
            HostKind::LinuxBridge => "a Linux bridge",
            HostKind::OvsBridge => "an Open vSwitch bridge",
            HostKind::Ipoib => "an IPoIB device",
            HostKind::Loopback => "the loopback device",
            HostKind::Physical => "a physical device",
            HostKind::NewLinuxBridge => "a Linux bridge to create",
            HostKind::NewOvsBridge => "an Open vSwitch bridge to create",
            HostKind::NewDummy => "a dummy device to create",
        }
    }
}

/// A host interface argument read as the command line, the C API and the Python module all
/// read it: what it is, and the host side it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenHost {
    /// What detection found (for a dry run).
    pub detected: Detected,
    /// The host side: the original script's choice for it, adjusted by the caller's choice.
    pub side: HostSide,
}

/// Reads host interface argument `argument` (a name or `mac:<address>`) in `host` and gives
/// the host side it means with `choice` (`--direct-phys`, `--mode`, `--ipvlan`, `--pkey`...).
///
/// Equivalent to what the original script decides from `/sys/class/net/NAME` and its options.
pub fn choose_host(host: &Handle, argument: &str, choice: &HostChoice) -> Result<ChosenHost> {
    let detected = detect(host, argument)?;
    let side = detected.host_side(choice)?;
    Ok(ChosenHost { detected, side })
}

/// Reads what host interface argument `argument` (a name or `mac:<address>`) means in `host`.
///
/// Equivalent to the original script's look at `/sys/class/net/NAME` (bridge/, type) and
/// `ovs-vsctl list-br`, answered from netlink.
pub fn detect(host: &Handle, argument: &str) -> Result<Detected> {
    let link = match argument.strip_prefix("mac:") {
        Some(mac) => Some(select_by_mac(host, mac)?),
        None => {
            crate::link::validate_ifname("host interface", argument)?;
            host.link_get(argument)?
        }
    };
    let Some(link) = link else {
        let kind = if argument.starts_with("br") {
            HostKind::NewLinuxBridge
        } else if argument.starts_with("ovs") {
            HostKind::NewOvsBridge
        } else if argument.starts_with("dummy") {
            HostKind::NewDummy
        } else {
            return Err(Error::NotFound {
                op: Op::Attach,
                object: format!(
                    "host interface {argument} in {} (only br*, ovs* and dummy* names are created when missing)",
                    host.namespace()
                ),
            });
        };
        return Ok(Detected { name: argument.to_string(), kind, link: None });
    };
    let kind = match link.kind.as_deref() {
        Some("bridge") => HostKind::LinuxBridge,
        // OVS bridges and their other internal ports (and the ovs-system datapath) share this
        // kind; ovsdb-server tells them apart when it can be asked, as `ovs-vsctl list-br` did.
        Some("openvswitch") if is_ovs_bridge(&link.name) => HostKind::OvsBridge,
        _ if link.link_type == ARPHRD_INFINIBAND => HostKind::Ipoib,
        _ if link.link_type == ARPHRD_LOOPBACK => HostKind::Loopback,
        _ => HostKind::Physical,
    };
    Ok(Detected { name: link.name.clone(), kind, link: Some(link) })
}

/// Whether ovsdb-server lists `name` as a bridge; true when it cannot be asked.
fn is_ovs_bridge(name: &str) -> bool {
    Ovs::connect().and_then(|ovs| ovs.bridge_exists(name)).unwrap_or(true)
}

/// Finds the one host device whose MAC is `mac` (any case), for the original's `mac:` form.
pub fn select_by_mac(host: &Handle, mac: &str) -> Result<Link> {
    let wanted = MacAddr::parse(mac).map_err(|_| {
        Error::invalid(
            "mac: host interface",
            mac,
            "expected mac:aa:bb:cc:dd:ee:ff with a unicast MAC",
        )
    })?;
    let mut matching: Vec<Link> =
        host.links()?.into_iter().filter(|link| link.mac == Some(wanted)).collect();
    match matching.len() {
        0 => Err(Error::NotFound {
            op: Op::Attach,
            object: format!("a host interface with MAC {wanted} in {}", host.namespace()),
        }),
        1 => Ok(matching.remove(0)),
        _ => Err(Error::Conflict {
            op: Op::Attach,
            object: format!("mac:{wanted}"),
            reason: format!(
                "several host interfaces have this MAC ({}); name one instead",
                matching.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}
