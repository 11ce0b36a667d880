//! pipework-core: connect Linux containers and network namespaces to networks, over netlink.
//!
//! The typed successor of the `pipework` shell script. A [`Handle`] is a netlink
//! connection bound to one [`Namespace`]; [`attach`] applies an [`AttachPlan`] to a
//! [`Guest`] and returns an [`Attachment`] that [`Attachment::detach`] undoes exactly.
//!
//! ```no_run
//! use pipework_core::{AttachPlan, Handle, Namespace, attach, resolve};
//!
//! let host = Handle::current()?;
//! let guest = resolve("docker:web")?; // a container, a PID, a /run/netns name or a path
//! let plan = AttachPlan::bridge("br1").address("192.168.1.2/24".parse().unwrap());
//! let attachment = attach(&host, &guest, &plan)?;
//! attachment.detach(&host, None)?;
//! # Ok::<(), pipework_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod addr;
pub mod announce;
pub mod attach;
pub mod cni;
pub mod dhcp;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handle;
pub mod ifname;
pub mod link;
pub mod mac;
pub mod netem;
pub mod netns;
pub mod ovs;
mod parallel;
pub mod ping;
pub mod resolve;
pub mod route;
pub mod state;
pub mod tipc;
pub mod topology;
pub mod wait;
pub mod watch;

pub use crate::{
    addr::{Address, parse_cidr, parse_ip},
    attach::{
        AttachPlan, AttachStatus, Attachment, Detected, Drift, Encapsulation, HostKind, HostSide,
        VxlanUplink, attach,
    },
    dhcp::{DhcpConfig, DhcpLease, LeaseEvent, LeaseRecord},
    error::{Category, Error, Op, Result},
    handle::Handle,
    link::{
        Bridge, BridgeVlan, Dummy, GenericLink, Geneve, IpoibChild, IpoibMode, Ipvlan, IpvlanFlag,
        IpvlanMode, Link, LinkRef, Macvlan, MacvlanMode, OperState, Veth, Vlan, VlanProtocol,
        Vxlan,
    },
    mac::MacAddr,
    netem::{Netem, Percent},
    netns::{Namespace, NamespaceId, NamespaceOrigin},
    ovs::{Ovs, OvsPort, OvsPortInfo},
    ping::ping,
    resolve::{Engine, Guest, GuestRecord, Resolver, Resolvers, resolve},
    route::Route,
    state::StateStore,
    wait::{Condition, wait_for, wait_for_interruptible},
};
/// The network types pipework's API uses.
pub use ipnet::IpNet;
