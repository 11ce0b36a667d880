//! `Topology`: a lab file (containerlab's format) as pipework-core reads it, and its `plan`,
//! `apply`, `destroy` and `status` (what `pipework diff|apply|destroy|show --lab` do).

use std::path::PathBuf;

use pipework_core::{StateStore, topology::Topology};
use pyo3::{
    prelude::*,
    types::{PyDict, PyString},
};

use crate::{
    errors::{to_py, unlocked},
    namespace::PyNamespace,
};

/// A lab: nodes and links, checked as `pipework apply` checks its file.
#[pyclass(module = "pipework._native", frozen, name = "Topology")]
pub(crate) struct PyTopology {
    topology: Topology,
}

/// Where a lab's operations run: the host namespace (default: the caller's) and the state
/// directory (default: `$PIPEWORK_STATE_DIR` or /run/pipework) that keeps the lab's record.
struct Place {
    host: std::sync::Arc<crate::namespace::Opened>,
    store: StateStore,
}

impl Place {
    fn new(
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
    ) -> PyResult<Self> {
        let host = match host_netns {
            Some(namespace) => namespace.get().opened(py)?,
            None => PyNamespace::current(py)?.opened(py)?,
        };
        Ok(Place { host, store: state_dir.map_or_else(StateStore::from_env, StateStore::new) })
    }
}

impl PyTopology {
    /// Runs `call` on the lab without the GIL, in the host namespace and with the state
    /// directory given (see [`Place`]), and returns what it gives as Python values.
    fn call<T: serde::Serialize + Send>(
        &self,
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
        call: impl FnOnce(&pipework_core::Handle, &Topology, &StateStore) -> pipework_core::Result<T>
        + Send,
    ) -> PyResult<Py<PyAny>> {
        let place = Place::new(py, state_dir, host_netns)?;
        let value = unlocked(py, || call(place.host.handle()?, &self.topology, &place.store))?;
        to_python(py, &value)
    }
}

/// `value` (serde) as the Python value `json.loads` makes of it.
fn to_python(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).expect("pipework's types serialise");
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

#[pymethods]
impl PyTopology {
    /// Reads a lab from the path of its file (YAML or JSON) or from a dict of the file's shape.
    #[new]
    fn new(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Self> {
        let topology = if let Ok(dict) = source.cast::<PyDict>() {
            let text: String = py.import("json")?.call_method1("dumps", (dict,))?.extract()?;
            Topology::parse(&text, "<dict>")
        } else if source.is_instance_of::<PyString>() || source.hasattr("__fspath__")? {
            let path: PathBuf = source.extract()?;
            Topology::from_file(&path)
        } else {
            Err(pipework_core::Error::invalid(
                "topology",
                source.repr()?.to_string(),
                "give the path of a lab file or a dict of its shape",
            ))
        };
        Ok(PyTopology { topology: topology.map_err(|err| to_py(py, err))? })
    }

    /// Reads a lab from the text of a file (YAML or JSON); `source` names it in errors.
    #[staticmethod]
    #[pyo3(signature = (text, source = "<text>"))]
    fn parse(py: Python<'_>, text: &str, source: &str) -> PyResult<Self> {
        let topology = Topology::parse(text, source).map_err(|err| to_py(py, err))?;
        Ok(PyTopology { topology })
    }

    /// The same lab under another name, its namespaces renamed with it (`clab-<name>-<node>`),
    /// so that several copies of one file can be applied at once.
    fn renamed(&self, py: Python<'_>, name: &str) -> PyResult<Self> {
        let topology = self.topology.renamed(name).map_err(|err| to_py(py, err))?;
        Ok(PyTopology { topology })
    }

    /// The lab's name.
    #[getter]
    fn name(&self) -> &str {
        &self.topology.name
    }

    /// The node names, sorted.
    #[getter]
    fn nodes(&self) -> Vec<String> {
        self.topology.nodes.keys().cloned().collect()
    }

    /// The name under /run/netns of the namespace apply makes for node `node`, or `None` for a
    /// bridge or guest node.
    fn netns_name(&self, node: &str) -> Option<String> {
        self.topology.netns_of(node).map(str::to_string)
    }

    /// The lab as the file says it, checked (`{"name", "nodes", "links"}`).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.topology)
    }

    /// The steps that would take the lab from what its previous apply made to this file,
    /// each a dict (`{"step": "add_link", "link": {...}}`); changes nothing.
    ///
    /// Equivalent to: `pipework diff FILE --json`.
    #[pyo3(signature = (*, state_dir=None, host_netns=None))]
    fn plan(
        &self,
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, state_dir, host_netns, |host, topology, store| {
            pipework_core::topology::plan(host, topology, store).map(|plan| plan.steps)
        })
    }

    /// Makes the lab what the file says, as one transaction; returns the steps it made.
    ///
    /// Equivalent to: `pipework apply FILE --json`.
    #[pyo3(signature = (*, state_dir=None, host_netns=None))]
    fn apply(
        &self,
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, state_dir, host_netns, |host, topology, store| {
            pipework_core::topology::apply(host, topology, store).map(|plan| plan.steps)
        })
    }

    /// Removes what the applies of this lab made; returns the steps it made.
    ///
    /// Equivalent to: `pipework destroy --lab NAME --json`.
    #[pyo3(signature = (*, state_dir=None, host_netns=None))]
    fn destroy(
        &self,
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, state_dir, host_netns, |host, topology, store| {
            pipework_core::topology::destroy(host, &topology.name, store).map(|plan| plan.steps)
        })
    }

    /// What the applies of this lab made and whether each is in place now
    /// (`{"lab", "namespaces", "bridges", "links", "tunnels"}`, entries `{"item", "present"}`),
    /// or `None` when the lab has no record.
    ///
    /// Equivalent to: `pipework show --lab NAME --json`.
    #[pyo3(signature = (*, state_dir=None, host_netns=None))]
    fn status(
        &self,
        py: Python<'_>,
        state_dir: Option<PathBuf>,
        host_netns: Option<Py<PyNamespace>>,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, state_dir, host_netns, |host, topology, store| {
            pipework_core::topology::status(host, &topology.name, store)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Topology(name={:?}, nodes={}, links={})",
            self.topology.name,
            self.topology.nodes.len(),
            self.topology.links.len()
        )
    }
}
