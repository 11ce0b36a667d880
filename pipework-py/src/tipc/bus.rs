//! `TipcBus` and its report, over `pipework_core::tipc::bus`.

use std::time::Duration;

use pipework_core::tipc::{BusLink, BusNode, BusReport, IdentityScheme, TipcBus};
use pyo3::{prelude::*, types::PyDict};

use super::{
    bearer::{BearerArg, PyBearerSpec, props},
    identity::{PyNodeId, PyTipcAddress},
};
use crate::{
    errors::{to_py, unlocked, unlocked_interruptible},
    guest::{GuestArg, GuestSource},
    namespace::{positive_seconds, required_int},
    objects::{repr_bool, repr_list, repr_option, to_dict},
};

/// The identity scheme argument: None (derived), a template string, or legacy addresses from a start.
#[derive(FromPyObject)]
pub(super) enum SchemeArg<'py> {
    Legacy(PyRef<'py, PyTipcAddress>),
    Template(String),
}

/// The `wait_links` argument: a flag (True: 30 s) or seconds.
#[derive(FromPyObject)]
pub(super) enum WaitArg {
    Flag(bool),
    Seconds(f64),
}

/// A set of guests joined into one TIPC network: one network id, one bearer, unique identities.
#[pyclass(module = "pipework._native", frozen, name = "TipcBus")]
pub(crate) struct PyTipcBus(pub(super) TipcBus);

#[pymethods]
impl PyTipcBus {
    /// The bus settings, checked before anything is changed.
    #[new]
    #[pyo3(signature = (
        *, net_id=None, bearer=None, identity=None, priority=None, tolerance=None, window=None,
        wait_links=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        net_id: Option<i64>,
        bearer: Option<BearerArg<'_>>,
        identity: Option<SchemeArg<'_>>,
        priority: Option<i64>,
        tolerance: Option<i64>,
        window: Option<i64>,
        wait_links: Option<WaitArg>,
    ) -> PyResult<Self> {
        // Every setting left out is the core's default (net id 4711, eth:eth0, a 30 s wait).
        let mut bus = TipcBus::new().props(props(py, priority, tolerance, window)?);
        if let Some(net_id) = net_id {
            bus = bus.net_id(net_id_arg(py, net_id)?);
        }
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
        match wait_links {
            None | Some(WaitArg::Flag(true)) => {}
            Some(WaitArg::Flag(false)) => bus = bus.link_timeout(None),
            Some(WaitArg::Seconds(seconds)) => {
                bus = bus.link_timeout(Some(positive_seconds(py, "wait_links", seconds)?))
            }
        }
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
pub(super) fn net_id_arg(py: Python<'_>, net_id: i64) -> PyResult<u32> {
    required_int(py, "net id", net_id)
}

/// The core guests of a list of guest arguments (resolved without the GIL).
pub(super) fn guests_of(
    py: Python<'_>,
    guests: Vec<GuestArg<'_>>,
) -> PyResult<Vec<pipework_core::Guest>> {
    let sources = guests
        .into_iter()
        .map(|guest| GuestSource::new(py, guest))
        .collect::<PyResult<Vec<_>>>()?;
    unlocked(py, || sources.into_iter().map(GuestSource::guest).collect())
}

/// The nodes and links of a bus, as `configure` left it or `show` found it.
#[pyclass(module = "pipework._native", frozen, name = "BusReport")]
pub(crate) struct PyBusReport(pub(super) BusReport);

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
pub(crate) struct PyBusNode(pub(super) BusNode);

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
pub(crate) struct PyBusLink(pub(super) BusLink);

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
