//! The wire format of the "TIPCv2" generic-netlink family (`linux/tipc_netlink.h`).
//!
//! Only the commands and attributes pipework uses are typed; everything else is kept as
//! [`DefaultNla`] so that an answer from a newer kernel still parses. The kernel writes its
//! nests without `NLA_F_NESTED` (`nla_nest_start_noflag`), so nests are recognised by their
//! kind alone, and pipework writes them the same way, like iproute2's `tipc` does.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use netlink_packet_generic::{GenlFamily, GenlHeader};
use rtnetlink::packet_core::{
    DecodeError, DefaultNla, Emitable, NLA_TYPE_MASK, Nla, NlasIterator, ParseableParametrized,
    emit_u32, emit_u64, parse_string, parse_u32, parse_u64,
};

/// The family name the kernel registers (`TIPC_GENL_V2_NAME`).
pub const FAMILY_NAME: &str = "TIPCv2";
/// The family version (`TIPC_GENL_V2_VERSION`).
pub const FAMILY_VERSION: u8 = 1;

/// A TIPCv2 command (`TIPC_NL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipcCmd {
    /// `TIPC_NL_BEARER_DISABLE` (2).
    BearerDisable,
    /// `TIPC_NL_BEARER_ENABLE` (3).
    BearerEnable,
    /// `TIPC_NL_BEARER_GET` (4), a dump of the bearers.
    BearerGet,
    /// `TIPC_NL_BEARER_SET` (5): priority, tolerance and window of an enabled bearer.
    BearerSet,
    /// `TIPC_NL_LINK_GET` (8), a dump of the links.
    LinkGet,
    /// `TIPC_NL_NODE_GET` (13), a dump of the known nodes.
    NodeGet,
    /// `TIPC_NL_NET_GET` (14): network id and node identity.
    NetGet,
    /// `TIPC_NL_NET_SET` (15): network id, node identity or legacy address.
    NetSet,
    /// `TIPC_NL_BEARER_ADD` (21): another unicast peer for a UDP bearer.
    BearerAdd,
    /// `TIPC_NL_ADDR_LEGACY_GET` (25): the node's 32-bit address (hash or legacy Z.C.N).
    AddrLegacyGet,
    /// Any other command number.
    Other(u8),
}

impl From<TipcCmd> for u8 {
    fn from(cmd: TipcCmd) -> u8 {
        match cmd {
            TipcCmd::BearerDisable => 2,
            TipcCmd::BearerEnable => 3,
            TipcCmd::BearerGet => 4,
            TipcCmd::BearerSet => 5,
            TipcCmd::LinkGet => 8,
            TipcCmd::NodeGet => 13,
            TipcCmd::NetGet => 14,
            TipcCmd::NetSet => 15,
            TipcCmd::BearerAdd => 21,
            TipcCmd::AddrLegacyGet => 25,
            TipcCmd::Other(cmd) => cmd,
        }
    }
}

impl From<u8> for TipcCmd {
    fn from(cmd: u8) -> TipcCmd {
        match cmd {
            2 => TipcCmd::BearerDisable,
            3 => TipcCmd::BearerEnable,
            4 => TipcCmd::BearerGet,
            5 => TipcCmd::BearerSet,
            8 => TipcCmd::LinkGet,
            13 => TipcCmd::NodeGet,
            14 => TipcCmd::NetGet,
            15 => TipcCmd::NetSet,
            21 => TipcCmd::BearerAdd,
            25 => TipcCmd::AddrLegacyGet,
            other => TipcCmd::Other(other),
        }
    }
}

/// A top-level TIPCv2 attribute (`TIPC_NLA_*`), each a nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TipcAttr {
    /// `TIPC_NLA_BEARER` (1).
    Bearer(Vec<BearerAttr>),
    /// `TIPC_NLA_LINK` (4).
    Link(Vec<LinkAttr>),
    /// `TIPC_NLA_NODE` (6).
    Node(Vec<NodeAttr>),
    /// `TIPC_NLA_NET` (7).
    Net(Vec<NetAttr>),
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of the `TIPC_NLA_NET` nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetAttr {
    /// `TIPC_NLA_NET_ID` (1): the network (cluster) id, 1 to 9999.
    Id(u32),
    /// `TIPC_NLA_NET_ADDR` (2): the 32-bit node address (`z << 24 | c << 12 | n` when legacy).
    Addr(u32),
    /// `TIPC_NLA_NET_NODEID` (3): bytes 0..8 of the 128-bit identity, as a native-endian u64.
    NodeId(u64),
    /// `TIPC_NLA_NET_NODEID_W1` (4): bytes 8..16 of the identity, as a native-endian u64.
    NodeIdW1(u64),
    /// `TIPC_NLA_NET_ADDR_LEGACY` (5): the address was set in the legacy Z.C.N format.
    AddrLegacy,
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of the `TIPC_NLA_BEARER` nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerAttr {
    /// `TIPC_NLA_BEARER_NAME` (1): `eth:<ifname>`, `udp:<name>`, `ib:<ifname>`.
    Name(String),
    /// `TIPC_NLA_BEARER_PROP` (2).
    Prop(Vec<PropAttr>),
    /// `TIPC_NLA_BEARER_DOMAIN` (3).
    Domain(u32),
    /// `TIPC_NLA_BEARER_UDP_OPTS` (4).
    UdpOpts(Vec<UdpAttr>),
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of the `TIPC_NLA_BEARER_UDP_OPTS` nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpAttr {
    /// `TIPC_NLA_UDP_LOCAL` (1): a `sockaddr_in` or `sockaddr_in6`.
    Local(SocketAddr),
    /// `TIPC_NLA_UDP_REMOTE` (2): a `sockaddr_in` or `sockaddr_in6` (unicast peer or multicast group).
    Remote(SocketAddr),
    /// `TIPC_NLA_UDP_MULTI_REMOTEIP` (3): the bearer has several unicast peers.
    MultiRemoteIp,
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of a `*_PROP` nest: link properties of a bearer, a link or a medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropAttr {
    /// `TIPC_NLA_PROP_PRIO` (1): 0 to 31.
    Priority(u32),
    /// `TIPC_NLA_PROP_TOL` (2): link tolerance in ms.
    Tolerance(u32),
    /// `TIPC_NLA_PROP_WIN` (3): link window in packets.
    Window(u32),
    /// `TIPC_NLA_PROP_MTU` (4).
    Mtu(u32),
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of the `TIPC_NLA_LINK` nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAttr {
    /// `TIPC_NLA_LINK_NAME` (1): `<own id>:<if>-<peer id>:<if>`, or `broadcast-link`.
    Name(String),
    /// `TIPC_NLA_LINK_DEST` (2): despite its name, the cluster part (`addr & 0xfffff000`) of
    /// the *own* node's address on current kernels; the link name identifies the peer.
    Dest(u32),
    /// `TIPC_NLA_LINK_MTU` (3).
    Mtu(u32),
    /// `TIPC_NLA_LINK_BROADCAST` (4): this is the broadcast link.
    Broadcast,
    /// `TIPC_NLA_LINK_UP` (5): the link is up.
    Up,
    /// `TIPC_NLA_LINK_ACTIVE` (6): the link carries traffic.
    Active,
    /// `TIPC_NLA_LINK_PROP` (7).
    Prop(Vec<PropAttr>),
    /// `TIPC_NLA_LINK_STATS` (8): `(TIPC_NLA_STATS_* kind, value)` pairs.
    Stats(Vec<(u16, u32)>),
    /// `TIPC_NLA_LINK_RX` (9): packets received.
    Rx(u32),
    /// `TIPC_NLA_LINK_TX` (10): packets sent.
    Tx(u32),
    /// Any other attribute.
    Other(DefaultNla),
}

/// An attribute of the `TIPC_NLA_NODE` nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAttr {
    /// `TIPC_NLA_NODE_ADDR` (1): the node's 32-bit address.
    Addr(u32),
    /// `TIPC_NLA_NODE_UP` (2): the node is reachable.
    Up,
    /// Any other attribute.
    Other(DefaultNla),
}

/// The `TIPC_NLA_STATS_*` kinds pipework reads.
pub mod stats {
    /// Packets received (`TIPC_NLA_STATS_RX_INFO`).
    pub const RX_INFO: u16 = 1;
    /// Fragments received.
    pub const RX_FRAGMENTS: u16 = 2;
    /// Bundles received.
    pub const RX_BUNDLES: u16 = 4;
    /// Packets sent (`TIPC_NLA_STATS_TX_INFO`).
    pub const TX_INFO: u16 = 6;
    /// Fragments sent.
    pub const TX_FRAGMENTS: u16 = 7;
    /// Bundles sent.
    pub const TX_BUNDLES: u16 = 9;
    /// State messages received.
    pub const RX_STATES: u16 = 21;
    /// Probes received.
    pub const RX_PROBES: u16 = 22;
    /// NACKs received.
    pub const RX_NACKS: u16 = 23;
    /// State messages sent.
    pub const TX_STATES: u16 = 25;
    /// Probes sent.
    pub const TX_PROBES: u16 = 26;
    /// NACKs sent.
    pub const TX_NACKS: u16 = 27;
    /// Packets retransmitted.
    pub const RETRANSMITTED: u16 = 29;
    /// Duplicate packets received.
    pub const DUPLICATES: u16 = 30;
    /// Link congestion events.
    pub const LINK_CONGS: u16 = 31;
    /// Largest send queue seen.
    pub const MAX_QUEUE: u16 = 32;
    /// Average send queue.
    pub const AVG_QUEUE: u16 = 33;
}

/// One TIPCv2 message: a command and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipcMessage {
    /// The command (the generic-netlink header's `cmd`).
    pub cmd: TipcCmd,
    /// The top-level attributes.
    pub attrs: Vec<TipcAttr>,
}

impl GenlFamily for TipcMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for TipcMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for TipcMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(TipcMessage { cmd: header.cmd.into(), attrs: parse_nests(buf, TipcAttr::parse)? })
    }
}

/// Parses a run of attributes with `parse`, one per attribute.
fn parse_nests<T>(
    buf: &[u8],
    parse: fn(u16, &[u8]) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    NlasIterator::new(buf)
        .map(|nla| {
            let nla = nla?;
            parse(nla.kind() & NLA_TYPE_MASK, nla.value())
        })
        .collect()
}

/// Keeps an attribute pipework does not type, as the kernel sent it.
fn other(kind: u16, value: &[u8]) -> DefaultNla {
    DefaultNla::new(kind, value.to_vec())
}

fn emit_nest<T: Nla>(buffer: &mut [u8], attrs: &[T]) {
    attrs.emit(buffer)
}

fn emit_string(buffer: &mut [u8], text: &str) {
    buffer[..text.len()].copy_from_slice(text.as_bytes());
    buffer[text.len()] = 0;
}

fn write_u32(buffer: &mut [u8], value: u32) {
    emit_u32(buffer, value).expect("the buffer is sized by value_len");
}

fn write_u64(buffer: &mut [u8], value: u64) {
    emit_u64(buffer, value).expect("the buffer is sized by value_len");
}

impl Nla for TipcAttr {
    fn value_len(&self) -> usize {
        match self {
            TipcAttr::Bearer(attrs) => attrs.as_slice().buffer_len(),
            TipcAttr::Link(attrs) => attrs.as_slice().buffer_len(),
            TipcAttr::Node(attrs) => attrs.as_slice().buffer_len(),
            TipcAttr::Net(attrs) => attrs.as_slice().buffer_len(),
            TipcAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            TipcAttr::Bearer(_) => 1,
            TipcAttr::Link(_) => 4,
            TipcAttr::Node(_) => 6,
            TipcAttr::Net(_) => 7,
            TipcAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            TipcAttr::Bearer(attrs) => emit_nest(buffer, attrs),
            TipcAttr::Link(attrs) => emit_nest(buffer, attrs),
            TipcAttr::Node(attrs) => emit_nest(buffer, attrs),
            TipcAttr::Net(attrs) => emit_nest(buffer, attrs),
            TipcAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl TipcAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => TipcAttr::Bearer(parse_nests(value, BearerAttr::parse)?),
            4 => TipcAttr::Link(parse_nests(value, LinkAttr::parse)?),
            6 => TipcAttr::Node(parse_nests(value, NodeAttr::parse)?),
            7 => TipcAttr::Net(parse_nests(value, NetAttr::parse)?),
            _ => TipcAttr::Other(other(kind, value)),
        })
    }
}

impl Nla for NetAttr {
    fn value_len(&self) -> usize {
        match self {
            NetAttr::Id(_) | NetAttr::Addr(_) => 4,
            NetAttr::NodeId(_) | NetAttr::NodeIdW1(_) => 8,
            NetAttr::AddrLegacy => 0,
            NetAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            NetAttr::Id(_) => 1,
            NetAttr::Addr(_) => 2,
            NetAttr::NodeId(_) => 3,
            NetAttr::NodeIdW1(_) => 4,
            NetAttr::AddrLegacy => 5,
            NetAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            NetAttr::Id(value) | NetAttr::Addr(value) => write_u32(buffer, *value),
            NetAttr::NodeId(value) | NetAttr::NodeIdW1(value) => write_u64(buffer, *value),
            NetAttr::AddrLegacy => {}
            NetAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl NetAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => NetAttr::Id(parse_u32(value)?),
            2 => NetAttr::Addr(parse_u32(value)?),
            3 => NetAttr::NodeId(parse_u64(value)?),
            4 => NetAttr::NodeIdW1(parse_u64(value)?),
            5 => NetAttr::AddrLegacy,
            _ => NetAttr::Other(other(kind, value)),
        })
    }
}

impl Nla for BearerAttr {
    fn value_len(&self) -> usize {
        match self {
            BearerAttr::Name(name) => name.len() + 1,
            BearerAttr::Prop(attrs) => attrs.as_slice().buffer_len(),
            BearerAttr::Domain(_) => 4,
            BearerAttr::UdpOpts(attrs) => attrs.as_slice().buffer_len(),
            BearerAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            BearerAttr::Name(_) => 1,
            BearerAttr::Prop(_) => 2,
            BearerAttr::Domain(_) => 3,
            BearerAttr::UdpOpts(_) => 4,
            BearerAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            BearerAttr::Name(name) => emit_string(buffer, name),
            BearerAttr::Prop(attrs) => emit_nest(buffer, attrs),
            BearerAttr::Domain(value) => write_u32(buffer, *value),
            BearerAttr::UdpOpts(attrs) => emit_nest(buffer, attrs),
            BearerAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl BearerAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => BearerAttr::Name(parse_string(value)?),
            2 => BearerAttr::Prop(parse_nests(value, PropAttr::parse)?),
            3 => BearerAttr::Domain(parse_u32(value)?),
            4 => BearerAttr::UdpOpts(parse_nests(value, UdpAttr::parse)?),
            _ => BearerAttr::Other(other(kind, value)),
        })
    }
}

/// `sizeof(struct sockaddr_in)` and `sizeof(struct sockaddr_in6)`.
const SOCKADDR_IN_LEN: usize = 16;
const SOCKADDR_IN6_LEN: usize = 28;

fn sockaddr_len(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() { SOCKADDR_IN_LEN } else { SOCKADDR_IN6_LEN }
}

/// Writes a `sockaddr_in`/`sockaddr_in6`: native-endian family, network-order port and address.
fn emit_sockaddr(buffer: &mut [u8], addr: &SocketAddr) {
    buffer[..sockaddr_len(addr)].fill(0);
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 } as u16;
    buffer[0..2].copy_from_slice(&family.to_ne_bytes());
    buffer[2..4].copy_from_slice(&addr.port().to_be_bytes());
    match addr {
        SocketAddr::V4(v4) => buffer[4..8].copy_from_slice(&v4.ip().octets()),
        SocketAddr::V6(v6) => {
            buffer[4..8].copy_from_slice(&v6.flowinfo().to_be_bytes());
            buffer[8..24].copy_from_slice(&v6.ip().octets());
            buffer[24..28].copy_from_slice(&v6.scope_id().to_ne_bytes());
        }
    }
}

fn parse_sockaddr(value: &[u8]) -> Result<SocketAddr, DecodeError> {
    let too_short = || DecodeError::from(format!("sockaddr of {} bytes", value.len()));
    let family = u16::from_ne_bytes(value.get(0..2).ok_or_else(too_short)?.try_into().unwrap());
    let port = u16::from_be_bytes(value.get(2..4).ok_or_else(too_short)?.try_into().unwrap());
    match i32::from(family) {
        libc::AF_INET => {
            let octets: [u8; 4] = value.get(4..8).ok_or_else(too_short)?.try_into().unwrap();
            Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(octets), port)))
        }
        libc::AF_INET6 => {
            let bytes = value.get(4..28).ok_or_else(too_short)?;
            let flowinfo = u32::from_be_bytes(bytes[0..4].try_into().unwrap());
            let octets: [u8; 16] = bytes[4..20].try_into().unwrap();
            let scope = u32::from_ne_bytes(bytes[20..24].try_into().unwrap());
            Ok(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, flowinfo, scope)))
        }
        other => Err(DecodeError::from(format!("sockaddr of unknown family {other}"))),
    }
}

impl Nla for UdpAttr {
    fn value_len(&self) -> usize {
        match self {
            UdpAttr::Local(addr) | UdpAttr::Remote(addr) => sockaddr_len(addr),
            UdpAttr::MultiRemoteIp => 0,
            UdpAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            UdpAttr::Local(_) => 1,
            UdpAttr::Remote(_) => 2,
            UdpAttr::MultiRemoteIp => 3,
            UdpAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            UdpAttr::Local(addr) | UdpAttr::Remote(addr) => emit_sockaddr(buffer, addr),
            UdpAttr::MultiRemoteIp => {}
            UdpAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl UdpAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => UdpAttr::Local(parse_sockaddr(value)?),
            2 => UdpAttr::Remote(parse_sockaddr(value)?),
            3 => UdpAttr::MultiRemoteIp,
            _ => UdpAttr::Other(other(kind, value)),
        })
    }
}

impl Nla for PropAttr {
    fn value_len(&self) -> usize {
        match self {
            PropAttr::Other(nla) => nla.value_len(),
            _ => 4,
        }
    }

    fn kind(&self) -> u16 {
        match self {
            PropAttr::Priority(_) => 1,
            PropAttr::Tolerance(_) => 2,
            PropAttr::Window(_) => 3,
            PropAttr::Mtu(_) => 4,
            PropAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            PropAttr::Priority(value)
            | PropAttr::Tolerance(value)
            | PropAttr::Window(value)
            | PropAttr::Mtu(value) => write_u32(buffer, *value),
            PropAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl PropAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => PropAttr::Priority(parse_u32(value)?),
            2 => PropAttr::Tolerance(parse_u32(value)?),
            3 => PropAttr::Window(parse_u32(value)?),
            4 => PropAttr::Mtu(parse_u32(value)?),
            _ => PropAttr::Other(other(kind, value)),
        })
    }
}

impl Nla for LinkAttr {
    fn value_len(&self) -> usize {
        match self {
            LinkAttr::Name(name) => name.len() + 1,
            LinkAttr::Dest(_) | LinkAttr::Mtu(_) | LinkAttr::Rx(_) | LinkAttr::Tx(_) => 4,
            LinkAttr::Broadcast | LinkAttr::Up | LinkAttr::Active => 0,
            LinkAttr::Prop(attrs) => attrs.as_slice().buffer_len(),
            LinkAttr::Stats(stats) => stats.len() * 8,
            LinkAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            LinkAttr::Name(_) => 1,
            LinkAttr::Dest(_) => 2,
            LinkAttr::Mtu(_) => 3,
            LinkAttr::Broadcast => 4,
            LinkAttr::Up => 5,
            LinkAttr::Active => 6,
            LinkAttr::Prop(_) => 7,
            LinkAttr::Stats(_) => 8,
            LinkAttr::Rx(_) => 9,
            LinkAttr::Tx(_) => 10,
            LinkAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            LinkAttr::Name(name) => emit_string(buffer, name),
            LinkAttr::Dest(value)
            | LinkAttr::Mtu(value)
            | LinkAttr::Rx(value)
            | LinkAttr::Tx(value) => write_u32(buffer, *value),
            LinkAttr::Broadcast | LinkAttr::Up | LinkAttr::Active => {}
            LinkAttr::Prop(attrs) => emit_nest(buffer, attrs),
            LinkAttr::Stats(stats) => {
                let nlas: Vec<DefaultNla> = stats
                    .iter()
                    .map(|(kind, value)| DefaultNla::new(*kind, value.to_ne_bytes().to_vec()))
                    .collect();
                emit_nest(buffer, &nlas)
            }
            LinkAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl LinkAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => LinkAttr::Name(parse_string(value)?),
            2 => LinkAttr::Dest(parse_u32(value)?),
            3 => LinkAttr::Mtu(parse_u32(value)?),
            4 => LinkAttr::Broadcast,
            5 => LinkAttr::Up,
            6 => LinkAttr::Active,
            7 => LinkAttr::Prop(parse_nests(value, PropAttr::parse)?),
            8 => LinkAttr::Stats(parse_nests(value, |kind, value| Ok((kind, parse_u32(value)?)))?),
            9 => LinkAttr::Rx(parse_u32(value)?),
            10 => LinkAttr::Tx(parse_u32(value)?),
            _ => LinkAttr::Other(other(kind, value)),
        })
    }
}

impl Nla for NodeAttr {
    fn value_len(&self) -> usize {
        match self {
            NodeAttr::Addr(_) => 4,
            NodeAttr::Up => 0,
            NodeAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            NodeAttr::Addr(_) => 1,
            NodeAttr::Up => 2,
            NodeAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            NodeAttr::Addr(value) => write_u32(buffer, *value),
            NodeAttr::Up => {}
            NodeAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl NodeAttr {
    fn parse(kind: u16, value: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            1 => NodeAttr::Addr(parse_u32(value)?),
            2 => NodeAttr::Up,
            _ => NodeAttr::Other(other(kind, value)),
        })
    }
}

/// Golden bytes: answers captured from Debian's 6.1 kernel in the VM (`TIPCv2` had family id
/// 0x20 there) and requests that kernel accepted.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use netlink_packet_generic::GenlMessage;
    use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Every TIPC message in a receive buffer, as the connection reads them.
    fn parse_all(buffer: &[u8]) -> Vec<TipcMessage> {
        let mut rest = buffer;
        let mut messages = Vec::new();
        while !rest.is_empty() {
            let message = NetlinkMessage::<GenlMessage<TipcMessage>>::deserialize(rest).unwrap();
            let length = message.header.length as usize;
            if let NetlinkPayload::InnerMessage(genl) = message.payload {
                assert_eq!(genl.resolved_family_id(), 0x20);
                messages.push(genl.payload);
            }
            rest = &rest[length.next_multiple_of(4)..];
        }
        messages
    }

    fn request(cmd: TipcCmd, attrs: Vec<TipcAttr>, sequence: u32) -> Vec<u8> {
        let mut genl = GenlMessage::from_payload(TipcMessage { cmd, attrs });
        genl.set_resolved_family_id(0x20);
        let mut message =
            NetlinkMessage::new(Default::default(), NetlinkPayload::InnerMessage(genl));
        message.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        message.header.sequence_number = sequence;
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn net_get_answer_carries_net_id_and_identity() {
        let answer = hex(
            "380000002000020019000000810000000e01000024000700080001002a0000000c000300616c7068610000000c0004000000000000000000",
        );
        let messages = parse_all(&answer);
        assert_eq!(messages[0].cmd, TipcCmd::NetGet);
        let alpha = u64::from_ne_bytes(*b"alpha\0\0\0");
        assert_eq!(
            messages[0].attrs,
            [TipcAttr::Net(vec![NetAttr::Id(42), NetAttr::NodeId(alpha), NetAttr::NodeIdW1(0)])]
        );
    }

    #[test]
    fn addr_legacy_answer_is_a_flagged_nest_with_the_legacy_flag() {
        // This one nest comes with NLA_F_NESTED; the others without.
        let answer = hex("1c000000200000000e00000081000000190100000800078004000500");
        assert_eq!(parse_all(&answer)[0].attrs, [TipcAttr::Net(vec![NetAttr::AddrLegacy])]);
    }

    #[test]
    fn bearer_dump_answer() {
        let answer = hex(
            "40000000200002001e00000081000000040100002c0001000b0001006574683a766100001c000200080001000c00000008000200e80300000800030064000000",
        );
        assert_eq!(
            parse_all(&answer)[0].attrs,
            [TipcAttr::Bearer(vec![
                BearerAttr::Name("eth:va".into()),
                BearerAttr::Prop(vec![
                    PropAttr::Priority(12),
                    PropAttr::Tolerance(1000),
                    PropAttr::Window(100)
                ]),
            ])]
        );
    }

    #[test]
    fn node_dump_answer() {
        let answer =
            hex("24000000200002001f000000810000000d01000010000600080001009dee4a5f04000200");
        assert_eq!(
            parse_all(&answer)[0].attrs,
            [TipcAttr::Node(vec![NodeAttr::Addr(0x5f4a_ee9d), NodeAttr::Up])]
        );
    }

    #[test]
    fn link_dump_answer_with_two_messages_in_one_buffer() {
        let answer = hex(concat!(
            "fc00000020000200200000008100000008010000e800040004000500040004001300010062726f6164636173742d6c696e6b0000080009000000000008000a00000000001c00070008000300320000000800050004000000080006000a0000009c00080008000100000000000800020000000000080003000000000008000400000000000800050000000000080006000000000008000700000000000800080000000000080009000000000008000a00000000000800170000000000080018000000000008001b000000000008001c000000000008001d000000000008001e000000000008001f000000000008002000000000000800210000000000",
            "8c010000200002002000000081000000080100007801040019000100616c7068613a76612d35663461656539643a7662000000000800020000706c0008000300dc050000080009000200000008000a0002000000040005000400060024000700080001000c00000008000200e80300000800030032000000080001000c0000000c01080008000100000000000800020000000000080003000000000008000400000000000800050000000000080006000000000008000700000000000800080000000000080009000000000008000a000000000008000b000100000008000c000100000008000d002800000008000e000100000008000f0000000000080010000000000008001100000000000800120000000000080013000000000008001400000000000800150009000000080016000200000008001700000000000800180000000000080019000900000008001a000500000008001b000000000008001c000100000008001d000000000008001e000000000008001f000000000008002000000000000800210000000000",
        ));
        let messages = parse_all(&answer);
        assert_eq!(messages.len(), 2);
        let TipcAttr::Link(broadcast) = &messages[0].attrs[0] else { panic!("{messages:?}") };
        assert!(broadcast.contains(&LinkAttr::Broadcast) && broadcast.contains(&LinkAttr::Up));
        assert!(broadcast.contains(&LinkAttr::Name("broadcast-link".into())));
        let TipcAttr::Link(link) = &messages[1].attrs[0] else { panic!("{messages:?}") };
        assert_eq!(link[0], LinkAttr::Name("alpha:va-5f4aee9d:vb".into()));
        // DEST is the own address's cluster part (0x006c7068 & 0xfffff000), not the peer.
        assert_eq!(link[1], LinkAttr::Dest(0x006c_7000));
        for expected in
            [LinkAttr::Mtu(1500), LinkAttr::Rx(2), LinkAttr::Tx(2), LinkAttr::Up, LinkAttr::Active]
        {
            assert!(link.contains(&expected), "{expected:?} in {link:?}");
        }
        // 6.1 writes the priority twice.
        assert!(link.contains(&LinkAttr::Prop(vec![
            PropAttr::Priority(12),
            PropAttr::Tolerance(1000),
            PropAttr::Window(50),
            PropAttr::Priority(12)
        ])));
        let stats_of = |kind| {
            link.iter()
                .find_map(|attr| match attr {
                    LinkAttr::Stats(pairs) => {
                        pairs.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
                    }
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!((stats_of(stats::RX_STATES), stats_of(stats::TX_STATES)), (9, 9));
        assert_eq!((stats_of(stats::RX_PROBES), stats_of(stats::TX_PROBES)), (2, 5));
    }

    #[test]
    fn parsed_answers_emit_the_same_bytes() {
        let answer = hex(
            "40000000200002001e00000081000000040100002c0001000b0001006574683a766100001c000200080001000c00000008000200e80300000800030064000000",
        );
        let message = &parse_all(&answer)[0];
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        assert_eq!(bytes, answer[20..]);
    }

    #[test]
    fn requests_the_kernel_accepted() {
        let other = u64::from_ne_bytes(*b"other\0\0\0");
        assert_eq!(
            request(
                TipcCmd::NetSet,
                vec![TipcAttr::Net(vec![NetAttr::NodeId(other), NetAttr::NodeIdW1(0)])],
                4
            ),
            hex(
                "300000002000050004000000000000000f0100001c0007000c0003006f746865720000000c0004000000000000000000"
            )
        );
        assert_eq!(
            request(TipcCmd::NetSet, vec![TipcAttr::Net(vec![NetAttr::Addr(0x0100_1001)])], 9),
            hex("200000002000050009000000000000000f0100000c0007000800020001100001")
        );
        assert_eq!(
            request(
                TipcCmd::BearerEnable,
                vec![TipcAttr::Bearer(vec![BearerAttr::Name("eth:eth0".into())])],
                12
            ),
            hex("28000000200005000c0000000000000003010000140001000d0001006574683a6574683000000000")
        );
    }

    #[test]
    fn udp_options_are_sockaddrs() {
        let local: SocketAddr = "10.0.0.1:6118".parse().unwrap();
        let remote: SocketAddr = "[ff02::4711]:6118".parse().unwrap();
        let attrs = vec![UdpAttr::Local(local), UdpAttr::Remote(remote), UdpAttr::MultiRemoteIp];
        let nest = BearerAttr::UdpOpts(attrs.clone());
        let mut bytes = vec![0; nest.buffer_len()];
        nest.emit(&mut bytes);
        // sockaddr_in: family 2 (host order), port 6118 big-endian, address.
        assert_eq!(&bytes[8..16], &[2, 0, 0x17, 0xe6, 10, 0, 0, 1]);
        assert_eq!(parse_nests(&bytes[4..], UdpAttr::parse).unwrap(), attrs);
    }

    #[test]
    fn unknown_attributes_are_kept() {
        let bytes = hex("0c006300010000000200000010000100080009000700000004000700");
        let attrs = parse_nests(&bytes, TipcAttr::parse).unwrap();
        assert!(matches!(&attrs[0], TipcAttr::Other(nla) if nla.kind() == 0x63));
        assert_eq!(
            attrs[1],
            TipcAttr::Bearer(vec![
                BearerAttr::Other(DefaultNla::new(9, vec![7, 0, 0, 0])),
                BearerAttr::Other(DefaultNla::new(7, vec![])),
            ])
        );
    }
}
