//! `NodeId` and `TipcAddress`, over `pipework_core::tipc::identity`.

use std::str::FromStr;

use pipework_core::tipc::{NodeId, TipcAddress};
use pyo3::{prelude::*, types::PyBytes};

use crate::{errors::to_py, namespace::required_int};

/// A TIPC node's 128-bit identity, written as a name (`"web"`) or hex, like `tipc node get identity`.
#[pyclass(module = "pipework._native", frozen, eq, hash, name = "NodeId")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct PyNodeId(pub(super) NodeId);

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
pub(crate) struct PyTipcAddress(pub(super) TipcAddress);

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

/// An identity given as a `NodeId` or as its text.
#[derive(FromPyObject)]
pub(super) enum NodeIdArg<'py> {
    Id(PyRef<'py, PyNodeId>),
    Text(String),
}

/// A legacy address given as a `TipcAddress` or as `"Z.C.N"`.
#[derive(FromPyObject)]
pub(super) enum AddressArg<'py> {
    Address(PyRef<'py, PyTipcAddress>),
    Text(String),
}

impl NodeIdArg<'_> {
    /// The identity, parsed when given as text.
    pub(super) fn id(self, py: Python<'_>) -> PyResult<NodeId> {
        match self {
            NodeIdArg::Id(id) => Ok(id.0),
            NodeIdArg::Text(text) => PyNodeId::new(py, &text).map(|id| id.0),
        }
    }
}

impl AddressArg<'_> {
    /// The address, parsed when given as text.
    pub(super) fn address(self, py: Python<'_>) -> PyResult<TipcAddress> {
        match self {
            AddressArg::Address(address) => Ok(address.0),
            AddressArg::Text(text) => PyTipcAddress::parse(py, &text).map(|address| address.0),
        }
    }
}
