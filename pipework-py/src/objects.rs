//! What link queries return: small immutable objects with attributes in pyroute2's vocabulary.

use pipework_core::{Address as CoreAddress, Link as CoreLink, OperState, Route as CoreRoute};
use pyo3::{prelude::*, types::PyDict};

/// Turns a serde-serialisable core value into plain Python objects (the JSON the CLI prints).
pub(crate) fn to_dict<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyDict>> {
    let text = serde_json::to_string(value)
        .map_err(|err| pyo3::exceptions::PyRuntimeError::new_err(err.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.cast_into::<PyDict>()?)
}

/// A hash for `__hash__`, consistent with the `__eq__` of the same fields.
fn hash_of(value: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

/// An optional value as Python writes it: `'text'` (quoted) or `42`, or `None`.
pub(crate) fn repr_option<T: std::fmt::Display>(value: Option<T>, quoted: bool) -> String {
    match value {
        Some(v) if quoted => format!("'{v}'"),
        Some(v) => v.to_string(),
        None => "None".into(),
    }
}

/// A list of texts as Python writes it: `['a', 'b']`.
pub(crate) fn repr_list<T: std::fmt::Display>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("[{}]", items.join(", "))
}

/// A boolean as Python writes it.
pub(crate) fn repr_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// A link as the kernel reports it (`ip -d link show`).
#[pyclass(module = "pipework._native", frozen, name = "Link")]
pub(crate) struct Link(pub(crate) CoreLink);

#[pymethods]
impl Link {
    /// Interface index.
    #[getter]
    fn index(&self) -> u32 {
        self.0.index
    }

    /// Interface name.
    #[getter]
    fn ifname(&self) -> &str {
        &self.0.name
    }

    /// Kind (`veth`, `bridge`, ...); None for physical devices and loopback.
    #[getter]
    fn kind(&self) -> Option<&str> {
        self.0.kind.as_deref()
    }

    /// Hardware address, lower case.
    #[getter]
    fn address(&self) -> Option<String> {
        self.0.mac.map(|mac| mac.to_string())
    }

    /// MTU in bytes.
    #[getter]
    fn mtu(&self) -> u32 {
        self.0.mtu
    }

    /// Operational state: up, down, lower_layer_down, dormant, testing, not_present, unknown.
    #[getter]
    fn state(&self) -> &'static str {
        match self.0.oper_state {
            OperState::Up => "up",
            OperState::Down => "down",
            OperState::LowerLayerDown => "lower_layer_down",
            OperState::Dormant => "dormant",
            OperState::Testing => "testing",
            OperState::NotPresent => "not_present",
            OperState::Unknown => "unknown",
        }
    }

    /// Index of the bridge this link is a port of.
    #[getter]
    fn master(&self) -> Option<u32> {
        self.0.master
    }

    /// Index of the lower device or veth peer (IFLA_LINK), possibly in another namespace.
    #[getter]
    fn link(&self) -> Option<u32> {
        self.0.parent
    }

    /// The `IFF_*` flags.
    #[getter]
    fn flags(&self) -> u32 {
        self.0.flags
    }

    /// The interface alias.
    #[getter]
    fn alias(&self) -> Option<&str> {
        self.0.alias.as_deref()
    }

    /// Whether the link is administratively up (IFF_UP).
    #[getter]
    fn up(&self) -> bool {
        self.0.is_up()
    }

    /// Whether the link has carrier (IFF_LOWER_UP).
    #[getter]
    fn carrier(&self) -> bool {
        self.0.has_carrier()
    }

    /// The link as a dict of plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "Link(index={}, ifname='{}', kind={}, address={}, mtu={}, state='{}', master={})",
            self.0.index,
            self.0.name,
            repr_option(self.kind(), true),
            repr_option(self.address(), true),
            self.0.mtu,
            self.state(),
            repr_option(self.0.master, false),
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Link>().is_ok_and(|other| other.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        hash_of((self.0.index, &self.0.name))
    }
}

/// An address on a link (`ip addr show`).
#[pyclass(module = "pipework._native", frozen, name = "Address")]
pub(crate) struct Address(pub(crate) CoreAddress);

#[pymethods]
impl Address {
    /// Index of the link that carries it.
    #[getter]
    fn index(&self) -> u32 {
        self.0.index
    }

    /// The address without its prefix length.
    #[getter]
    fn address(&self) -> String {
        self.0.net.addr().to_string()
    }

    /// The prefix length.
    #[getter]
    fn prefixlen(&self) -> u8 {
        self.0.net.prefix_len()
    }

    /// `socket.AF_INET` or `socket.AF_INET6`.
    #[getter]
    fn family(&self) -> i32 {
        if self.0.net.addr().is_ipv4() { libc::AF_INET } else { libc::AF_INET6 }
    }

    /// True while duplicate address detection has not passed (`tentative` in `ip addr`).
    #[getter]
    fn tentative(&self) -> bool {
        self.0.tentative
    }

    /// The address as a dict of plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __str__(&self) -> String {
        self.0.net.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Address('{}', index={})", self.0.net, self.0.index)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Address>().is_ok_and(|other| other.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        hash_of((self.0.index, self.0.net))
    }
}

/// A route of the main table (`ip route show`).
#[pyclass(module = "pipework._native", frozen, name = "Route")]
pub(crate) struct Route(pub(crate) CoreRoute);

#[pymethods]
impl Route {
    /// Destination prefix (`0.0.0.0/0` or `::/0` for a default route).
    #[getter]
    fn dst(&self) -> String {
        self.0.destination.to_string()
    }

    /// Next hop, or None for a route straight out of the interface.
    #[getter]
    fn gateway(&self) -> Option<String> {
        self.0.gateway.map(|ip| ip.to_string())
    }

    /// Output interface index.
    #[getter]
    fn oif(&self) -> Option<u32> {
        self.0.oif
    }

    /// Metric.
    #[getter]
    fn priority(&self) -> Option<u32> {
        self.0.metric
    }

    /// Whether this is a default route.
    #[getter]
    fn default(&self) -> bool {
        self.0.is_default()
    }

    /// The route as a dict of plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Route(dst='{}', gateway={}, oif={}, priority={})",
            self.0.destination,
            repr_option(self.0.gateway, true),
            repr_option(self.0.oif, false),
            repr_option(self.0.metric, false),
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Route>().is_ok_and(|other| other.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        hash_of((self.0.destination, self.0.gateway, self.0.oif, self.0.metric))
    }
}
