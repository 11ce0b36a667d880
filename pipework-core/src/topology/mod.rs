//! Declarative topologies: a lab of nodes and links, read from containerlab's file format (YAML
//! or JSON), planned against what a previous apply of the same lab made, applied as one
//! transaction and destroyed (see `apply.rs`).
//!
//! What is read here (containerlab's schema, for what applies): `name`, `topology.nodes` of
//! `kind: linux` (a named network namespace `clab-<lab>-<node>`, or an existing guest with
//! `pipework: {guest: TARGET}`), `kind: bridge` (a Linux bridge of the node's name in the host
//! namespace), `kind: ovs-bridge` (an Open vSwitch bridge of that name) and `kind: host`; `topology.links` in the brief format (`endpoints: ["a:eth1",
//! "b:eth1"]`, with containerlab's `host:IF` and `macvlan:PARENT` endpoints) or the extended one
//! (`type: veth|host|macvlan`), with `mtu`; under a link's `pipework:` key each endpoint's
//! `addresses`, `gateway`, `routes`, `mac`, `netem` impairments and a bridge port's access
//! `vlan`; and the file's own `pipework: {tunnels: [...]}`.
//! Unknown keys are errors naming the key and its line.

mod apply;
mod leases;

use std::collections::{BTreeMap, HashSet};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

pub use self::apply::{
    Applied, LabState, LabStatus, Plan, Present, Step, apply, destroy, labs, plan, running_part,
    status,
};
pub use self::leases::EndLease;
use crate::{
    error::{Error, Result},
    link::validate_ifname,
};

/// A lab as a file describes it, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// The lab's name (containerlab's `name`).
    pub name: String,
    /// The nodes by name.
    pub nodes: BTreeMap<String, NodeKind>,
    /// The links, in file order.
    pub links: Vec<LinkSpec>,
    /// The VXLAN tunnels of bridge nodes to other hosts (pipework's `tunnels`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<TunnelSpec>,
    /// The TIPC bus over some of the linux nodes (pipework's `tipc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipc: Option<TipcSpec>,
}

/// A TIPC bus over linux nodes of the lab: one network id, one bearer, identities derived
/// from the nodes' namespace names (what `pipework tipc GUEST...` makes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipcSpec {
    /// The member nodes, in the file's order.
    pub nodes: Vec<String>,
    /// The network id, bearer and wait for links.
    pub bus: crate::tipc::TipcBus,
}

impl TipcSpec {
    /// The same bus over the members that are not in `others`.
    pub fn without(&self, others: &[String]) -> TipcSpec {
        let nodes = self.nodes.iter().filter(|node| !others.contains(node)).cloned().collect();
        TipcSpec { nodes, bus: self.bus.clone() }
    }
}

/// A bridge node's VXLAN port `vx<VNI>` to other hosts, flooding to every remote (what
/// `--vxlan VNI@REMOTE,...` gives an attach's bridge), made and removed with the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelSpec {
    /// The bridge node it is a port of.
    pub bridge: String,
    /// The VNI, remotes, underlay device and port.
    pub uplink: crate::VxlanUplink,
}

/// What a node is on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A `linux` node: the named network namespace apply creates and destroy removes.
    Namespace {
        /// Its name under /run/netns (`clab-<lab>-<node>`).
        netns: String,
    },
    /// A `linux` node that names an existing guest (`pipework: {guest: TARGET}`).
    Guest {
        /// Any target `resolve` accepts.
        target: String,
    },
    /// A `bridge` node: a Linux bridge of the node's name in the host namespace.
    Bridge,
    /// An `ovs-bridge` node: an Open vSwitch bridge of the node's name, its ports veths of
    /// the host namespace.
    OvsBridge,
    /// The host namespace itself (`kind: host`, or the `host` of a `host:IF` endpoint): the
    /// end there is a veth of that name on no bridge.
    Host,
    /// The `macvlan` of a `macvlan:PARENT` endpoint: the other end is a bridge-mode macvlan on
    /// PARENT, a device of the host namespace, born in the other node.
    Macvlan,
}

impl NodeKind {
    /// Whether the node's ends are in the host namespace (a bridge port, a host veth, a
    /// macvlan's parent), not in a linux node.
    pub fn in_host(&self) -> bool {
        matches!(self, NodeKind::Bridge | NodeKind::OvsBridge | NodeKind::Host | NodeKind::Macvlan)
    }
}

/// The node name containerlab gives the host namespace in `host:IF` endpoints.
pub const HOST_NODE: &str = "host";
/// The node name of `macvlan:PARENT` endpoints.
pub const MACVLAN_NODE: &str = "macvlan";

/// A route an end adds in its node, out of its interface (pipework's extension).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndRoute {
    /// The destination (`0.0.0.0/0` or `::/0` for the default route a `gateway` gives).
    pub destination: IpNet,
    /// The next hop.
    pub via: std::net::IpAddr,
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct End {
    /// The node it is on.
    pub node: String,
    /// The interface name (on a bridge node: the host-side port's name).
    pub ifname: String,
    /// Its addresses (pipework's extension).
    pub addresses: Vec<IpNet>,
    /// The routes it adds in its node, out of this interface (pipework's extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<EndRoute>,
    /// Its MAC; the kernel's random one when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<crate::MacAddr>,
    /// The impairments of what it sends (pipework's `netem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netem: Option<crate::Netem>,
    /// On a bridge node: the VLAN the port is an access port of (pipework's `vlan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// On a linux node: the DHCP word of the command (`dhcp`, `dhcp:-f`, `udhcpc-f`, ...)
    /// whose lease the end gets once it is up (pipework's `dhcp`), checked when the file is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<String>,
}

impl End {
    /// The DHCP request of the end, if it has one.
    pub fn dhcp_spec(&self) -> Result<Option<crate::dhcp::DhcpSpec>> {
        self.dhcp.as_deref().map(|word| crate::dhcp::DhcpSpec::parse_word("dhcp", word)).transpose()
    }
}

/// A veth pair between two ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkSpec {
    /// The two ends, as the file lists them.
    pub ends: [End; 2],
    /// The MTU of both ends; the kernel's default when `None`.
    pub mtu: Option<u32>,
    /// A macvlan link's mode (containerlab's extended `mode`); bridge when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::MacvlanMode>,
    /// On a `macvlan:PARENT` link: an ipvlan child of this mode instead of a macvlan
    /// (pipework's `ipvlan`), for a parent that takes one MAC only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvlan: Option<crate::IpvlanMode>,
}

impl LinkSpec {
    /// The link's identity in its lab: `a:eth1 -- b:eth1`.
    pub fn key(&self) -> String {
        format!(
            "{}:{} -- {}:{}",
            self.ends[0].node, self.ends[0].ifname, self.ends[1].node, self.ends[1].ifname
        )
    }
}

impl Topology {
    /// Reads a topology file's text (YAML, or JSON, which YAML includes); `source` names it in
    /// errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|err| {
            let first = err.to_string().lines().next().unwrap_or_default().to_string();
            Error::invalid("topology file", source, first.trim_start_matches("error: ").to_string())
        })?;
        raw.check(source)
    }

    /// Reads the topology file at `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let op = crate::error::Op::ReadFile;
        let text = std::fs::read_to_string(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound { op, object: format!("topology file {}", path.display()) }
            }
            _ => Error::io(op, format!("topology file {}", path.display()), &err),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The same lab under another name (its namespaces renamed with it), so that several
    /// copies of one file can be applied at once (a test harness's parallel tests).
    pub fn renamed(&self, name: &str) -> Result<Self> {
        validate_lab_name(name).map_err(|why| Error::invalid("lab name", name, why))?;
        let mut renamed = self.clone();
        renamed.name = name.to_string();
        for (node, kind) in &mut renamed.nodes {
            if let NodeKind::Namespace { netns } = kind {
                *netns = namespace_name(name, node);
            }
        }
        Ok(renamed)
    }

    /// A lab of nothing: what a destroy plans towards.
    pub fn empty(lab: &str) -> Self {
        Topology {
            name: lab.to_string(),
            nodes: BTreeMap::new(),
            links: Vec::new(),
            tunnels: Vec::new(),
            tipc: None,
        }
    }

    /// The namespace name of node `node`, when apply creates it.
    pub fn netns_of(&self, node: &str) -> Option<&str> {
        match self.nodes.get(node) {
            Some(NodeKind::Namespace { netns }) => Some(netns),
            _ => None,
        }
    }
}

/// The name of the namespace of node `node` of lab `lab`: containerlab's `clab-<lab>-<node>`.
pub fn namespace_name(lab: &str, node: &str) -> String {
    format!("clab-{lab}-{node}")
}

/// A whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    topology: RawTopology,
    #[serde(default)]
    pipework: Option<RawFileExtensions>,
}

/// The file's `pipework:` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileExtensions {
    #[serde(default)]
    tunnels: Vec<Spanned<RawTunnel>>,
    #[serde(default)]
    tipc: Option<Spanned<RawTipc>>,
}

/// A TIPC bus: `{nodes: [a, b, c], bearer: eth:eth1, net_id: 4711, wait_links: 30}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTipc {
    nodes: Vec<String>,
    bearer: String,
    #[serde(default)]
    net_id: Option<u32>,
    /// Seconds to wait for every pair of members to have a link up; 0 does not wait.
    #[serde(default)]
    wait_links: Option<u64>,
}

impl RawTipc {
    /// The bus, checked against the lab's nodes and links; `at` names the file and line.
    fn check(
        self,
        at: &str,
        nodes: &BTreeMap<String, NodeKind>,
        links: &[LinkSpec],
    ) -> Result<TipcSpec> {
        let invalid = |field: &str, value: &str, why: String| {
            Error::invalid(field, value, format!("{at}: {why}"))
        };
        let bearer: crate::tipc::BearerSpec = self
            .bearer
            .parse()
            .map_err(|err: Error| invalid("tipc bearer", &self.bearer, err.to_string()))?;
        let mut bus = crate::tipc::TipcBus::new().bearer(bearer.clone());
        if let Some(net_id) = self.net_id {
            bus = bus.net_id(net_id);
        }
        if let Some(seconds) = self.wait_links {
            bus = bus.link_timeout((seconds > 0).then(|| std::time::Duration::from_secs(seconds)));
        }
        bus.validate().map_err(|err| invalid("tipc", "", err.to_string()))?;
        if self.nodes.is_empty() {
            return Err(invalid("tipc nodes", "", "a bus needs at least one node".into()));
        }
        for (position, node) in self.nodes.iter().enumerate() {
            match nodes.get(node) {
                Some(NodeKind::Namespace { .. } | NodeKind::Guest { .. }) => {}
                Some(_) => return Err(invalid("tipc nodes", node, "is no linux node".into())),
                None => return Err(invalid("tipc nodes", node, "no node is called so".into())),
            }
            if self.nodes[..position].contains(node) {
                return Err(invalid("tipc nodes", node, "is listed twice".into()));
            }
            if let crate::tipc::BearerSpec::Eth { ifname } = &bearer
                && !links
                    .iter()
                    .flat_map(|link| &link.ends)
                    .any(|end| end.node == *node && end.ifname == *ifname)
            {
                return Err(invalid(
                    "tipc bearer",
                    &self.bearer,
                    format!("node {node} has no interface {ifname} in the file's links"),
                ));
            }
        }
        Ok(TipcSpec { nodes: self.nodes, bus })
    }
}

/// A tunnel: `{bridge: br1, vni: 42, remotes: [192.0.2.2], underlay: eth0, port: 4789}`, with
/// `type: geneve` for a Geneve one (conlink's word).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    bridge: String,
    vni: u32,
    remotes: Vec<String>,
    #[serde(default)]
    underlay: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

/// `topology:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    #[serde(default)]
    defaults: Option<RawNode>,
    #[serde(default)]
    #[serde(rename = "kinds")]
    _kinds: Option<BTreeMap<String, RawNode>>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<RawNode>>,
    #[serde(default)]
    links: Vec<Spanned<RawLink>>,
}

/// A node: containerlab's `kind`, and `image` (accepted and unused: no container engine).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, rename = "image")]
    _image: Option<String>,
    #[serde(default)]
    pipework: Option<RawNodeExtensions>,
}

/// A node's `pipework:` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNodeExtensions {
    guest: String,
}

/// A link, in containerlab's brief format (`endpoints: ["a:eth1", "b:eth1"]`) or its extended
/// one (`type: veth|host|macvlan`, endpoints as `{node, interface, mac}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    endpoint: Option<RawEndpointObject>,
    #[serde(default, rename = "host-interface")]
    host_interface: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    mtu: Option<u32>,
    /// containerlab's templating variables and labels: accepted, unused.
    #[serde(default, rename = "vars")]
    _vars: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "labels")]
    _labels: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pipework: Option<RawLinkExtensions>,
}

/// An endpoint: `"node:interface"` or `{node, interface, mac}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEndpoint {
    Brief(String),
    Extended(RawEndpointObject),
}

/// An endpoint of the extended format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpointObject {
    node: String,
    interface: String,
    #[serde(default)]
    mac: Option<String>,
}

/// A link in the brief format's terms: its two `node:interface` endpoints, the MACs the
/// extended format gave them, and a macvlan's mode.
struct BriefLink {
    endpoints: Vec<String>,
    macs: Vec<Option<String>>,
    mode: Option<String>,
}

impl RawLink {
    /// The link in the brief format's terms; `at` names the file and line in errors.
    fn brief(&self, at: &str) -> Result<BriefLink> {
        let invalid = |field: &str, value: &str, why: &str| {
            Error::invalid(field, value, format!("{at}: {why}"))
        };
        let object = |e: &RawEndpointObject| (format!("{}:{}", e.node, e.interface), e.mac.clone());
        let (mut endpoints, mut macs) = (Vec::new(), Vec::new());
        for endpoint in &self.endpoints {
            let (text, mac) = match endpoint {
                RawEndpoint::Brief(text) => (text.clone(), None),
                RawEndpoint::Extended(e) => object(e),
            };
            endpoints.push(text);
            macs.push(mac);
        }
        let kind = self.kind.as_deref().unwrap_or("veth");
        let special = match kind {
            "veth" => None,
            "host" => Some(HOST_NODE),
            "macvlan" => Some(MACVLAN_NODE),
            other => {
                return Err(invalid(
                    "link type",
                    other,
                    "pipework makes veth, host and macvlan links",
                ));
            }
        };
        match (special, &self.endpoint, &self.host_interface) {
            (None, None, None) => {}
            (Some(node), Some(endpoint), Some(interface)) if self.endpoints.is_empty() => {
                let (text, mac) = object(endpoint);
                endpoints = vec![text, format!("{node}:{interface}")];
                macs = vec![mac, None];
            }
            (None, _, _) => {
                return Err(invalid(
                    "link",
                    kind,
                    "a veth link has endpoints, not endpoint or host-interface",
                ));
            }
            (Some(_), _, _) => {
                return Err(invalid(
                    "link",
                    kind,
                    "a host or macvlan link has one endpoint and a host-interface",
                ));
            }
        }
        if self.mode.is_some() && kind != "macvlan" {
            return Err(invalid(
                "mode",
                self.mode.as_deref().unwrap_or_default(),
                "only a macvlan link has a mode",
            ));
        }
        Ok(BriefLink { endpoints, macs, mode: self.mode.clone() })
    }
}

/// A link's `pipework:` key: per endpoint, in the order of `endpoints`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinkExtensions {
    #[serde(default)]
    endpoints: Vec<RawEndpointExtensions>,
    /// On a macvlan link: an ipvlan child of this mode (l2, l3, l3s) instead.
    #[serde(default)]
    ipvlan: Option<String>,
}

/// What pipework configures on one endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpointExtensions {
    #[serde(default)]
    addresses: Vec<String>,
    /// The default route's next hop.
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    netem: Option<RawNetem>,
    /// A bridge port's access VLAN.
    #[serde(default)]
    vlan: Option<u16>,
    /// A lease from the LAN: `true` (pipework's client, once) or a DHCP word of the command.
    #[serde(default)]
    dhcp: Option<RawDhcp>,
}

/// An endpoint's `dhcp`: `true`, `false`, or a DHCP word (`dhcp:-f`, `udhcpc-f`, ...).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDhcp {
    Enabled(bool),
    Word(String),
}

impl RawDhcp {
    /// The DHCP word asked for, checked; `None` for `false`.
    fn word(&self) -> Result<Option<String>> {
        let word = match self {
            RawDhcp::Enabled(false) => return Ok(None),
            RawDhcp::Enabled(true) => "dhcp",
            RawDhcp::Word(word) => word.as_str(),
        };
        crate::dhcp::DhcpSpec::parse_word("dhcp", word)?.validate()?;
        Ok(Some(word.to_string()))
    }
}

/// An endpoint's impairments, in the units of containerlab's `tools netem`:
/// `{delay: 10ms, jitter: 1ms, loss: 0.5, corruption: 0.1, rate: 1000}` (percent, kbit/s).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetem {
    #[serde(default)]
    delay: Option<String>,
    #[serde(default)]
    jitter: Option<String>,
    #[serde(default)]
    loss: Option<RawPercent>,
    #[serde(default)]
    corruption: Option<RawPercent>,
    #[serde(default)]
    rate: Option<u64>,
}

/// A percentage: `0.5` or `"0.5%"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPercent {
    Number(f64),
    Text(String),
}

impl RawNetem {
    fn check(&self) -> Result<crate::Netem> {
        let duration = |field: &str, text: &Option<String>| {
            text.as_deref().map_or(Ok(0), |text| crate::netem::parse_duration_us(field, text))
        };
        let percent = |field: &str, raw: &Option<RawPercent>| match raw {
            None => Ok(crate::Percent::default()),
            Some(RawPercent::Number(value)) => crate::Percent::parse(field, &value.to_string()),
            Some(RawPercent::Text(text)) => crate::Percent::parse(field, text),
        };
        let netem = crate::Netem {
            delay_us: duration("netem delay", &self.delay)?,
            jitter_us: duration("netem jitter", &self.jitter)?,
            loss: percent("netem loss", &self.loss)?,
            corruption: percent("netem corruption", &self.corruption)?,
            rate_kbit: self.rate,
        };
        netem.validate("netem")?;
        Ok(netem)
    }
}

/// A route of an endpoint: `{dst: 10.2.0.0/16, via: 10.1.0.2}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    dst: String,
    via: String,
}

impl RawEndpointExtensions {
    /// The routes asked for, the gateway's default route first.
    fn routes(&self) -> Result<Vec<EndRoute>> {
        let ip = |name: &str, text: &str| {
            text.parse::<std::net::IpAddr>()
                .map_err(|_| Error::invalid(name, text, "is not an IP address"))
        };
        let mut routes = Vec::new();
        if let Some(gateway) = &self.gateway {
            let via = ip("gateway", gateway)?;
            let destination = match via {
                std::net::IpAddr::V4(_) => IpNet::V4(Default::default()),
                std::net::IpAddr::V6(_) => IpNet::V6(Default::default()),
            };
            routes.push(EndRoute { destination, via });
        }
        for route in &self.routes {
            let destination = crate::parse_cidr("route dst", &route.dst)?.trunc();
            let via = ip("route via", &route.via)?;
            if destination.addr().is_ipv4() != via.is_ipv4() {
                return Err(Error::invalid(
                    "route via",
                    &route.via,
                    format!("is not in the family of {}", route.dst),
                ));
            }
            routes.push(EndRoute { destination, via });
        }
        Ok(routes)
    }
}

impl RawFile {
    fn check(self, source: &str) -> Result<Topology> {
        let at = |line: u64| format!("{source}, line {line}");
        let lab = self.name.value;
        if let Err(why) = validate_lab_name(&lab) {
            return Err(Error::invalid(
                "lab name",
                &lab,
                format!("{}: {why}", at(self.name.referenced.line())),
            ));
        }
        let default_kind = self.topology.defaults.as_ref().and_then(|d| d.kind.clone());
        let mut nodes = BTreeMap::new();
        for (name, node) in self.topology.nodes {
            let line = node.referenced.line();
            let node = node.value;
            validate_node_name(&name)
                .map_err(|why| Error::invalid("node", &name, format!("{}: {why}", at(line))))?;
            let kind = node.kind.clone().or(default_kind.clone()).unwrap_or_else(|| "linux".into());
            if name == MACVLAN_NODE || (name == HOST_NODE && kind != "host") {
                return Err(Error::invalid(
                    "node",
                    &name,
                    format!("{}: the name is reserved for {name}:... endpoints", at(line)),
                ));
            }
            let kind = match (kind.as_str(), node.pipework) {
                ("host", None) if name == HOST_NODE => NodeKind::Host,
                ("host", _) => {
                    return Err(Error::invalid(
                        "node",
                        &name,
                        format!("{}: a host node is called host and names no guest", at(line)),
                    ));
                }
                ("linux", None) => NodeKind::Namespace { netns: namespace_name(&lab, &name) },
                ("linux", Some(ext)) => NodeKind::Guest { target: ext.guest },
                ("bridge", None) => {
                    validate_ifname("bridge node", &name)?;
                    NodeKind::Bridge
                }
                ("ovs-bridge", None) => {
                    validate_ifname("ovs-bridge node", &name)?;
                    NodeKind::OvsBridge
                }
                ("bridge" | "ovs-bridge", Some(_)) => {
                    return Err(Error::invalid(
                        "node",
                        &name,
                        format!("{}: a bridge node names no guest", at(line)),
                    ));
                }
                (other, _) => {
                    return Err(Error::invalid(
                        "node kind",
                        other,
                        format!(
                            "{}: node {name}: pipework makes linux, bridge, ovs-bridge and host nodes",
                            at(line)
                        ),
                    ));
                }
            };
            nodes.insert(name, kind);
        }
        let mut used = HashSet::new();
        let mut given = BTreeMap::new();
        let mut defaults = HashSet::new();
        let mut links = Vec::new();
        for link in self.topology.links {
            let line = link.referenced.line();
            let link = link.value;
            let brief = link.brief(&at(line))?;
            let [a, b] = brief.endpoints.as_slice() else {
                return Err(Error::invalid(
                    "endpoints",
                    brief.endpoints.join(", "),
                    format!("{}: a link has two endpoints", at(line)),
                ));
            };
            let mode =
                brief.mode.as_deref().map(str::parse::<crate::MacvlanMode>).transpose().map_err(
                    |err| {
                        Error::invalid("mode", format!("{a}, {b}"), format!("{}: {err}", at(line)))
                    },
                )?;
            let (extensions, ipvlan) =
                link.pipework.map(|p| (p.endpoints, p.ipvlan)).unwrap_or_default();
            let ipvlan = ipvlan
                .as_deref()
                .map(str::parse::<crate::IpvlanMode>)
                .transpose()
                .map_err(|err| {
                    Error::invalid("ipvlan", format!("{a}, {b}"), format!("{}: {err}", at(line)))
                })?;
            let mut extensions = extensions.into_iter();
            let mut extended_macs = brief.macs.into_iter();
            let mut end = |text: &str| -> Result<End> {
                let (node, interface) = text.split_once(':').ok_or_else(|| {
                    Error::invalid(
                        "endpoint",
                        text,
                        format!("{}: expected \"node:interface\"", at(line)),
                    )
                })?;
                // containerlab's special endpoints need no node of their own.
                match node {
                    HOST_NODE => drop(nodes.entry(node.to_string()).or_insert(NodeKind::Host)),
                    MACVLAN_NODE => drop(nodes.insert(node.to_string(), NodeKind::Macvlan)),
                    _ => {}
                }
                if !nodes.contains_key(node) {
                    return Err(Error::invalid(
                        "endpoint",
                        text,
                        format!("{}: no node is called {node}", at(line)),
                    ));
                }
                validate_ifname("endpoint interface", interface)?;
                // Several macvlans may share a parent.
                if node != MACVLAN_NODE && !used.insert((node.to_string(), interface.to_string())) {
                    return Err(Error::invalid(
                        "endpoint",
                        text,
                        format!("{}: the interface is in another link already", at(line)),
                    ));
                }
                let asked = extensions.next().unwrap_or_default();
                let addresses = asked
                    .addresses
                    .iter()
                    .map(|address| {
                        crate::parse_cidr("address", address).map_err(|err| {
                            Error::invalid("addresses", text, format!("{}: {err}", at(line)))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                for address in &addresses {
                    if let Some(owner) = given.insert(address.addr(), text.to_string()) {
                        return Err(Error::invalid(
                            "addresses",
                            text,
                            format!("{}: {} is {owner}'s already", at(line), address.addr()),
                        ));
                    }
                }
                let routes = asked.routes().map_err(|err| {
                    Error::invalid("routes", text, format!("{}: {err}", at(line)))
                })?;
                for route in routes.iter().filter(|route| route.destination.prefix_len() == 0) {
                    if !defaults.insert((node.to_string(), route.destination.addr().is_ipv4())) {
                        return Err(Error::invalid(
                            "gateway",
                            route.via.to_string(),
                            format!("{}: node {node} has a default route already", at(line)),
                        ));
                    }
                }
                let extended_mac = extended_macs.next().flatten();
                if extended_mac.is_some() && asked.mac.is_some() {
                    return Err(Error::invalid(
                        "mac",
                        text,
                        format!(
                            "{}: given by the endpoint and under pipework:, give one",
                            at(line)
                        ),
                    ));
                }
                let mac = asked
                    .mac
                    .or(extended_mac)
                    .as_deref()
                    .map(crate::MacAddr::parse)
                    .transpose()
                    .map_err(|err| Error::invalid("mac", text, format!("{}: {err}", at(line))))?;
                let netem =
                    asked.netem.as_ref().map(RawNetem::check).transpose().map_err(|err| {
                        Error::invalid("netem", text, format!("{}: {err}", at(line)))
                    })?;
                if let Some(vid) = asked.vlan {
                    crate::link::validate_vlan_id("vlan", vid).map_err(|err| {
                        Error::invalid("vlan", text, format!("{}: {err}", at(line)))
                    })?;
                    if ![NodeKind::Bridge, NodeKind::OvsBridge].contains(&nodes[node]) {
                        return Err(Error::invalid(
                            "vlan",
                            text,
                            format!(
                                "{}: a VLAN is a bridge node's port's (an access port), and {node} is no bridge node",
                                at(line)
                            ),
                        ));
                    }
                }
                let dhcp = asked
                    .dhcp
                    .as_ref()
                    .map(RawDhcp::word)
                    .transpose()
                    .map_err(|err| Error::invalid("dhcp", text, format!("{}: {err}", at(line))))?
                    .flatten();
                if let Some(word) = &dhcp {
                    if nodes[node].in_host() {
                        return Err(Error::invalid(
                            "dhcp",
                            text,
                            format!(
                                "{}: a lease is a linux node's, and {node} is no linux node",
                                at(line)
                            ),
                        ));
                    }
                    if asked.gateway.is_some() {
                        return Err(Error::invalid(
                            "gateway",
                            text,
                            format!("{}: {word} gives the default route, not gateway", at(line)),
                        ));
                    }
                }
                Ok(End {
                    node: node.into(),
                    ifname: interface.into(),
                    addresses,
                    routes,
                    mac,
                    netem,
                    vlan: asked.vlan,
                    dhcp,
                })
            };
            let ends = [end(a)?, end(b)?];
            if ends.iter().all(|end| nodes[&end.node].in_host()) {
                return Err(Error::invalid(
                    "endpoints",
                    format!("{a}, {b}"),
                    format!("{}: a link needs a linux node at one end", at(line)),
                ));
            }
            let unaddressable = |end: &End| match nodes[&end.node] {
                NodeKind::Bridge | NodeKind::OvsBridge => Some("a bridge port"),
                NodeKind::Macvlan => Some("a macvlan's parent"),
                _ => None,
            };
            if let Some(what) = ends.iter().find_map(|end| {
                unaddressable(end).filter(|_| !end.addresses.is_empty() || !end.routes.is_empty())
            }) {
                return Err(Error::invalid(
                    "addresses",
                    format!("{a}, {b}"),
                    format!("{}: {what} has no address or route of pipework's", at(line)),
                ));
            }
            if ends.iter().any(|end| nodes[&end.node] == NodeKind::Macvlan && end.mac.is_some()) {
                return Err(Error::invalid(
                    "mac",
                    format!("{a}, {b}"),
                    format!("{}: a macvlan's parent keeps its MAC; give the child's", at(line)),
                ));
            }
            if ends.iter().any(|end| nodes[&end.node] == NodeKind::Macvlan && end.netem.is_some()) {
                return Err(Error::invalid(
                    "netem",
                    format!("{a}, {b}"),
                    format!(
                        "{}: a macvlan's parent is not the lab's to impair; give the child's",
                        at(line)
                    ),
                ));
            }
            if ipvlan.is_some() {
                let why = if !ends.iter().any(|end| nodes[&end.node] == NodeKind::Macvlan) {
                    Some("only a macvlan:PARENT link can be an ipvlan")
                } else if mode.is_some() {
                    Some("mode is a macvlan's; an ipvlan has its own (l2, l3, l3s)")
                } else if ends.iter().any(|end| end.mac.is_some()) {
                    Some("an ipvlan has its parent's MAC")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(Error::invalid(
                        "ipvlan",
                        format!("{a}, {b}"),
                        format!("{}: {why}", at(line)),
                    ));
                }
            }
            links.push(LinkSpec { ends, mtu: link.mtu, mode, ipvlan });
        }
        let (raw_tunnels, raw_tipc) =
            self.pipework.map(|p| (p.tunnels, p.tipc)).unwrap_or_default();
        let tipc = raw_tipc
            .map(|raw| raw.value.check(&at(raw.referenced.line()), &nodes, &links))
            .transpose()?;
        let mut tunnels: Vec<TunnelSpec> = Vec::new();
        for tunnel in raw_tunnels {
            let line = tunnel.referenced.line();
            let tunnel = tunnel.value;
            let invalid = |field: &str, value: String, why: &str| {
                Error::invalid(field, value, format!("{}: {why}", at(line)))
            };
            if nodes.get(&tunnel.bridge) != Some(&NodeKind::Bridge) {
                return Err(invalid("tunnel bridge", tunnel.bridge, "is not a bridge node"));
            }
            let remotes = tunnel
                .remotes
                .iter()
                .map(|remote| {
                    remote.parse().map_err(|_| {
                        invalid("tunnel remote", remote.clone(), "is not an IP address")
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some(dev) = &tunnel.underlay {
                validate_ifname("tunnel underlay", dev)?;
            }
            let encapsulation = match tunnel.kind.as_deref() {
                None | Some("vxlan") => crate::Encapsulation::Vxlan,
                Some("geneve") => crate::Encapsulation::Geneve,
                Some(other) => {
                    return Err(invalid("tunnel type", other.into(), "must be vxlan or geneve"));
                }
            };
            let uplink = crate::VxlanUplink {
                vni: tunnel.vni,
                remotes,
                underlay: tunnel.underlay,
                port: tunnel.port.unwrap_or(crate::VxlanUplink::default_port(encapsulation)),
                encapsulation,
            };
            uplink
                .validate()
                .map_err(|err| invalid("tunnel", tunnel.bridge.clone(), &err.to_string()))?;
            if let Some(other) =
                tunnels.iter().find(|t| t.uplink.vni == uplink.vni || t.bridge == tunnel.bridge)
            {
                return Err(invalid(
                    "tunnel",
                    tunnel.bridge,
                    &format!("bridge {} has tunnel vni {} already", other.bridge, other.uplink.vni),
                ));
            }
            tunnels.push(TunnelSpec { bridge: tunnel.bridge, uplink });
        }
        Ok(Topology { name: lab, nodes, links, tunnels, tipc })
    }
}

/// A lab name: it becomes part of namespace and record names.
fn validate_lab_name(name: &str) -> std::result::Result<(), &'static str> {
    validate_node_name(name)
}

/// A node name: it becomes part of a namespace name.
fn validate_node_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("may contain only letters, digits, '-' and '_'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIANGLE: &str = r#"
name: tri
topology:
  nodes:
    a: {kind: linux, image: alpine}
    b: {kind: linux}
    br1: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      mtu: 1400
      pipework: {endpoints: [{addresses: [10.1.0.1/30]}, {addresses: [10.1.0.2/30]}]}
    - endpoints: ["a:eth2", "br1:a2"]
"#;

    #[test]
    fn a_containerlab_file_reads_as_nodes_and_links() {
        let topology = Topology::parse(TRIANGLE, "tri.clab.yml").unwrap();
        assert_eq!(topology.name, "tri");
        assert_eq!(topology.netns_of("a"), Some("clab-tri-a"));
        assert_eq!(topology.nodes["br1"], NodeKind::Bridge);
        assert_eq!(topology.links[0].key(), "a:eth1 -- b:eth1");
        assert_eq!(topology.links[0].mtu, Some(1400));
        assert_eq!(topology.links[0].ends[1].addresses, ["10.1.0.2/30".parse::<IpNet>().unwrap()]);
        let copy = topology.renamed("tri-2").unwrap();
        assert_eq!((copy.name.as_str(), copy.netns_of("a")), ("tri-2", Some("clab-tri-2-a")));
        assert_eq!(copy.links, topology.links);
        assert!(topology.renamed("tri 2").unwrap_err().to_string().contains("lab name"));
        let json = r#"{"name": "j", "topology": {"nodes": {"x": {}}, "links": []}}"#;
        assert_eq!(Topology::parse(json, "j.json").unwrap().netns_of("x"), Some("clab-j-x"));
    }

    #[test]
    fn host_and_macvlan_endpoints_and_routes_read_as_containerlab_and_pipework_write_them() {
        let text = r#"
name: r
topology:
  nodes:
    a: {}
    b: {}
  links:
    - endpoints: ["a:eth1", "host:veth-a"]
      pipework: {endpoints: [{gateway: 10.0.0.1, routes: [{dst: 10.9.8.7/8, via: 10.0.0.2}]}]}
    - endpoints: ["a:eth2", "macvlan:eth0"]
      pipework: {endpoints: [{mac: "02:00:00:00:0a:02"}]}
    - endpoints: ["macvlan:eth0", "b:eth2"]
"#;
        let topology = Topology::parse(text, "r.yml").unwrap();
        assert_eq!(topology.nodes["host"], NodeKind::Host);
        assert_eq!(topology.nodes["macvlan"], NodeKind::Macvlan);
        let routes = &topology.links[0].ends[0].routes;
        assert_eq!(routes[0].destination, "0.0.0.0/0".parse::<IpNet>().unwrap());
        assert_eq!(routes[1].destination, "10.0.0.0/8".parse::<IpNet>().unwrap(), "truncated");
        assert_eq!(routes[1].via, "10.0.0.2".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(topology.links[2].key(), "macvlan:eth0 -- b:eth2");
        assert_eq!(topology.links[1].ends[0].mac, Some("02:00:00:00:0a:02".parse().unwrap()));
        let declared = "name: h\ntopology:\n  nodes:\n    host: {kind: host}\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n";
        assert_eq!(Topology::parse(declared, "h.yml").unwrap().nodes["host"], NodeKind::Host);
    }

    #[test]
    fn containerlabs_extended_link_format_reads_as_the_brief_one() {
        let text = r#"
name: ext
topology:
  nodes:
    a: {}
    b: {}
  links:
    - type: veth
      mtu: 1400
      endpoints:
        - {node: a, interface: eth1, mac: "02:00:00:00:00:a1"}
        - {node: b, interface: eth1}
      vars: {cost: 10}
    - type: host
      endpoint: {node: a, interface: eth2}
      host-interface: veth-a
    - type: macvlan
      endpoint: {node: b, interface: eth2, mac: "02:00:00:00:00:b2"}
      host-interface: eth0
      mode: private
      labels: {role: uplink}
"#;
        let topology = Topology::parse(text, "ext.yml").unwrap();
        let keys: Vec<String> = topology.links.iter().map(LinkSpec::key).collect();
        assert_eq!(keys, ["a:eth1 -- b:eth1", "a:eth2 -- host:veth-a", "b:eth2 -- macvlan:eth0"]);
        assert_eq!(topology.links[0].mtu, Some(1400));
        assert_eq!(topology.links[0].ends[0].mac, Some("02:00:00:00:00:a1".parse().unwrap()));
        assert_eq!(topology.links[2].ends[0].mac, Some("02:00:00:00:00:b2".parse().unwrap()));
        assert_eq!(topology.links[2].mode, Some(crate::MacvlanMode::Private));
        let ipvlan = "name: i\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"macvlan:eth0\"]\n      pipework: {ipvlan: l3s}\n";
        let ipvlan_lab = Topology::parse(ipvlan, "i.yml").unwrap();
        assert_eq!(ipvlan_lab.links[0].ipvlan, Some(crate::IpvlanMode::L3s));
        assert_eq!(topology.nodes["host"], NodeKind::Host);
        let link =
            |body: &str| format!("name: e\ntopology:\n  nodes:\n    a: {{}}\n  links:\n{body}");
        for (body, why) in [
            (
                "    - type: vxlan\n      endpoint: {node: a, interface: e1}\n",
                "line 6: pipework makes veth, host and macvlan links",
            ),
            (
                "    - type: host\n      endpoint: {node: a, interface: e1}\n",
                "a host or macvlan link has one endpoint and a host-interface",
            ),
            (
                "    - endpoints: [\"a:e1\", \"host:h1\"]\n      mode: vepa\n",
                "only a macvlan link has a mode",
            ),
            (
                "    - type: macvlan\n      endpoint: {node: a, interface: e1}\n      host-interface: eth0\n      mode: hairpin\n",
                "macvlan mode",
            ),
            ("    - endpoints: [{node: a, interface: e1, colour: red}, \"host:h1\"]\n", "line 6"),
            (
                "    - endpoints: [{node: a, interface: e1, mac: \"02:00:00:00:00:01\"}, \"host:h1\"]\n      pipework: {endpoints: [{mac: \"02:00:00:00:00:02\"}]}\n",
                "give one",
            ),
        ] {
            let err = Topology::parse(&link(body), "e.yml").unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn tunnels_name_a_bridge_node_and_are_checked() {
        let file = |tunnels: &str| {
            format!(
                "name: t\ntopology:\n  nodes:\n    br1: {{kind: bridge}}\n    br2: {{kind: bridge}}\npipework:\n  tunnels:\n{tunnels}"
            )
        };
        let topology = Topology::parse(
            &file(
                "    - {bridge: br1, vni: 42, remotes: [192.0.2.2, 192.0.2.3], underlay: eth0}\n",
            ),
            "t.yml",
        )
        .unwrap();
        let uplink = &topology.tunnels[0].uplink;
        assert_eq!(
            (uplink.device_name().as_str(), uplink.port),
            ("vx42", crate::VxlanUplink::PORT)
        );
        assert_eq!(uplink.underlay.as_deref(), Some("eth0"));
        let geneve = Topology::parse(
            &file("    - {type: geneve, bridge: br2, vni: 7, remotes: [192.0.2.2]}\n"),
            "t.yml",
        )
        .unwrap();
        let uplink = &geneve.tunnels[0].uplink;
        assert_eq!((uplink.device_name().as_str(), uplink.port), ("gnv7", 6081));
        for (tunnels, why) in [
            ("    - {bridge: a, vni: 1, remotes: [192.0.2.2]}\n", "line 8: is not a bridge node"),
            ("    - {bridge: br1, vni: 0, remotes: [192.0.2.2]}\n", "must be from 1 to"),
            ("    - {bridge: br1, vni: 1, remotes: [two]}\n", "is not an IP address"),
            ("    - {bridge: br1, vni: 1, remotes: []}\n", "give at least one remote"),
            (
                "    - {bridge: br1, vni: 1, remotes: [192.0.2.2]}\n    - {bridge: br2, vni: 1, remotes: [192.0.2.3]}\n",
                "line 9: bridge br1 has tunnel vni 1 already",
            ),
            ("    - {bridge: br1, vni: 1, remotes: [192.0.2.2], ttl: 3}\n", "ttl"),
            (
                "    - {type: gre, bridge: br1, vni: 1, remotes: [192.0.2.2]}\n",
                "must be vxlan or geneve",
            ),
            (
                "    - {type: geneve, bridge: br1, vni: 1, remotes: [192.0.2.2, 192.0.2.3]}\n",
                "a Geneve port has one remote",
            ),
        ] {
            let err = Topology::parse(&file(tunnels), "t.yml").unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn ovs_bridge_nodes_take_vlans_and_no_addresses() {
        let file = |ext: &str| {
            format!(
                "name: x\ntopology:\n  nodes:\n    a: {{}}\n    ovs1: {{kind: ovs-bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"ovs1:p1\"]\n      pipework: {{endpoints: [{{}}, {ext}]}}\n"
            )
        };
        let topology = Topology::parse(&file("{vlan: 7}"), "t.yml").unwrap();
        assert_eq!(topology.nodes["ovs1"], NodeKind::OvsBridge);
        assert_eq!(topology.links[0].ends[1].vlan, Some(7));
        let err = Topology::parse(&file("{addresses: [10.0.0.1/24]}"), "t.yml").unwrap_err();
        assert!(err.to_string().contains("a bridge port has no address"), "{err}");
    }

    #[test]
    fn netem_reads_in_containerlabs_units() {
        let text = "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{netem: {delay: 10ms, jitter: 500us, loss: 0.5, corruption: \"1%\", rate: 1000}}]}\n";
        let topology = Topology::parse(text, "t.yml").unwrap();
        let netem = topology.links[0].ends[0].netem.unwrap();
        assert_eq!((netem.delay_us, netem.jitter_us, netem.rate_kbit), (10_000, 500, Some(1000)));
        assert_eq!(
            (netem.loss.to_string(), netem.corruption.to_string()),
            ("0.5%".into(), "1%".into())
        );
        assert_eq!(topology.links[0].ends[1].netem, None);
    }

    #[test]
    fn dhcp_is_a_linux_nodes_and_reads_as_the_commands_words() {
        let file = |ext: &str| {
            format!(
                "name: x\ntopology:\n  nodes:\n    a: {{}}\n    br: {{kind: bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"br:p1\"]\n      pipework: {{endpoints: [{ext}]}}\n"
            )
        };
        let dhcp = |ext: &str| {
            Topology::parse(&file(ext), "t.yml").map(|t| t.links[0].ends[0].dhcp.clone())
        };
        assert_eq!(dhcp("{dhcp: true}").unwrap().as_deref(), Some("dhcp"));
        assert_eq!(dhcp("{dhcp: \"dhcp:-f\"}").unwrap().as_deref(), Some("dhcp:-f"));
        assert_eq!(dhcp("{dhcp: false}").unwrap(), None);
        let spec = Topology::parse(&file("{dhcp: \"dhcp:-f\"}"), "t.yml").unwrap().links[0].ends[0]
            .dhcp_spec()
            .unwrap()
            .unwrap();
        assert!(matches!(spec.keep, crate::dhcp::DhcpKeep::Daemon { .. }), "{spec:?}");
        for (ext, why) in [
            ("{dhcp: dhcpx}", "line 7: invalid dhcp \"dhcpx\""),
            ("{dhcp: true, gateway: 10.0.0.1}", "dhcp gives the default route, not gateway"),
            ("{}, {dhcp: true}", "a lease is a linux node's, and br is no linux node"),
        ] {
            let err = dhcp(ext).unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn a_tipc_bus_names_linux_nodes_that_have_its_bearer() {
        let file = |tipc: &str| {
            format!(
                "name: x\ntopology:\n  nodes:\n    a: {{}}\n    b: {{}}\n    br: {{kind: bridge}}\n  links:\n    - endpoints: [\"a:eth1\", \"br:pa\"]\n    - endpoints: [\"b:eth1\", \"br:pb\"]\npipework:\n  tipc: {tipc}\n"
            )
        };
        let topology = Topology::parse(
            &file("{nodes: [a, b], bearer: \"eth:eth1\", net_id: 42, wait_links: 5}"),
            "t.yml",
        )
        .unwrap();
        let tipc = topology.tipc.unwrap();
        assert_eq!(tipc.nodes, ["a", "b"]);
        assert_eq!((tipc.bus.net_id, tipc.bus.bearer.name()), (42, "eth:eth1".to_string()));
        assert_eq!(tipc.bus.link_timeout, Some(std::time::Duration::from_secs(5)));
        assert_eq!(tipc.without(&["a".into()]).nodes, ["b"]);
        let unwaited =
            Topology::parse(&file("{nodes: [a], bearer: \"eth:eth1\", wait_links: 0}"), "t.yml");
        assert_eq!(unwaited.unwrap().tipc.unwrap().bus.link_timeout, None);
        for (tipc, why) in [
            (
                "{nodes: [a, br], bearer: \"eth:eth1\"}",
                "invalid tipc nodes \"br\": t.yml, line 11: is no linux node",
            ),
            ("{nodes: [a, z], bearer: \"eth:eth1\"}", "no node is called so"),
            ("{nodes: [a, a], bearer: \"eth:eth1\"}", "is listed twice"),
            (
                "{nodes: [a, b], bearer: \"eth:eth2\"}",
                "node a has no interface eth2 in the file's links",
            ),
            ("{nodes: [a], bearer: \"ib:x\"}", "expected eth:IFNAME or udp:NAME"),
            ("{nodes: [a], bearer: \"eth:eth1\", net_id: 0}", "must be from 1 to 9999"),
            ("{nodes: [], bearer: \"eth:eth1\"}", "a bus needs at least one node"),
            ("{nodes: [a], bearer: \"eth:eth1\", zone: 1}", "zone"),
        ] {
            let err = Topology::parse(&file(tipc), "t.yml").unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn mistakes_name_the_key_or_endpoint_and_the_line() {
        for (text, why) in [
            ("name: x\ntopology:\n  nodes:\n    a: {kind: linux, bogus: 1}\n", "line 4"),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"z:eth1\"]\n",
                "line 6: no node is called z",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"a:eth1\"]\n",
                "in another link already",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {kind: ceos}\n",
                "pipework makes linux, bridge, ovs-bridge and host nodes",
            ),
            ("name: x y\ntopology: {}\n", "may contain only letters"),
            (
                "name: x\ntopology:\n  nodes:\n    macvlan: {}\n",
                "line 4: the name is reserved for macvlan:... endpoints",
            ),
            ("name: x\ntopology:\n  nodes:\n    h: {kind: host}\n", "a host node is called host"),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{mac: \"01:00:5e:00:00:01\"}]}\n",
                "line 6: invalid mac \"01:00:5e:00:00:01\": is a multicast",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"host:h1\", \"macvlan:eth0\"]\n",
                "a link needs a linux node at one end",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"macvlan:eth0\"]\n      pipework: {endpoints: [{}, {addresses: [10.0.0.1/24]}]}\n",
                "a macvlan's parent has no address",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{routes: [{dst: 10.0.0.0/8, via: \"2001:db8::1\"}]}]}\n",
                "line 6: invalid route via",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n      pipework: {endpoints: [{gateway: 10.0.0.1}]}\n    - endpoints: [\"a:eth2\", \"b:eth2\"]\n      pipework: {endpoints: [{routes: [{dst: 0.0.0.0/0, via: 10.0.1.1}]}]}\n",
                "line 9: node a has a default route already",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{netem: {delay: 10}}]}\n",
                "line 6: invalid netem delay \"10\": is not a duration with a unit",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{netem: {loss: 120}}]}\n",
                "line 6: invalid netem loss \"120\": is not between 0 and 100 percent",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{netem: {jitter: 1ms}}]}\n",
                "jitter varies a delay",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{netem: {delay: 1ms, reorder: 5}}]}\n",
                "reorder",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"macvlan:eth0\"]\n      pipework: {endpoints: [{}, {netem: {delay: 1ms}}]}\n",
                "a macvlan's parent is not the lab's to impair",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{vlan: 10}]}\n",
                "line 6: a VLAN is a bridge node's port's (an access port), and a is no bridge node",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n    br: {kind: bridge}\n  links:\n    - endpoints: [\"a:eth1\", \"br:p1\"]\n      pipework: {endpoints: [{}, {vlan: 4095}]}\n",
                "line 7: invalid vlan",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {ipvlan: l2}\n",
                "line 6: only a macvlan:PARENT link can be an ipvlan",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"macvlan:eth0\"]\n      pipework: {ipvlan: l4}\n",
                "must be l2, l3 or l3s",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"macvlan:eth0\"]\n      pipework: {ipvlan: l3, endpoints: [{mac: \"02:00:00:00:00:01\"}]}\n",
                "an ipvlan has its parent's MAC",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n    b: {}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n      pipework: {endpoints: [{addresses: [10.0.0.1/24]}, {addresses: [10.0.0.1/24]}]}\n",
                "invalid addresses \"b:eth1\": t.yml, line 7: 10.0.0.1 is a:eth1's already",
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: [\"a:eth1\", \"host:h1\"]\n      pipework: {endpoints: [{addresses: [10.0.0.300/24]}]}\n",
                "t.yml, line 6: invalid address \"10.0.0.300/24\"",
            ),
        ] {
            let err = Topology::parse(text, "t.yml").unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        }
        let err = Topology::parse(
            "name: x\ntopology:\n  nodes:\n    a: {kind: linux, bogus: 1}\n",
            "t.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
