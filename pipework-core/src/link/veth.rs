//! veth pairs, created with the peer already inside its namespace.

use std::os::fd::{AsFd, AsRawFd};

use rtnetlink::{
    LinkUnspec, LinkVeth,
    packet_route::link::{InfoData, InfoVeth},
};

use super::{Birth, Link, birth_setters, index_in, validate_ifname};
use crate::{error::Result, handle::Handle, mac::MacAddr, netns::Namespace};

/// A veth pair to create: this end (with the birth settings every kind has) and its peer,
/// possibly born in another namespace.
#[derive(Debug, Clone)]
pub struct Veth<'a> {
    name: String,
    peer: String,
    peer_namespace: Option<&'a Namespace>,
    peer_mac: Option<MacAddr>,
    birth: Birth<'a>,
}

impl<'a> Veth<'a> {
    /// A pair named `name` (this end) and `peer`; both names are checked.
    pub fn new(name: &str, peer: &str) -> Result<Self> {
        validate_ifname("veth name", name)?;
        validate_ifname("veth peer name", peer)?;
        Ok(Veth {
            name: name.to_string(),
            peer: peer.to_string(),
            peer_namespace: None,
            peer_mac: None,
            birth: Birth::default(),
        })
    }

    /// Creates the peer directly inside `namespace` (no move afterwards).
    pub fn peer_namespace(mut self, namespace: &'a Namespace) -> Self {
        self.peer_namespace = Some(namespace);
        self
    }

    /// The hardware address of the peer.
    pub fn peer_mac(mut self, mac: MacAddr) -> Self {
        self.peer_mac = Some(mac);
        self
    }

    // This end's; its MTU is the peer's too, and `up` is this end's only (the kernel refuses
    // it for the peer).
    birth_setters!(mac);

    /// Creates the pair in one request and returns this end as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [mtu M] [address MAC] [master BR] [up] type veth peer name PEER [netns NS] [address MAC]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let mut peer = LinkUnspec::new_with_name(&self.peer);
        if let Some(namespace) = self.peer_namespace {
            peer = peer.setns_by_fd(namespace.as_fd().as_raw_fd());
        }
        if let Some(mtu) = self.birth.mtu {
            peer = peer.mtu(mtu);
        }
        if let Some(mac) = self.peer_mac {
            peer = peer.address(mac.octets().to_vec());
        }
        let message = LinkVeth::new(&self.name, &self.peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        let message = self.birth.apply(message, &|link| index_in(handle, link))?.build();
        let what = format_args!("veth {} (peer {})", self.name, self.peer);
        self.birth.create(handle, message, &self.name, &what)
    }
}
