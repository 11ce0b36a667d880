//! TIPC over generic netlink ("TIPCv2"): node identity, bearers, links, and a bus across guests.
//!
//! Since Linux 4.0 TIPC is per network namespace, so each container can be a TIPC node.
//! [`TipcNode`] configures one namespace (what `ip netns exec NS tipc ...` does), and
//! [`TipcBus`] configures a set of guests into one bus and waits until every pair is linked.

pub mod bearer;
pub mod bus;
pub mod codec;
mod genl;
pub mod identity;
pub mod node;
pub mod service;

pub use self::{
    bearer::{BearerProps, BearerSpec, UdpLocal},
    bus::{BusLink, BusNode, BusReport, IdentityScheme, TipcBus},
    identity::{NodeId, TipcAddress},
    node::{Bearer, LinkStats, NodeConfig, TipcLink, TipcNode, TipcPeer},
    service::{TipcDatagram, TipcListener, TipcService, node_address},
};
