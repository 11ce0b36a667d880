//! Drift: how an attachment differs from what the kernel has now (like CNI CHECK).

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{Attachment, HostSide};
use crate::{
    error::Result, handle::Handle, link::Link, mac::MacAddr, netns::NamespaceOrigin, ovs::Ovs,
};

/// One difference between an attachment and the kernel's state now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum Drift {
    /// The guest's namespace no longer exists (or is another one now).
    GuestGone,
    /// The host-side interface (the veth end, the macvlan's parent) is missing or renamed.
    HostSideMissing {
        /// Its recorded name.
        ifname: String,
    },
    /// The host end is no longer a port of its bridge.
    NotOnBridge {
        /// The bridge it was attached to.
        bridge: String,
        /// What it is a port of now, if anything.
        master: Option<String>,
    },
    /// The guest's interface is missing or renamed.
    GuestInterfaceMissing {
        /// Its recorded name.
        ifname: String,
    },
    /// An address of the plan is no longer on the guest's interface.
    AddressRemoved {
        /// The address.
        address: IpNet,
    },
    /// The guest interface's MAC changed.
    MacChanged {
        /// The MAC recorded at attach.
        recorded: MacAddr,
        /// The MAC now.
        now: Option<MacAddr>,
    },
    /// The guest interface's MTU changed.
    MtuChanged {
        /// The MTU recorded at attach.
        recorded: u32,
        /// The MTU now.
        now: u32,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::GuestGone => write!(f, "the guest's namespace is gone"),
            Drift::HostSideMissing { ifname } => write!(f, "host interface {ifname} is missing"),
            Drift::NotOnBridge { bridge, master: Some(master) } => {
                write!(f, "the host end is on {master}, not on bridge {bridge}")
            }
            Drift::NotOnBridge { bridge, master: None } => {
                write!(f, "the host end is no longer on bridge {bridge}")
            }
            Drift::GuestInterfaceMissing { ifname } => {
                write!(f, "guest interface {ifname} is missing")
            }
            Drift::AddressRemoved { address } => write!(f, "address {address} was removed"),
            Drift::MacChanged { recorded, now } => write!(
                f,
                "MAC is {} instead of {recorded}",
                now.map_or_else(|| "none".to_string(), |mac| mac.to_string())
            ),
            Drift::MtuChanged { recorded, now } => write!(f, "MTU is {now} instead of {recorded}"),
        }
    }
}

impl Attachment {
    /// Compares the attachment with what the kernel has now: every difference, none when it is
    /// intact.
    ///
    /// `guest` is the guest's namespace handle, `None` when the guest is gone.
    /// Equivalent to: `ip link show HOSTIF; ip -n GUEST addr show IFNAME`, compared by hand.
    pub fn check(&self, host: &Handle, guest: Option<&Handle>) -> Result<Vec<Drift>> {
        let mut drift = self.host_drift(host)?;
        let Some(guest) = guest else {
            drift.push(Drift::GuestGone);
            return Ok(drift);
        };
        let ifname = &self.plan.guest_ifname;
        let Some(link) = guest.link_get(self.guest_ifindex)?.filter(|l| &l.name == ifname) else {
            drift.push(Drift::GuestInterfaceMissing { ifname: ifname.clone() });
            return Ok(drift);
        };
        let have: Vec<IpNet> =
            guest.addresses(Some(link.index))?.into_iter().map(|a| a.net).collect();
        drift.extend(
            self.plan
                .addresses
                .iter()
                .filter(|net| !have.contains(net))
                .map(|net| Drift::AddressRemoved { address: *net }),
        );
        if let Some(recorded) = self.mac
            && link.mac != Some(recorded)
        {
            drift.push(Drift::MacChanged { recorded, now: link.mac });
        }
        if link.mtu != self.mtu {
            drift.push(Drift::MtuChanged { recorded: self.mtu, now: link.mtu });
        }
        Ok(drift)
    }

    /// Whether the guest is gone: its namespace no longer exists (or is another one now).
    ///
    /// A namespace that cannot be opened again (anonymous, or the caller's own) is gone when
    /// its veth's host end is: the kernel deletes the pair with the namespace.
    pub fn guest_gone(&self, host: &Handle) -> Result<bool> {
        match self.guest.origin {
            NamespaceOrigin::Anonymous | NamespaceOrigin::Current => {
                Ok(matches!(self.plan.host, HostSide::Bridge { .. } | HostSide::OvsBridge { .. })
                    && self.host_link(host)?.is_none())
            }
            _ => Ok(self.guest.reopen()?.is_none()),
        }
    }

    /// The drift of the host side: its interface, and for a bridge its membership.
    fn host_drift(&self, host: &Handle) -> Result<Vec<Drift>> {
        // A moved device and a dummy have nothing in the host.
        if matches!(self.plan.host, HostSide::Physical { .. } | HostSide::Dummy { .. })
            || self.host_ifindex == 0
        {
            return Ok(Vec::new());
        }
        let Some(link) = self.host_link(host)? else {
            return Ok(vec![Drift::HostSideMissing { ifname: self.host_ifname.clone() }]);
        };
        let on = |bridge: &str, master: Option<String>| {
            vec![Drift::NotOnBridge { bridge: bridge.to_string(), master }]
        };
        Ok(match &self.plan.host {
            HostSide::Bridge { name } => {
                let bridge = host.link_get(name.as_str())?;
                match (bridge, link.master) {
                    (Some(bridge), Some(master)) if bridge.index == master => Vec::new(),
                    (_, Some(master)) => on(name, host.link_get(master)?.map(|l| l.name)),
                    (_, None) => on(name, None),
                }
            }
            HostSide::OvsBridge { name } => match Ovs::connect()?.port(&self.host_ifname)? {
                Some(port) if &port.bridge == name => Vec::new(),
                port => on(name, port.map(|p| p.bridge)),
            },
            _ => Vec::new(),
        })
    }

    /// The host-side interface when it is still the recorded one (same index and name).
    fn host_link(&self, host: &Handle) -> Result<Option<Link>> {
        Ok(host.link_get(self.host_ifindex)?.filter(|link| link.name == self.host_ifname))
    }
}
