//! `TipcNode`: the TIPC configuration of one network namespace, over generic netlink.

use std::net::SocketAddr;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{
    bearer::{BearerProps, BearerSpec, DEFAULT_UDP_PORT, UdpLocal, default_udp_group},
    codec::{BearerAttr, LinkAttr, NetAttr, NodeAttr, TipcAttr, TipcCmd, UdpAttr, stats},
    genl::TipcConnection,
    identity::{NodeId, TipcAddress},
    service::node_address,
};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    netns::Namespace,
};

/// The network id TIPC uses until one is set.
pub const DEFAULT_NET_ID: u32 = 4711;

/// Why the kernel will not change a node's identity or network id, for error messages.
const IDENTITY_IS_FINAL: &str = "a TIPC node identity cannot be changed once set (the kernel \
    keeps it for the life of the network namespace), and neither the identity nor the network id \
    can change once the node has used a bearer, even after its bearers are disabled; keep the \
    current value or use a new namespace";

/// The node-wide settings of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The network (cluster) id; nodes only link with nodes of the same id.
    pub net_id: u32,
    /// The node's 128-bit identity, once set (or derived by the kernel from the first bearer).
    pub identity: Option<NodeId>,
    /// The node's 32-bit address: the identity's hash, or the legacy address; 0 while unset.
    pub address: u32,
    /// The legacy `Z.C.N` form, when the address was set that way.
    pub legacy_address: Option<TipcAddress>,
}

/// An enabled bearer, as the kernel reports it (`tipc bearer list`, `tipc bearer get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bearer {
    /// `eth:<ifname>` or `udp:<name>`.
    pub name: String,
    /// Priority, tolerance and window in force.
    pub props: BearerProps,
    /// The local UDP address, for UDP bearers.
    pub udp_local: Option<SocketAddr>,
    /// The UDP peer or multicast group, for UDP bearers.
    pub udp_remote: Option<SocketAddr>,
}

/// A node this node knows of (`tipc node list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipcPeer {
    /// Its 32-bit address (the identity hash).
    pub address: u32,
    /// Whether it is reachable.
    pub up: bool,
}

/// Counters of a link (`tipc link get ... statistics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Packets received.
    pub rx_packets: u32,
    /// Packets sent.
    pub tx_packets: u32,
    /// Fragments received.
    pub rx_fragments: u32,
    /// Fragments sent.
    pub tx_fragments: u32,
    /// Bundles received.
    pub rx_bundles: u32,
    /// Bundles sent.
    pub tx_bundles: u32,
    /// State messages received.
    pub rx_states: u32,
    /// State messages sent.
    pub tx_states: u32,
    /// Probes received.
    pub rx_probes: u32,
    /// Probes sent.
    pub tx_probes: u32,
    /// NACKs received.
    pub rx_nacks: u32,
    /// NACKs sent.
    pub tx_nacks: u32,
    /// Packets retransmitted.
    pub retransmitted: u32,
    /// Duplicate packets received.
    pub duplicates: u32,
    /// Congestion events.
    pub congestion: u32,
    /// Largest send queue.
    pub max_queue: u32,
    /// Average send queue.
    pub avg_queue: u32,
}

impl LinkStats {
    fn from_pairs(pairs: &[(u16, u32)]) -> Self {
        let mut s = LinkStats::default();
        for &(kind, value) in pairs {
            let field = match kind {
                stats::RX_INFO => &mut s.rx_packets,
                stats::TX_INFO => &mut s.tx_packets,
                stats::RX_FRAGMENTS => &mut s.rx_fragments,
                stats::TX_FRAGMENTS => &mut s.tx_fragments,
                stats::RX_BUNDLES => &mut s.rx_bundles,
                stats::TX_BUNDLES => &mut s.tx_bundles,
                stats::RX_STATES => &mut s.rx_states,
                stats::TX_STATES => &mut s.tx_states,
                stats::RX_PROBES => &mut s.rx_probes,
                stats::TX_PROBES => &mut s.tx_probes,
                stats::RX_NACKS => &mut s.rx_nacks,
                stats::TX_NACKS => &mut s.tx_nacks,
                stats::RETRANSMITTED => &mut s.retransmitted,
                stats::DUPLICATES => &mut s.duplicates,
                stats::LINK_CONGS => &mut s.congestion,
                stats::MAX_QUEUE => &mut s.max_queue,
                stats::AVG_QUEUE => &mut s.avg_queue,
                _ => continue,
            };
            *field = value;
        }
        s
    }
}

/// A link to another node, or the broadcast link (`tipc link list`, `tipc link get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipcLink {
    /// `<own id>:<if>-<peer id>:<if>`, or `broadcast-link`.
    pub name: String,
    /// The peer as the link name shows it: its identity, or its address in hex when the
    /// identity is longer than 16 characters (see [`link_name_part`]).
    pub peer: Option<String>,
    /// Whether this is the broadcast link.
    pub broadcast: bool,
    /// Whether the link is up.
    pub up: bool,
    /// Whether the link carries traffic (the best of the peer's links).
    pub active: bool,
    /// The link MTU.
    pub mtu: u32,
    /// Priority, tolerance and window.
    pub props: BearerProps,
    /// Counters.
    pub stats: LinkStats,
}

/// The TIPC configuration of one network namespace.
///
/// Equivalent to: `ip netns exec NS tipc node|net|bearer|link ...`.
pub struct TipcNode {
    connection: TipcConnection,
    namespace: Namespace,
}

impl TipcNode {
    /// Opens TIPC in `namespace`; a kernel without TIPC gives [`Error::Unsupported`] with the fix.
    pub fn open(namespace: &Namespace) -> Result<Self> {
        Ok(TipcNode {
            connection: TipcConnection::open(namespace)?,
            namespace: namespace.try_clone()?,
        })
    }

    /// Opens TIPC in the calling thread's namespace.
    pub fn current() -> Result<Self> {
        Self::open(&Namespace::current()?)
    }

    /// The namespace this node is configured in.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Reads the network id, identity and address.
    ///
    /// Equivalent to: `tipc net get`, `tipc node get identity`, `tipc node get address`.
    pub fn config(&self) -> Result<NodeConfig> {
        let mut config =
            NodeConfig { net_id: DEFAULT_NET_ID, identity: None, address: 0, legacy_address: None };
        let (mut w0, mut w1) = (0, 0);
        for attr in self.net_attrs(TipcCmd::NetGet)? {
            match attr {
                NetAttr::Id(id) => config.net_id = id,
                NetAttr::NodeId(word) => w0 = word,
                NetAttr::NodeIdW1(word) => w1 = word,
                _ => {}
            }
        }
        config.identity = NodeId::from_words(w0, w1);
        // The kernel answers ADDR_LEGACY_GET with the legacy flag only; the address itself
        // comes from an AF_TIPC socket, as for `tipc node get address`.
        let legacy = self
            .net_attrs(TipcCmd::AddrLegacyGet)?
            .iter()
            .any(|attr| matches!(attr, NetAttr::AddrLegacy));
        config.address = node_address(&self.namespace)?;
        if legacy && config.address != 0 {
            config.legacy_address = Some(TipcAddress::from_u32(config.address));
        }
        Ok(config)
    }

    fn net_attrs(&self, cmd: TipcCmd) -> Result<Vec<NetAttr>> {
        let answers = if cmd == TipcCmd::NetGet {
            self.connection.dump(cmd, Op::TipcGet, "network settings")?
        } else {
            self.connection.get(cmd, Op::TipcGet, "node address")?
        };
        Ok(answers
            .into_iter()
            .flat_map(|answer| answer.attrs)
            .filter_map(|attr| match attr {
                TipcAttr::Net(attrs) => Some(attrs),
                _ => None,
            })
            .flatten()
            .collect())
    }

    /// Sets the network id (1 to 9999); returns whether anything changed.
    ///
    /// Equivalent to: `tipc net set id ID`.
    pub fn set_net_id(&self, net_id: u32) -> Result<bool> {
        if !(1..=9999).contains(&net_id) {
            return Err(Error::invalid("net id", net_id.to_string(), "must be from 1 to 9999"));
        }
        let config = self.config()?;
        if config.net_id == net_id {
            return Ok(false);
        }
        self.net_set(vec![NetAttr::Id(net_id)], &format!("network id {net_id}"), &config)?;
        Ok(true)
    }

    /// Sets the node identity; returns whether anything changed (the same identity again is a no-op).
    ///
    /// An identity cannot be changed once set: another identity is an [`Error::Conflict`].
    /// Equivalent to: `tipc node set identity ID`.
    pub fn set_identity(&self, identity: &NodeId) -> Result<bool> {
        let config = self.config()?;
        match config.identity {
            Some(current) if current == *identity => return Ok(false),
            Some(current) => {
                return Err(Error::Conflict {
                    op: Op::TipcNode,
                    object: format!("identity {identity} in {}", self.connection.namespace()),
                    reason: format!("the node identity is already {current}: {IDENTITY_IS_FINAL}"),
                });
            }
            None => {}
        }
        let (w0, w1) = identity.words();
        self.net_set(
            vec![NetAttr::NodeId(w0), NetAttr::NodeIdW1(w1)],
            &format!("identity {identity}"),
            &config,
        )?;
        // The kernel ignores a second identity silently, so check what it kept.
        match self.config()?.identity {
            Some(kept) if kept == *identity => Ok(true),
            kept => Err(Error::Conflict {
                op: Op::TipcNode,
                object: format!("identity {identity} in {}", self.connection.namespace()),
                reason: format!(
                    "the kernel kept identity {}: {IDENTITY_IS_FINAL}",
                    kept.map_or("none".to_string(), |id| id.to_string())
                ),
            }),
        }
    }

    /// Sets a legacy `Z.C.N` node address, where the kernel still accepts one; returns whether it changed.
    ///
    /// The identity then becomes the address in hex (`1001001` for 1.1.1).
    /// Equivalent to: `tipc node set address Z.C.N`.
    pub fn set_address(&self, address: TipcAddress) -> Result<bool> {
        let config = self.config()?;
        if config.legacy_address == Some(address) {
            return Ok(false);
        }
        let object = format!("address {address}");
        if let Some(identity) = config.identity {
            return Err(Error::Conflict {
                op: Op::TipcNode,
                object: format!("{object} in {}", self.connection.namespace()),
                reason: format!("the node identity is already {identity}: {IDENTITY_IS_FINAL}"),
            });
        }
        self.net_set(vec![NetAttr::Addr(address.to_u32())], &object, &config).map_err(|err| {
            match err.errno() {
                Errno::EOPNOTSUPP => Error::Unsupported {
                    op: Op::TipcNode,
                    object: format!("{object} in {}", self.connection.namespace()),
                    reason: "this kernel no longer accepts legacy Z.C.N addresses; set an identity"
                        .into(),
                },
                _ => err,
            }
        })?;
        Ok(true)
    }

    fn net_set(&self, attrs: Vec<NetAttr>, object: &str, before: &NodeConfig) -> Result<()> {
        self.connection
            .change(TipcCmd::NetSet, vec![TipcAttr::Net(attrs)], Op::TipcNode, object)
            .map_err(|err| match (err.errno(), before.identity) {
                // EPERM is also the answer to a missing CAP_NET_ADMIN, which has no identity to blame.
                (Errno::EPERM, Some(identity)) => Error::Conflict {
                    op: Op::TipcNode,
                    object: format!("{object} in {}", self.connection.namespace()),
                    reason: format!(
                        "node {identity} has already joined network {}: {IDENTITY_IS_FINAL}",
                        before.net_id
                    ),
                },
                _ => err,
            })
    }

    /// Lists the enabled bearers.
    ///
    /// Equivalent to: `tipc bearer list` and `tipc bearer get ... bearer NAME`.
    pub fn bearers(&self) -> Result<Vec<Bearer>> {
        let answers = self.connection.dump(TipcCmd::BearerGet, Op::TipcGet, "bearers")?;
        Ok(nests(answers, |attr| match attr {
            TipcAttr::Bearer(attrs) => Some(attrs),
            _ => None,
        })
        .map(|attrs| {
            let mut bearer = Bearer {
                name: String::new(),
                props: BearerProps::default(),
                udp_local: None,
                udp_remote: None,
            };
            for attr in attrs {
                match attr {
                    BearerAttr::Name(name) => bearer.name = name,
                    BearerAttr::Prop(props) => bearer.props = BearerProps::from_attrs(&props),
                    BearerAttr::UdpOpts(opts) => {
                        for opt in opts {
                            match opt {
                                UdpAttr::Local(addr) => bearer.udp_local = Some(addr),
                                UdpAttr::Remote(addr) => bearer.udp_remote = Some(addr),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            bearer
        })
        .collect())
    }

    /// The enabled bearer called `name`, if any.
    pub fn bearer(&self, name: &str) -> Result<Option<Bearer>> {
        Ok(self.bearers()?.into_iter().find(|bearer| bearer.name == name))
    }

    /// Enables a bearer with link properties; a failure half-way disables it again.
    ///
    /// Without an identity, the kernel derives one from the interface (its MAC, or the UDP
    /// address). Equivalent to: `tipc bearer enable media eth device IF [priority P]` then
    /// `tipc bearer set tolerance T window W media eth device IF`.
    pub fn enable_bearer(&self, spec: &BearerSpec, props: &BearerProps) -> Result<()> {
        spec.validate()?;
        props.validate()?;
        let name = spec.name();
        let object = format!("bearer {name}");
        if self.bearer(&name)?.is_some() {
            return Err(Error::AlreadyExists {
                op: Op::TipcBearer,
                object: format!("{object} in {}", self.connection.namespace()),
                hint: format!("disable it first (`tipc bearer disable media ... {name}`)"),
            });
        }
        let mut attrs = vec![BearerAttr::Name(name.clone())];
        if let Some(priority) = props.priority {
            attrs.push(BearerAttr::Prop(vec![super::codec::PropAttr::Priority(priority)]));
        }
        if let BearerSpec::Udp { local, remote, .. } = spec {
            let local = self.udp_local_address(local)?;
            let remote = match remote {
                Some(remote) => *remote,
                None => SocketAddr::new(
                    default_udp_group(self.config()?.net_id, local.is_ipv6()),
                    DEFAULT_UDP_PORT,
                ),
            };
            attrs.push(BearerAttr::UdpOpts(vec![UdpAttr::Local(local), UdpAttr::Remote(remote)]));
        }
        self.connection
            .change(TipcCmd::BearerEnable, vec![TipcAttr::Bearer(attrs)], Op::TipcBearer, &object)
            .map_err(|err| match (err.errno(), spec) {
                (Errno::ENODEV, BearerSpec::Eth { ifname }) => Error::NotFound {
                    op: Op::TipcBearer,
                    object: format!("interface {ifname} in {}", self.connection.namespace()),
                },
                (Errno::EADDRNOTAVAIL | Errno::ENODEV, BearerSpec::Udp { local, .. }) => {
                    Error::NotFound {
                        op: Op::TipcBearer,
                        object: format!(
                            "local address {local:?} on an interface of {}",
                            self.connection.namespace()
                        ),
                    }
                }
                _ => err,
            })?;
        let rest = BearerProps { priority: None, ..*props };
        if !rest.is_empty()
            && let Err(err) = self.set_bearer_props(&name, &rest)
        {
            return Err(err.rolled_back(self.disable_bearer(&name)));
        }
        Ok(())
    }

    /// Resolves where a UDP bearer's local address comes from.
    fn udp_local_address(&self, local: &UdpLocal) -> Result<SocketAddr> {
        let (ifname, port) = match local {
            UdpLocal::Address(addr) => return Ok(*addr),
            UdpLocal::Interface { ifname, port } => (ifname, *port),
        };
        let handle = Handle::new(&self.namespace)?;
        let link = handle.link(ifname.as_str())?;
        let mut addresses = handle.addresses(Some(link.index))?;
        addresses.sort_by_key(|a| (a.net.addr().is_ipv6(), a.net.addr().is_loopback()));
        let address = addresses.into_iter().find(|a| {
            !a.net.addr().is_loopback()
                && !matches!(a.net.addr(), std::net::IpAddr::V6(v6) if v6.is_unicast_link_local())
        });
        address.map(|a| SocketAddr::new(a.net.addr(), port)).ok_or_else(|| Error::NotFound {
            op: Op::TipcBearer,
            object: format!(
                "an IP address on {ifname} in {} for its UDP bearer (give local=IP)",
                self.connection.namespace()
            ),
        })
    }

    /// Changes the link properties of an enabled bearer.
    ///
    /// Equivalent to: `tipc bearer set priority P tolerance T window W media eth device IF`.
    pub fn set_bearer_props(&self, name: &str, props: &BearerProps) -> Result<()> {
        props.validate()?;
        let attrs = vec![BearerAttr::Name(name.to_string()), BearerAttr::Prop(props.attrs())];
        self.change_bearer(TipcCmd::BearerSet, name, attrs)
    }

    /// Adds a unicast peer to a UDP bearer that already has one (replicast).
    ///
    /// Equivalent to: `tipc bearer add media udp name NAME remoteip IP remoteport PORT`.
    pub fn add_udp_remote(&self, name: &str, remote: SocketAddr) -> Result<()> {
        let attrs = vec![
            BearerAttr::Name(name.to_string()),
            BearerAttr::UdpOpts(vec![UdpAttr::Remote(remote)]),
        ];
        self.change_bearer(TipcCmd::BearerAdd, name, attrs)
    }

    /// Disables a bearer, taking its links down.
    ///
    /// Equivalent to: `tipc bearer disable media eth device IF`.
    pub fn disable_bearer(&self, name: &str) -> Result<()> {
        self.change_bearer(TipcCmd::BearerDisable, name, vec![BearerAttr::Name(name.to_string())])
    }

    fn change_bearer(&self, cmd: TipcCmd, name: &str, attrs: Vec<BearerAttr>) -> Result<()> {
        if self.bearer(name)?.is_none() {
            return Err(Error::NotFound {
                op: Op::TipcBearer,
                object: format!("bearer {name} in {}", self.connection.namespace()),
            });
        }
        self.connection.change(
            cmd,
            vec![TipcAttr::Bearer(attrs)],
            Op::TipcBearer,
            &format!("bearer {name}"),
        )
    }

    /// Lists the nodes this node knows, up or down.
    ///
    /// Equivalent to: `tipc node list`.
    pub fn peers(&self) -> Result<Vec<TipcPeer>> {
        let answers = self.connection.dump(TipcCmd::NodeGet, Op::TipcGet, "nodes")?;
        Ok(nests(answers, |attr| match attr {
            TipcAttr::Node(attrs) => Some(attrs),
            _ => None,
        })
        .map(|attrs| {
            let mut peer = TipcPeer { address: 0, up: false };
            for attr in attrs {
                match attr {
                    NodeAttr::Addr(address) => peer.address = address,
                    NodeAttr::Up => peer.up = true,
                    NodeAttr::Other(_) => {}
                }
            }
            peer
        })
        .collect())
    }

    /// Lists the links with their state, properties and counters, the broadcast link first.
    ///
    /// Equivalent to: `tipc link list` and `tipc link get ... statistics`.
    pub fn links(&self) -> Result<Vec<TipcLink>> {
        let config = self.config()?;
        let own = config.identity.map(|identity| link_name_part(&identity, config.address));
        let interfaces: Vec<String> = self
            .bearers()?
            .into_iter()
            .filter_map(|bearer| Some(bearer.name.split_once(':')?.1.to_string()))
            .collect();
        let answers = self.connection.dump(TipcCmd::LinkGet, Op::TipcGet, "links")?;
        Ok(nests(answers, |attr| match attr {
            TipcAttr::Link(attrs) => Some(attrs),
            _ => None,
        })
        .map(|attrs| {
            let mut link = TipcLink {
                name: String::new(),
                peer: None,
                broadcast: false,
                up: false,
                active: false,
                mtu: 0,
                props: BearerProps::default(),
                stats: LinkStats::default(),
            };
            let (mut rx, mut tx) = (0, 0);
            for attr in attrs {
                match attr {
                    LinkAttr::Name(name) => link.name = name,
                    LinkAttr::Mtu(mtu) => link.mtu = mtu,
                    LinkAttr::Broadcast => link.broadcast = true,
                    LinkAttr::Up => link.up = true,
                    LinkAttr::Active => link.active = true,
                    LinkAttr::Prop(props) => link.props = BearerProps::from_attrs(&props),
                    LinkAttr::Stats(pairs) => link.stats = LinkStats::from_pairs(&pairs),
                    LinkAttr::Rx(value) => rx = value,
                    LinkAttr::Tx(value) => tx = value,
                    // DEST holds the own address's cluster part, not the peer: the name tells the peer.
                    LinkAttr::Dest(_) | LinkAttr::Other(_) => {}
                }
            }
            // TIPC_NLA_LINK_RX/TX are the totals; the stats nest repeats them only on newer kernels.
            link.stats.rx_packets = link.stats.rx_packets.max(rx);
            link.stats.tx_packets = link.stats.tx_packets.max(tx);
            link.peer = own.as_deref().and_then(|own| link_peer(&link.name, own, &interfaces));
            link
        })
        .collect())
    }
}

impl std::fmt::Debug for TipcNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TipcNode").field("namespace", &self.connection.namespace()).finish()
    }
}

/// How a node appears in link names: its identity when it has at most 16 characters, otherwise
/// its 32-bit address in hex (as the kernel's `tipc_link_create` writes it).
pub fn link_name_part(identity: &NodeId, address: u32) -> String {
    let shown = identity.to_string();
    if shown.len() <= 16 { shown } else { format!("{address:x}") }
}

/// The peer part of a link name `<own>:<own if>-<peer>:<peer if>`, knowing the own part and
/// the bearer interfaces (both may contain '-').
fn link_peer(name: &str, own: &str, interfaces: &[String]) -> Option<String> {
    let rest = name.strip_prefix(own)?.strip_prefix(':')?;
    let peer = interfaces
        .iter()
        .find_map(|ifname| rest.strip_prefix(ifname.as_str())?.strip_prefix('-'))?;
    Some(peer.rsplit_once(':')?.0.to_string())
}

/// The nests of one kind in a run of answers.
fn nests<T>(
    answers: Vec<super::codec::TipcMessage>,
    pick: fn(TipcAttr) -> Option<Vec<T>>,
) -> impl Iterator<Item = Vec<T>> {
    answers.into_iter().flat_map(|answer| answer.attrs).filter_map(pick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_give_the_peer_even_with_dashes() {
        let ifs = vec!["veth-a".to_string(), "eth0".to_string()];
        assert_eq!(link_peer("web-1:eth0-db-2:eth0", "web-1", &ifs).as_deref(), Some("db-2"));
        assert_eq!(link_peer("a:veth-a-5f4aee9d:vb", "a", &ifs).as_deref(), Some("5f4aee9d"));
        assert_eq!(link_peer("broadcast-link", "a", &ifs), None);
        assert_eq!(link_peer("other:eth0-b:eth0", "a", &ifs), None);
    }

    #[test]
    fn long_identities_appear_as_their_address() {
        let long = NodeId::from_hex("121fde81fecbb528e29430a5510ab591").unwrap();
        assert_eq!(link_name_part(&long, 0x5f4a_ee9d), "5f4aee9d");
        assert_eq!(link_name_part(&"alpha".parse().unwrap(), 0x006c_7068), "alpha");
    }

    #[test]
    fn stats_pairs_fill_named_counters() {
        let s = LinkStats::from_pairs(&[(stats::RX_INFO, 7), (stats::RETRANSMITTED, 2), (99, 1)]);
        assert_eq!((s.rx_packets, s.retransmitted, s.tx_packets), (7, 2, 0));
    }
}
