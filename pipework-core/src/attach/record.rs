//! The record of an attach: what it made, serialisable, so a detach (in this process or
//! another) undoes exactly that.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{AttachPlan, ip};
use crate::{
    dhcp::DhcpRecord,
    handle::Handle,
    link::Link,
    mac::MacAddr,
    netns::NamespaceId,
    resolve::{Guest, GuestRecord},
    route::Route,
};

/// Whether an attach created something or found the same attachment already in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachStatus {
    /// This call created the attachment.
    Created,
    /// The same attachment was already in place; nothing was changed.
    AlreadyAttached,
}

/// What an attach made, recorded so that [`Attachment::detach`] undoes exactly that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Created now, or found in place.
    pub status: AttachStatus,
    /// The plan that was applied.
    pub plan: AttachPlan,
    /// The namespace of the host side.
    pub host_namespace: NamespaceId,
    /// The guest as resolved.
    pub guest: GuestRecord,
    /// The host-side interface: the veth end on the bridge, the macvlan parent, or the
    /// moved device's name in the host.
    pub host_ifname: String,
    /// Its index in the host namespace.
    pub host_ifindex: u32,
    /// The guest interface index in the guest namespace.
    pub guest_ifindex: u32,
    /// The guest interface's MAC as the kernel reports it.
    pub mac: Option<MacAddr>,
    /// The MTU applied.
    pub mtu: u32,
    /// True when this attach created the bridge. Any detach removes a bridge pipework
    /// created once its last port is gone.
    pub bridge_created: bool,
    /// Routes the attach added besides those that vanish with the interface.
    pub routes_added: Vec<Route>,
    /// Default routes the attach replaced, restored by detach.
    pub routes_replaced: Vec<Route>,
    /// A moved device's state in the host, restored by detach.
    pub physical: Option<PhysicalOrigin>,
    /// The host-side shim macvlan, removed by detach.
    pub shim: Option<Shim>,
    /// Things that did not work but do not fail the attach (an announcement that could not be sent).
    pub warnings: Vec<String>,
    /// The DHCP lease of the guest interface and the process keeping it, released by detach.
    #[serde(default)]
    pub dhcp: Option<DhcpRecord>,
    /// The VLAN sub-interface a macvlan or ipvlan guest sits on.
    #[serde(default)]
    pub vlan_link: Option<VlanUse>,
}

/// The VLAN sub-interface under an attachment. Any detach removes one pipework created once
/// nothing is stacked on it any more; one that was there before is never removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VlanUse {
    /// Its name in the host (`<parent>.<vid>`).
    pub name: String,
    /// Its index in the host.
    pub index: u32,
    /// True when this attach created it.
    pub created: bool,
}

/// How a device moved into a guest was in the host, so detach can give it back as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalOrigin {
    /// Its name in the host.
    pub name: String,
    /// Its MTU in the host.
    pub mtu: u32,
    /// Its MAC in the host.
    pub mac: Option<MacAddr>,
    /// Whether it was up.
    pub up: bool,
}

/// The host-side macvlan through which the host reaches a macvlan guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shim {
    /// Its name in the host.
    pub name: String,
    /// Its index in the host.
    pub index: u32,
    /// The address it carries.
    pub address: IpNet,
    /// The host routes to the guest's addresses through it.
    pub routes: Vec<Route>,
}

impl Attachment {
    /// The record of a fresh attachment, before the kind-specific parts are filled in.
    ///
    /// `host_link` is `None` for a guest interface with nothing behind it in the host (a dummy).
    pub(super) fn created(
        plan: &AttachPlan,
        host: &Handle,
        guest: &Guest,
        host_link: Option<&Link>,
        guest_link: &Link,
        setup: ip::GuestSetup,
    ) -> Self {
        Attachment {
            status: AttachStatus::Created,
            plan: plan.clone(),
            host_namespace: host.namespace_id(),
            guest: guest.record(),
            host_ifname: host_link.map(|link| link.name.clone()).unwrap_or_default(),
            host_ifindex: host_link.map_or(0, |link| link.index),
            guest_ifindex: guest_link.index,
            mac: guest_link.mac,
            mtu: guest_link.mtu,
            bridge_created: false,
            routes_added: setup.routes.added,
            routes_replaced: setup.routes.replaced,
            physical: None,
            shim: None,
            warnings: setup.warnings,
            vlan_link: None,
            dhcp: setup.dhcp,
        }
    }
}
