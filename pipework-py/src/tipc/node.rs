//! `TipcNode` and what it reads back (config, bearers, peers, links), over `pipework_core::tipc::node`.

use pipework_core::tipc::{Bearer, NodeConfig, TipcLink, TipcNode, TipcPeer};
use pyo3::{prelude::*, types::PyDict};

use super::{
    bearer::{BearerArg, props},
    bus::net_id_arg,
    identity::{AddressArg, NodeIdArg, PyNodeId, PyTipcAddress},
};
use crate::{
    errors::unlocked,
    guest::NamespaceArg,
    namespace::{PyNamespace, invalid},
    objects::{repr_bool, repr_option, to_dict},
};

/// The node-wide settings of a namespace (`tipc net get`, `tipc node get identity|address`).
#[pyclass(module = "pipework._native", frozen, name = "TipcConfig")]
pub(crate) struct PyTipcConfig(pub(super) NodeConfig);

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
pub(crate) struct PyTipcBearer(pub(super) Bearer);

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
pub(crate) struct PyTipcPeer(pub(super) TipcPeer);

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
pub(crate) struct PyTipcLink(pub(super) TipcLink);

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
        let identity = identity.id(py)?;
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
        let address = address.address(py)?;
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
