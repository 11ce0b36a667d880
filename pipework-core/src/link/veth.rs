//! veth pairs, created with the peer already inside its namespace.

use std::os::fd::{AsFd, AsRawFd};

use rtnetlink::{
    LinkUnspec, LinkVeth,
    packet_route::{
        RouteNetlinkMessage,
        link::{InfoData, InfoVeth},
    },
};

use super::{Link, validate_ifname};
use crate::{
    error::{Op, Result},
    handle::{Create, Handle},
    mac::MacAddr,
    netns::Namespace,
};

/// A veth pair to create: this end in the handle's namespace, the peer possibly in another.
#[derive(Debug)]
pub struct Veth<'a> {
    name: String,
    peer: String,
    peer_namespace: Option<&'a Namespace>,
    mtu: Option<u32>,
    mac: Option<MacAddr>,
    peer_mac: Option<MacAddr>,
    master: Option<u32>,
    up: bool,
}

impl<'a> Veth<'a> {
    /// A pair named `name` (this end) and `peer`; both names are checked.
    pub fn new(name: &str, peer: &str) -> Result<Self> {
        validate_ifname("host ifname", name)?;
        validate_ifname("guest ifname", peer)?;
        Ok(Veth {
            name: name.to_string(),
            peer: peer.to_string(),
            peer_namespace: None,
            mtu: None,
            mac: None,
            peer_mac: None,
            master: None,
            up: false,
        })
    }

    /// Creates the peer directly inside `namespace` (no move afterwards).
    pub fn peer_namespace(mut self, namespace: &'a Namespace) -> Self {
        self.peer_namespace = Some(namespace);
        self
    }

    /// The MTU of both ends.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// The hardware address of this end.
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    /// The hardware address of the peer.
    pub fn peer_mac(mut self, mac: MacAddr) -> Self {
        self.peer_mac = Some(mac);
        self
    }

    /// Makes this end a port of bridge `index`.
    pub fn master(mut self, index: u32) -> Self {
        self.master = Some(index);
        self
    }

    /// Brings this end up in the same request (the kernel refuses this for the peer).
    pub fn up(mut self) -> Self {
        self.up = true;
        self
    }

    /// Creates the pair in one request and returns this end as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [mtu M] [master BR] [up] type veth peer name PEER [netns NS] [address MAC]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let mut peer = LinkUnspec::new_with_name(&self.peer);
        if let Some(namespace) = self.peer_namespace {
            peer = peer.setns_by_fd(namespace.as_fd().as_raw_fd());
        }
        if let Some(mtu) = self.mtu {
            peer = peer.mtu(mtu);
        }
        if let Some(mac) = self.peer_mac {
            peer = peer.address(mac.octets().to_vec());
        }
        let mut message = LinkVeth::new(&self.name, &self.peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        if let Some(mtu) = self.mtu {
            message = message.mtu(mtu);
        }
        if let Some(mac) = self.mac {
            message = message.address(mac.octets().to_vec());
        }
        if let Some(master) = self.master {
            message = message.controller(master);
        }
        if self.up {
            message = message.up();
        }
        let object = format!("veth {} (peer {})", self.name, self.peer);
        let answers = handle.change_echo(
            RouteNetlinkMessage::NewLink(message.build()),
            Create::Exclusive,
            Op::LinkAdd,
            &object,
        )?;
        // The echo carries this end; the peer's notification goes to its own namespace.
        answers
            .iter()
            .find_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(link) => {
                    Some(Link::from_message(link)).filter(|l| l.name == self.name)
                }
                _ => None,
            })
            .map_or_else(|| handle.link(self.name.as_str()), Ok)
    }
}
