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
    /// How a `mac:` argument matching several devices was resolved (for stderr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the original's `@N` (the fourth argument's `[MAC]@N`) means for a host interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtSuffix {
    /// A VLAN id (decimal): a sub-interface, an access port, an OVS tag.
    Vlan(u16),
    /// An IPoIB partition key (hex, like the original's `pkey 0x$PKEY`).
    Pkey(u16),
}

impl AtSuffix {
    /// Whether `text` can be an `@N` at all (a VLAN id, or a hex P_Key), before the host
    /// interface is known; the error names the argument and both readings.
    pub fn check_syntax(text: &str) -> Result<()> {
        let vlan =
            text.parse::<u16>().ok().filter(|id| (1..=crate::link::MAX_VLAN_ID).contains(id));
        if vlan.is_some() || crate::link::parse_pkey("P_Key", text).is_ok() {
            return Ok(());
        }
        Err(Self::not_a_vlan(text))
    }

    fn not_a_vlan(text: &str) -> Error {
        Error::invalid(
            "VLAN",
            text,
            format!(
                "expected a VLAN id from 1 to {} (on an IPoIB host interface, a hex P_Key like 8001)",
                crate::link::MAX_VLAN_ID
            ),
        )
    }
}

impl Detected {
    /// Reads the original's `@N` for this host interface: on IPoIB the hex P_Key (`@8001` is
    /// `pkey 0x8001`), as the original did; anywhere else a decimal VLAN id.
    pub fn at_suffix(&self, text: &str) -> Result<AtSuffix> {
        if self.kind == HostKind::Ipoib {
            return crate::link::parse_pkey("P_Key", text).map(AtSuffix::Pkey);
        }
        match text.parse::<u16>() {
            Ok(id) if (1..=crate::link::MAX_VLAN_ID).contains(&id) => Ok(AtSuffix::Vlan(id)),
            _ => Err(AtSuffix::not_a_vlan(text)),
        }
    }

    /// The host side and VLAN id for `choice` and the original's `@N` suffix `at` (see
    /// [`Detected::at_suffix`]): on IPoIB, `@N` is the P_Key (it may repeat `--pkey`, not
    /// contradict it); elsewhere it is the VLAN id.
    pub fn host_side_at(
        &self,
        choice: &HostChoice,
        at: Option<&str>,
    ) -> Result<(HostSide, Option<u16>)> {
        let mut choice = *choice;
        let vlan = match at.map(|text| self.at_suffix(text)).transpose()? {
            Some(AtSuffix::Vlan(id)) => Some(id),
            Some(AtSuffix::Pkey(pkey)) => {
                if let Some(given) = choice.pkey.filter(|given| *given != pkey) {
                    return Err(Error::invalid(
                        "P_Key",
                        format!("@{}", at.unwrap_or_default()),
                        format!("contradicts --pkey {given:x}; give the partition key once"),
                    ));
                }
                choice.pkey = Some(pkey);
                None
            }
            None => None,
        };
        Ok((self.host_side(&choice)?, vlan))
    }

    /// The host side for this interface: the original script's choice, adjusted by `choice`.
    pub fn host_side(&self, choice: &HostChoice) -> Result<HostSide> {
        let macvlan_options = choice.macvlan_mode.is_some() || choice.macvtap;
        if (macvlan_options || choice.ipvlan.is_some())
            && (choice.direct_phys || self.kind != HostKind::Physical)
        {
            return Err(self.refused(format!(
                "a macvlan mode, macvtap or ipvlan needs a physical parent, and this is {}",
                self.kind_text()
            )));
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
            return Err(self.refused(format!(
                "a partition key needs an IPoIB parent, and this is {} (pkey {pkey:#06x})",
                self.kind_text()
            )));
        }
        let direct_phys = choice.direct_phys;
        match (self.kind, direct_phys) {
            (HostKind::Physical, true) => Ok(HostSide::Physical { device: self.name.clone() }),
            (_, true) => Err(self.refused(format!(
                "--direct-phys moves a physical device, and this is {}",
                self.kind_text()
            ))),
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
            (HostKind::Loopback, false) => {
                Err(self.refused("it is the loopback device; nothing can be attached to it".into()))
            }
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

    /// A refusal caused by what this interface is on the system (exit status 1, not a usage
    /// error).
    fn refused(&self, reason: String) -> Error {
        Error::Conflict { op: Op::Attach, object: format!("host interface {}", self.name), reason }
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
    let (link, note) = match argument.strip_prefix("mac:") {
        Some(mac) => {
            let found = select_by_mac(host, mac)?;
            (Some(found.link), found.note)
        }
        None => {
            crate::link::validate_ifname("host interface", argument)?;
            (host.link_get(argument)?, None)
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
        return Ok(Detected { name: argument.to_string(), kind, link: None, note: None });
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
    Ok(Detected { name: link.name.clone(), kind, link: Some(link), note })
}

/// Whether ovsdb-server lists `name` as a bridge; true when it cannot be asked.
fn is_ovs_bridge(name: &str) -> bool {
    Ovs::connect().and_then(|ovs| ovs.bridge_exists(name)).unwrap_or(true)
}

/// The kinds of device that sit on top of another and share (or copy) its MAC: a VLAN,
/// macvlan or ipvlan on its parent, a bridge or bond on its first port.
const STACKED_KINDS: [&str; 9] =
    ["vlan", "macvlan", "macvtap", "ipvlan", "ipvtap", "bridge", "bond", "team", "openvswitch"];

/// A host device found by the original's `mac:` form, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacMatch {
    /// The device.
    pub link: Link,
    /// When several devices have the MAC: which was chosen and why (for stderr).
    pub note: Option<String>,
}

/// Finds the host device whose MAC is `mac` (any case), for the original's `mac:` form.
///
/// When several have it (a NIC and its VLAN, macvlan or bridge), the one that is not stacked
/// on another is chosen, as the original's first match in `/sys/class/net` effectively was,
/// and the note says so; several unstacked ones are an error that names them.
pub fn select_by_mac(host: &Handle, mac: &str) -> Result<MacMatch> {
    let wanted = MacAddr::parse(mac).map_err(|_| {
        Error::invalid(
            "mac: host interface",
            mac,
            "expected mac:aa:bb:cc:dd:ee:ff with a unicast MAC",
        )
    })?;
    let matching: Vec<Link> =
        host.links()?.into_iter().filter(|link| link.mac == Some(wanted)).collect();
    choose_unstacked(&matching, wanted).map_err(|reason| match matching.is_empty() {
        true => Error::NotFound {
            op: Op::Attach,
            object: format!("a host interface with MAC {wanted} in {}", host.namespace()),
        },
        false => Error::Conflict { op: Op::Attach, object: format!("mac:{wanted}"), reason },
    })
}

/// The one device of `matching` not stacked on another (see [`select_by_mac`]); `Err` says
/// why there is none to choose.
fn choose_unstacked(matching: &[Link], wanted: MacAddr) -> std::result::Result<MacMatch, String> {
    let names =
        |links: &[&Link]| links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ");
    if let [only] = matching {
        return Ok(MacMatch { link: only.clone(), note: None });
    }
    let all: Vec<&Link> = matching.iter().collect();
    let (stacked, unstacked): (Vec<&Link>, Vec<&Link>) = all
        .iter()
        .partition(|link| link.kind.as_deref().is_some_and(|kind| STACKED_KINDS.contains(&kind)));
    match unstacked.as_slice() {
        [] if matching.is_empty() => Err("no host interface has this MAC".into()),
        [chosen] => Ok(MacMatch {
            link: (*chosen).clone(),
            note: Some(format!(
                "mac:{wanted} matches {}; chose {}, the device the others ({}) are stacked on",
                names(&all),
                chosen.name,
                names(&stacked)
            )),
        }),
        [] => Err(format!(
            "every host interface with this MAC ({}) is stacked on another (a VLAN, macvlan, \
             bridge or bond); name one instead",
            names(&all)
        )),
        _ => Err(format!(
            "several host interfaces have this MAC and none is stacked on another ({}); name one \
             instead",
            names(&unstacked)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attach::AttachPlan;

    fn detected(name: &str, kind: HostKind) -> Detected {
        Detected { name: name.into(), kind, link: None, note: None }
    }

    #[test]
    fn at_n_is_a_hex_pkey_on_ipoib_and_a_vlan_elsewhere() {
        // The original README's `pipework ib0 $CID 10.10.10.10/24 @8001`.
        let ib0 = detected("ib0", HostKind::Ipoib);
        let (side, vlan) = ib0.host_side_at(&HostChoice::default(), Some("8001")).unwrap();
        assert_eq!(vlan, None);
        assert_eq!(
            side,
            HostSide::Ipoib { parent: "ib0".into(), pkey: Some(0x8001), mode: None, umcast: None }
        );
        let plan = AttachPlan::new(side);
        assert_eq!(plan.guest_ifname, "ib0");
        plan.validate().unwrap();
        assert_eq!(plan.host.to_string(), "IPoIB child on ib0 with P_Key 0x8001");
        // Hex even when it looks decimal, as `pkey 0x$PKEY` read it; --pkey may repeat it.
        let pkey = |at: &str, given: Option<u16>| {
            let choice = HostChoice { pkey: given, ..Default::default() };
            ib0.host_side_at(&choice, Some(at)).map(|(side, _)| side)
        };
        assert!(matches!(pkey("10", None).unwrap(), HostSide::Ipoib { pkey: Some(0x10), .. }));
        assert!(matches!(pkey("0x8001", Some(0x8001)), Ok(HostSide::Ipoib { .. })));
        let err = pkey("8002", Some(0x8001)).unwrap_err().to_string();
        assert!(err.contains("\"@8002\"") && err.contains("contradicts --pkey 8001"), "{err}");
        let err = pkey("8000", None).unwrap_err().to_string();
        assert!(err.contains("not valid partition keys"), "{err}");
        // Anywhere else a decimal VLAN id.
        let eth2 = detected("eth2", HostKind::Physical);
        let (side, vlan) = eth2.host_side_at(&HostChoice::default(), Some("10")).unwrap();
        assert_eq!((vlan, side.kind_name()), (Some(10), "macvlan bridge".to_string()));
        let err = eth2.at_suffix("8001").unwrap_err().to_string();
        assert!(err.contains("invalid VLAN \"8001\"") && err.contains("hex P_Key"), "{err}");
        assert_eq!(AtSuffix::check_syntax("8001").map_err(|e| e.to_string()), Ok(()));
        assert_eq!(AtSuffix::check_syntax("4094").map_err(|e| e.to_string()), Ok(()));
        assert!(AtSuffix::check_syntax("x").is_err() && AtSuffix::check_syntax("12345").is_err());
    }

    fn link(index: u32, name: &str, kind: Option<&str>) -> Link {
        Link {
            index,
            name: name.into(),
            kind: kind.map(str::to_string),
            mac: Some(MacAddr::parse("02:00:00:00:00:01").unwrap()),
            mtu: 1500,
            oper_state: crate::link::OperState::Up,
            master: None,
            parent: None,
            flags: 0,
            link_type: 1,
            alias: None,
        }
    }

    #[test]
    fn mac_matching_several_devices_chooses_the_one_the_others_stack_on() {
        let mac = MacAddr::parse("02:00:00:00:00:01").unwrap();
        let nic = link(2, "eth0", None);
        let only = choose_unstacked(std::slice::from_ref(&nic), mac).unwrap();
        assert_eq!((only.link.name.as_str(), only.note), ("eth0", None));
        for top in [
            link(3, "br0", Some("bridge")),
            link(3, "eth0.10", Some("vlan")),
            link(3, "mv0", Some("macvlan")),
            link(3, "bond0", Some("bond")),
        ] {
            let found = choose_unstacked(&[top.clone(), nic.clone()], mac).unwrap();
            assert_eq!(found.link.name, "eth0", "{}", top.name);
            let note = found.note.unwrap();
            assert!(
                note.contains("chose eth0") && note.contains(&format!("others ({})", top.name)),
                "{note}"
            );
        }
        let veth = link(4, "veth9", Some("veth"));
        let err = choose_unstacked(&[nic.clone(), veth, link(5, "br0", Some("bridge"))], mac)
            .unwrap_err();
        assert!(err.contains("none is stacked on another (eth0, veth9)"), "{err}");
        let err = choose_unstacked(
            &[link(3, "eth0.10", Some("vlan")), link(4, "eth0.20", Some("vlan"))],
            mac,
        )
        .unwrap_err();
        assert!(err.contains("every host interface with this MAC (eth0.10, eth0.20)"), "{err}");
    }
}
