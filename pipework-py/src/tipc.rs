//! `pipework.tipc`: TIPC nodes, identities, bearers and the automatic bus over
//! `pipework_core::tipc`, conversion only.

use std::{str::FromStr, time::Duration};

use pipework_core::tipc::{
    Bearer, BearerProps, BearerSpec, BusLink, BusNode, BusReport, IdentityScheme, NodeConfig,
    NodeId, TipcAddress, TipcBus, TipcLink, TipcNode, TipcPeer, UdpLocal,
    bus::DEFAULT_LINK_TIMEOUT,
};
use pyo3::{
    prelude::*,
    types::{PyBytes, PyDict},
};

use crate::{
    errors::{to_py, unlocked, unlocked_interruptible},
    guest::{GuestArg, GuestSource, NamespaceArg},
    namespace::{PyNamespace, int_arg, invalid, positive_seconds, required_int},
    objects::{repr_bool, repr_list, repr_option, to_dict},
};

/// The classes of `pipework.tipc`, kept out of the top-level `pipework` namespace.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.setattr("NodeId", py.get_type::<PyNodeId>())?;
    m.setattr("TipcAddress", py.get_type::<PyTipcAddress>())?;
    m.setattr("BearerSpec", py.get_type::<PyBearerSpec>())?;
    m.setattr("TipcConfig", py.get_type::<PyTipcConfig>())?;
    m.setattr("TipcBearer", py.get_type::<PyTipcBearer>())?;
    m.setattr("TipcPeer", py.get_type::<PyTipcPeer>())?;
    m.setattr("TipcLink", py.get_type::<PyTipcLink>())?;
    m.setattr("TipcNode", py.get_type::<PyTipcNode>())?;
    m.setattr("TipcBus", py.get_type::<PyTipcBus>())?;
    m.setattr("BusReport", py.get_type::<PyBusReport>())?;
    m.setattr("BusNode", py.get_type::<PyBusNode>())?;
    m.setattr("BusLink", py.get_type::<PyBusLink>())?;
    Ok(())
}

/// A TIPC node's 128-bit identity, written as a name (`"web"`) or hex, like `tipc node get identity`.
#[pyclass(module = "pipework._native", frozen, eq, hash, name = "NodeId")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct PyNodeId(NodeId);

#[pymethods]
impl PyNodeId {
    /// Reads an identity as `tipc node set identity` does: up to 16 of `[0-9A-Za-z-_.:@]` is a
    /// name, otherwise 17 to 32 hex digits.
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        NodeId::from_str(text).map(PyNodeId).map_err(|err| to_py(py, err))
    }

    /// An identity written as 1 to 32 hex digits, also short ones.
    #[staticmethod]
    fn from_hex(py: Python<'_>, text: &str) -> PyResult<Self> {
        NodeId::from_hex(text).map(PyNodeId).map_err(|err| to_py(py, err))
    }

    /// The identity pipework gives a guest called `key`: the key itself when it is a valid
    /// name, otherwise 32 hex digits of a digest (stable across restarts).
    #[staticmethod]
    fn derive(key: &str) -> Self {
        PyNodeId(NodeId::derive(key))
    }

    /// The 16 raw bytes.
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.as_bytes())
    }

    /// The 32-bit hash the kernel makes the node's address from (unless two nodes collide).
    #[getter]
    fn hash32(&self) -> u32 {
        self.0.hash32()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("NodeId('{}')", self.0)
    }
}

/// A legacy TIPC node address `Z.C.N` (zone, cluster, node).
#[pyclass(module = "pipework._native", frozen, eq, hash, name = "TipcAddress")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct PyTipcAddress(TipcAddress);

#[pymethods]
impl PyTipcAddress {
    /// The address `zone.cluster.node` (cluster and node 0 to 4095, not all zero).
    #[new]
    fn new(py: Python<'_>, zone: i64, cluster: i64, node: i64) -> PyResult<Self> {
        let zone = required_int(py, "zone", zone)?;
        let (cluster, node) =
            (required_int(py, "cluster", cluster)?, required_int(py, "node", node)?);
        TipcAddress::new(zone, cluster, node).map(PyTipcAddress).map_err(|err| to_py(py, err))
    }

    /// Reads `"Z.C.N"`, like `tipc node set address`.
    #[staticmethod]
    fn parse(py: Python<'_>, text: &str) -> PyResult<Self> {
        TipcAddress::from_str(text).map(PyTipcAddress).map_err(|err| to_py(py, err))
    }

    /// Zone.
    #[getter]
    fn zone(&self) -> u8 {
        self.0.zone
    }

    /// Cluster.
    #[getter]
    fn cluster(&self) -> u16 {
        self.0.cluster
    }

    /// Node.
    #[getter]
    fn node(&self) -> u16 {
        self.0.node
    }

    /// The 32-bit form the kernel uses (`zone << 24 | cluster << 12 | node`).
    fn __int__(&self) -> u32 {
        self.0.to_u32()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("TipcAddress('{}')", self.0)
    }
}

/// A bearer to enable: `eth:IFNAME`, or `udp:NAME[,local=IP[:PORT]][,dev=IF][,port=P][,remote=IP[:PORT]]`.
#[pyclass(module = "pipework._native", frozen, eq, name = "BearerSpec")]
#[derive(PartialEq)]
pub(crate) struct PyBearerSpec(BearerSpec);

#[pymethods]
impl PyBearerSpec {
    /// Reads a bearer like `pipework tipc --bearer` does.
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        BearerSpec::from_str(text).map(PyBearerSpec).map_err(|err| to_py(py, err))
    }

    /// `"eth"` or `"udp"`.
    #[getter]
    fn media(&self) -> &'static str {
        match self.0 {
            BearerSpec::Eth { .. } => "eth",
            BearerSpec::Udp { .. } => "udp",
        }
    }

    /// The bearer's name as the kernel knows it (`"eth:eth0"`, `"udp:net1"`).
    #[getter]
    fn name(&self) -> String {
        self.0.name()
    }

    /// The interface: an Ethernet bearer's, or the one a UDP bearer takes its address from.
    #[getter]
    fn ifname(&self) -> Option<&str> {
        match &self.0 {
            BearerSpec::Eth { ifname }
            | BearerSpec::Udp { local: UdpLocal::Interface { ifname, .. }, .. } => Some(ifname),
            BearerSpec::Udp { local: UdpLocal::Address(_), .. } => None,
        }
    }

    /// A UDP bearer's local address and port, when given as `local=`.
    #[getter]
    fn local(&self) -> Option<String> {
        match &self.0 {
            BearerSpec::Udp { local: UdpLocal::Address(address), .. } => Some(address.to_string()),
            _ => None,
        }
    }

    /// A UDP bearer's first peer or multicast group (None: the group of the network id).
    #[getter]
    fn remote(&self) -> Option<String> {
        match &self.0 {
            BearerSpec::Udp { remote, .. } => remote.map(|remote| remote.to_string()),
            BearerSpec::Eth { .. } => None,
        }
    }

    /// The spec as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("BearerSpec('{}')", self.0)
    }
}

/// A bearer given as a `BearerSpec` or as its text.
#[derive(FromPyObject)]
enum BearerArg<'py> {
    Spec(PyRef<'py, PyBearerSpec>),
    Text(String),
}

impl BearerArg<'_> {
    fn spec(self, py: Python<'_>) -> PyResult<BearerSpec> {
        match self {
            BearerArg::Spec(spec) => Ok(spec.0.clone()),
            BearerArg::Text(text) => PyBearerSpec::new(py, &text).map(|spec| spec.0),
        }
    }
}

/// An identity given as a `NodeId` or as its text.
#[derive(FromPyObject)]
enum NodeIdArg<'py> {
    Id(PyRef<'py, PyNodeId>),
    Text(String),
}

/// A legacy address given as a `TipcAddress` or as `"Z.C.N"`.
#[derive(FromPyObject)]
enum AddressArg<'py> {
    Address(PyRef<'py, PyTipcAddress>),
    Text(String),
}

/// Link properties given as keywords; `None` keeps the kernel's.
fn props(
    py: Python<'_>,
    priority: Option<i64>,
    tolerance: Option<i64>,
    window: Option<i64>,
) -> PyResult<BearerProps> {
    let props = BearerProps {
        priority: int_arg(py, "priority", priority)?,
        tolerance: int_arg(py, "tolerance", tolerance)?,
        window: int_arg(py, "window", window)?,
    };
    props.validate().map_err(|err| to_py(py, err))?;
    Ok(props)
}

/// The node-wide settings of a namespace (`tipc net get`, `tipc node get identity|address`).
#[pyclass(module = "pipework._native", frozen, name = "TipcConfig")]
pub(crate) struct PyTipcConfig(NodeConfig);

#[pymethods]
impl PyTipcConfig {
    /// The network id; nodes link only with nodes of the same id.
    #[getter]
    fn net_id(&self) -> u32 {
        self.0.net_id
    }

    /// The node identity, once set.
    #[getter]
    fn identity(&self) -> Option<PyNodeId> {
        self.0.identity.map(PyNodeId)
    }

    /// The 32-bit node address; 0 while the node has not joined.
    #[getter]
    fn address(&self) -> u32 {
        self.0.address
    }

    /// The legacy `Z.C.N` address, when the node was given one.
    #[getter]
    fn legacy_address(&self) -> Option<PyTipcAddress> {
        self.0.legacy_address.map(PyTipcAddress)
    }

    /// The settings as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "TipcConfig(net_id={}, identity={}, address={:#010x})",
            self.0.net_id,
            repr_option(self.0.identity, true),
            self.0.address,
        )
    }
}

/// An enabled bearer (`tipc bearer list`).
#[pyclass(module = "pipework._native", frozen, name = "TipcBearer")]
pub(crate) struct PyTipcBearer(Bearer);

#[pymethods]
impl PyTipcBearer {
    /// `"eth:eth0"` or `"udp:NAME"`.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    /// Link priority in force.
    #[getter]
    fn priority(&self) -> Option<u32> {
        self.0.props.priority
    }

    /// Link tolerance in ms.
    #[getter]
    fn tolerance(&self) -> Option<u32> {
        self.0.props.tolerance
    }

    /// Link window in packets.
    #[getter]
    fn window(&self) -> Option<u32> {
        self.0.props.window
    }

    /// A UDP bearer's local address and port.
    #[getter]
    fn udp_local(&self) -> Option<String> {
        self.0.udp_local.map(|address| address.to_string())
    }

    /// A UDP bearer's peer or multicast group.
    #[getter]
    fn udp_remote(&self) -> Option<String> {
        self.0.udp_remote.map(|address| address.to_string())
    }

    /// The bearer as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "TipcBearer(name='{}', priority={})",
            self.0.name,
            repr_option(self.0.props.priority, false)
        )
    }
}

/// A node this node knows of (`tipc node list`).
#[pyclass(module = "pipework._native", frozen, name = "TipcPeer")]
pub(crate) struct PyTipcPeer(TipcPeer);

#[pymethods]
impl PyTipcPeer {
    /// Its 32-bit address.
    #[getter]
    fn address(&self) -> u32 {
        self.0.address
    }

    /// Whether it is reachable.
    #[getter]
    fn up(&self) -> bool {
        self.0.up
    }

    /// The peer as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!("TipcPeer(address={:#010x}, up={})", self.0.address, repr_bool(self.0.up))
    }
}

/// A link to another node, or the broadcast link (`tipc link list`, `tipc link get`).
#[pyclass(module = "pipework._native", frozen, name = "TipcLink")]
pub(crate) struct PyTipcLink(TipcLink);

#[pymethods]
impl PyTipcLink {
    /// `"<own id>:<if>-<peer id>:<if>"`, or `"broadcast-link"`.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    /// The peer as the link name shows it.
    #[getter]
    fn peer(&self) -> Option<&str> {
        self.0.peer.as_deref()
    }

    /// Whether this is the broadcast link.
    #[getter]
    fn broadcast(&self) -> bool {
        self.0.broadcast
    }

    /// Whether the link is up.
    #[getter]
    fn up(&self) -> bool {
        self.0.up
    }

    /// Whether the link carries traffic.
    #[getter]
    fn active(&self) -> bool {
        self.0.active
    }

    /// The link MTU.
    #[getter]
    fn mtu(&self) -> u32 {
        self.0.mtu
    }

    /// Link priority.
    #[getter]
    fn priority(&self) -> Option<u32> {
        self.0.props.priority
    }

    /// Link tolerance in ms.
    #[getter]
    fn tolerance(&self) -> Option<u32> {
        self.0.props.tolerance
    }

    /// Link window in packets.
    #[getter]
    fn window(&self) -> Option<u32> {
        self.0.props.window
    }

    /// The counters (`rx_packets`, `tx_packets`, `retransmitted`, ...) by name.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0.stats)
    }

    /// The link as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!("TipcLink(name='{}', up={}, mtu={})", self.0.name, repr_bool(self.0.up), self.0.mtu)
    }
}

/// The TIPC configuration of one network namespace.
#[pyclass(module = "pipework._native", frozen, name = "TipcNode")]
pub(crate) struct PyTipcNode {
    node: TipcNode,
    namespace: Py<PyNamespace>,
}

impl PyTipcNode {
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&TipcNode) -> pipework_core::Result<T> + Send,
    ) -> PyResult<T> {
        unlocked(py, || f(&self.node))
    }
}

#[pymethods]
impl PyTipcNode {
    /// Opens TIPC in `namespace` (a `Namespace`, or a `Guest`'s).
    ///
    /// Equivalent to: `ip netns exec NS tipc ...`.
    #[staticmethod]
    fn open(py: Python<'_>, namespace: NamespaceArg<'_>) -> PyResult<Self> {
        let namespace = namespace.into_namespace(py);
        let opened = namespace.get().opened(py)?;
        let node = unlocked(py, || TipcNode::open(&opened.namespace))?;
        Ok(PyTipcNode { node, namespace })
    }

    /// The namespace this node is configured in.
    #[getter]
    fn namespace(&self, py: Python<'_>) -> Py<PyNamespace> {
        self.namespace.clone_ref(py)
    }

    /// Reads the network id, identity and address (`tipc net get`, `tipc node get identity`).
    fn config(&self, py: Python<'_>) -> PyResult<PyTipcConfig> {
        self.call(py, TipcNode::config).map(PyTipcConfig)
    }

    /// The node identity, read from the kernel; None until set.
    #[getter]
    fn identity(&self, py: Python<'_>) -> PyResult<Option<PyNodeId>> {
        self.call(py, TipcNode::config).map(|config| config.identity.map(PyNodeId))
    }

    /// The network id, read from the kernel.
    #[getter]
    fn net_id(&self, py: Python<'_>) -> PyResult<u32> {
        self.call(py, TipcNode::config).map(|config| config.net_id)
    }

    /// Sets the node identity; returns whether it changed (the same one again is a no-op).
    ///
    /// Equivalent to: `tipc node set identity ID`.
    fn set_identity(&self, py: Python<'_>, identity: NodeIdArg<'_>) -> PyResult<bool> {
        let identity = match identity {
            NodeIdArg::Id(id) => id.0,
            NodeIdArg::Text(text) => PyNodeId::new(py, &text)?.0,
        };
        self.call(py, |node| node.set_identity(&identity))
    }

    /// Sets the network id (1 to 9999); returns whether it changed.
    ///
    /// Equivalent to: `tipc net set id ID`.
    fn set_net_id(&self, py: Python<'_>, net_id: i64) -> PyResult<bool> {
        let net_id = net_id_arg(py, net_id)?;
        self.call(py, |node| node.set_net_id(net_id))
    }

    /// Sets a legacy `Z.C.N` address where the kernel still accepts one; returns whether it changed.
    ///
    /// Equivalent to: `tipc node set address Z.C.N`.
    fn set_address(&self, py: Python<'_>, address: AddressArg<'_>) -> PyResult<bool> {
        let address = match address {
            AddressArg::Address(address) => address.0,
            AddressArg::Text(text) => PyTipcAddress::parse(py, &text)?.0,
        };
        self.call(py, |node| node.set_address(address))
    }

    /// The enabled bearers (`tipc bearer list`).
    fn bearers(&self, py: Python<'_>) -> PyResult<Vec<PyTipcBearer>> {
        self.call(py, TipcNode::bearers)
            .map(|bearers| bearers.into_iter().map(PyTipcBearer).collect())
    }

    /// Enables a bearer with link properties.
    ///
    /// Equivalent to: `tipc bearer enable media eth device IF [priority P]`.
    #[pyo3(signature = (bearer, *, priority=None, tolerance=None, window=None))]
    fn enable_bearer(
        &self,
        py: Python<'_>,
        bearer: BearerArg<'_>,
        priority: Option<i64>,
        tolerance: Option<i64>,
        window: Option<i64>,
    ) -> PyResult<()> {
        let spec = bearer.spec(py)?;
        let props = props(py, priority, tolerance, window)?;
        self.call(py, |node| node.enable_bearer(&spec, &props))
    }

    /// Changes the link properties of an enabled bearer.
    ///
    /// Equivalent to: `tipc bearer set priority P tolerance T window W media eth device IF`.
    #[pyo3(signature = (name, *, priority=None, tolerance=None, window=None))]
    fn set_bearer_props(
        &self,
        py: Python<'_>,
        name: &str,
        priority: Option<i64>,
        tolerance: Option<i64>,
        window: Option<i64>,
    ) -> PyResult<()> {
        let props = props(py, priority, tolerance, window)?;
        self.call(py, |node| node.set_bearer_props(name, &props))
    }

    /// Adds a unicast peer (`"IP[:PORT]"`) to a UDP bearer.
    ///
    /// Equivalent to: `tipc bearer add media udp name NAME remoteip IP remoteport PORT`.
    fn add_udp_remote(&self, py: Python<'_>, name: &str, remote: &str) -> PyResult<()> {
        let remote = remote
            .parse()
            .map_err(|_| invalid(py, "remote", remote, "expected IP:PORT or [IPv6]:PORT"))?;
        self.call(py, |node| node.add_udp_remote(name, remote))
    }

    /// Disables a bearer (`"eth:eth0"`), taking its links down.
    ///
    /// Equivalent to: `tipc bearer disable media eth device IF`.
    fn disable_bearer(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.call(py, |node| node.disable_bearer(name))
    }

    /// The nodes this node knows, up or down (`tipc node list`).
    fn peers(&self, py: Python<'_>) -> PyResult<Vec<PyTipcPeer>> {
        self.call(py, TipcNode::peers).map(|peers| peers.into_iter().map(PyTipcPeer).collect())
    }

    /// The links with their state, properties and counters (`tipc link list`).
    fn links(&self, py: Python<'_>) -> PyResult<Vec<PyTipcLink>> {
        self.call(py, TipcNode::links).map(|links| links.into_iter().map(PyTipcLink).collect())
    }

    fn __repr__(&self) -> String {
        format!("<TipcNode {}>", self.namespace.get().__repr__())
    }
}

/// The identity scheme argument: None (derived), a template string, or legacy addresses from a start.
#[derive(FromPyObject)]
enum SchemeArg<'py> {
    Legacy(PyRef<'py, PyTipcAddress>),
    Template(String),
}

/// The `wait_links` argument: a flag (True: 30 s) or seconds.
#[derive(FromPyObject)]
enum WaitArg {
    Flag(bool),
    Seconds(f64),
}

/// A set of guests joined into one TIPC network: one network id, one bearer, unique identities.
#[pyclass(module = "pipework._native", frozen, name = "TipcBus")]
pub(crate) struct PyTipcBus(TipcBus);

#[pymethods]
impl PyTipcBus {
    /// The bus settings, checked before anything is changed.
    #[new]
    #[pyo3(signature = (
        *, net_id=4711, bearer=None, identity=None, priority=None, tolerance=None, window=None,
        wait_links=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        net_id: i64,
        bearer: Option<BearerArg<'_>>,
        identity: Option<SchemeArg<'_>>,
        priority: Option<i64>,
        tolerance: Option<i64>,
        window: Option<i64>,
        wait_links: Option<WaitArg>,
    ) -> PyResult<Self> {
        let mut bus = TipcBus::new()
            .net_id(net_id_arg(py, net_id)?)
            .props(props(py, priority, tolerance, window)?);
        if let Some(bearer) = bearer {
            bus = bus.bearer(bearer.spec(py)?);
        }
        bus = bus.identities(match identity {
            None => IdentityScheme::Derived,
            Some(SchemeArg::Template(template)) => IdentityScheme::Template(template),
            Some(SchemeArg::Legacy(start)) => IdentityScheme::Legacy {
                zone: start.0.zone,
                cluster: start.0.cluster,
                first_node: start.0.node,
            },
        });
        bus = bus.link_timeout(match wait_links {
            None | Some(WaitArg::Flag(true)) => Some(DEFAULT_LINK_TIMEOUT),
            Some(WaitArg::Flag(false)) => None,
            Some(WaitArg::Seconds(seconds)) => Some(positive_seconds(py, "wait_links", seconds)?),
        });
        bus.validate().map_err(|err| to_py(py, err))?;
        Ok(PyTipcBus(bus))
    }

    /// The network id of every member.
    #[getter]
    fn net_id(&self) -> u32 {
        self.0.net_id
    }

    /// The bearer every member enables.
    #[getter]
    fn bearer(&self) -> PyBearerSpec {
        PyBearerSpec(self.0.bearer.clone())
    }

    /// Seconds `configure` waits for every link; None when it does not wait.
    #[getter]
    fn wait_links(&self) -> Option<f64> {
        self.0.link_timeout.as_ref().map(Duration::as_secs_f64)
    }

    /// The identity (or legacy address) the guest at `position` (from 0) gets.
    #[pyo3(signature = (guest, position=0))]
    fn identity_of(
        &self,
        py: Python<'_>,
        guest: GuestArg<'_>,
        position: usize,
    ) -> PyResult<String> {
        let source = GuestSource::new(py, guest)?;
        unlocked(py, || self.0.identity_of(&source.guest()?, position))
    }

    /// Joins `guests` into the bus and waits until every pair has a link up; idempotent.
    ///
    /// Equivalent to: `tipc net set id`, `tipc node set identity`, `tipc bearer enable` in
    /// every guest, then `tipc link list` until every pair is up.
    fn configure(&self, py: Python<'_>, guests: Vec<GuestArg<'_>>) -> PyResult<PyBusReport> {
        let guests = guests_of(py, guests)?;
        unlocked_interruptible(
            py,
            |interrupted| self.0.configure_interruptible(&guests, interrupted),
            drop,
        )
        .map(PyBusReport)
    }

    /// Reads the bus state of `guests` without changing anything (`pipework tipc show`).
    fn show(&self, py: Python<'_>, guests: Vec<GuestArg<'_>>) -> PyResult<PyBusReport> {
        let guests = guests_of(py, guests)?;
        unlocked(py, || self.0.show(&guests)).map(PyBusReport)
    }

    /// The settings as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "TipcBus(net_id={}, bearer='{}', wait_links={})",
            self.0.net_id,
            self.0.bearer,
            repr_option(self.wait_links().map(|seconds| format!("{seconds:?}")), false),
        )
    }
}

/// A network id argument (the core checks the range 1 to 9999).
fn net_id_arg(py: Python<'_>, net_id: i64) -> PyResult<u32> {
    required_int(py, "net id", net_id)
}

/// The core guests of a list of guest arguments (resolved without the GIL).
fn guests_of(py: Python<'_>, guests: Vec<GuestArg<'_>>) -> PyResult<Vec<pipework_core::Guest>> {
    let sources = guests
        .into_iter()
        .map(|guest| GuestSource::new(py, guest))
        .collect::<PyResult<Vec<_>>>()?;
    unlocked(py, || sources.into_iter().map(GuestSource::guest).collect())
}

/// The nodes and links of a bus, as `configure` left it or `show` found it.
#[pyclass(module = "pipework._native", frozen, name = "BusReport")]
pub(crate) struct PyBusReport(BusReport);

#[pymethods]
impl PyBusReport {
    /// The members, in the order given.
    #[getter]
    fn nodes(&self) -> Vec<PyBusNode> {
        self.0.nodes.iter().cloned().map(PyBusNode).collect()
    }

    /// Every ordered pair of members.
    #[getter]
    fn links(&self) -> Vec<PyBusLink> {
        self.0.links.iter().cloned().map(PyBusLink).collect()
    }

    /// Whether the call that made this report changed anything.
    #[getter]
    fn changed(&self) -> bool {
        self.0.changed()
    }

    /// Whether every pair of members has a link up.
    #[getter]
    fn all_links_up(&self) -> bool {
        self.0.all_links_up()
    }

    /// The report as plain values (the JSON of `pipework tipc --json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    /// The table of nodes and links.
    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "BusReport(nodes={}, links={}, all_links_up={}, changed={})",
            self.0.nodes.len(),
            self.0.links.len(),
            repr_bool(self.0.all_links_up()),
            repr_bool(self.0.changed()),
        )
    }
}

/// One member of a bus.
#[pyclass(module = "pipework._native", frozen, name = "BusNode")]
pub(crate) struct PyBusNode(BusNode);

#[pymethods]
impl PyBusNode {
    /// The guest, as it was described.
    #[getter]
    fn guest(&self) -> &str {
        &self.0.guest
    }

    /// Its network id.
    #[getter]
    fn net_id(&self) -> u32 {
        self.0.net_id
    }

    /// Its identity.
    #[getter]
    fn identity(&self) -> Option<PyNodeId> {
        self.0.identity.map(PyNodeId)
    }

    /// Its 32-bit address (0 until it has joined).
    #[getter]
    fn address(&self) -> u32 {
        self.0.address
    }

    /// Its bearers.
    #[getter]
    fn bearers(&self) -> Vec<String> {
        self.0.bearers.clone()
    }

    /// What the call changed on it, in order; empty when it was already configured.
    #[getter]
    fn changes(&self) -> Vec<String> {
        self.0.changes.clone()
    }

    /// The node as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "BusNode(guest='{}', identity={}, net_id={}, bearers={})",
            self.0.guest,
            repr_option(self.0.identity, true),
            self.0.net_id,
            repr_list(&self.0.bearers),
        )
    }
}

/// Whether one member has a link up to another.
#[pyclass(module = "pipework._native", frozen, name = "BusLink")]
pub(crate) struct PyBusLink(BusLink);

#[pymethods]
impl PyBusLink {
    /// The member whose link table was read (`"from"` in `to_dict()`).
    #[getter]
    fn source(&self) -> &str {
        &self.0.from
    }

    /// The member the link goes to (`"to"` in `to_dict()`).
    #[getter]
    fn target(&self) -> &str {
        &self.0.to
    }

    /// The kernel's name of the link, when it exists.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Whether it is up.
    #[getter]
    fn up(&self) -> bool {
        self.0.up
    }

    /// The link as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!("BusLink('{}' -> '{}', up={})", self.0.from, self.0.to, repr_bool(self.0.up))
    }
}
