//! `Guest` and `resolve()`, and the guest arguments the API accepts (a `Guest`, a `Namespace`,
//! a PID or a target string), turned into a core `Guest` before the GIL is released.

use std::sync::Arc;

use pipework_core::{Engine, Guest, resolve as core_resolve};
use pyo3::prelude::*;

use crate::{
    errors::unlocked,
    namespace::{Opened, PyNamespace},
};

/// A container or namespace found by `resolve()`.
#[pyclass(module = "pipework._native", frozen, name = "Guest")]
pub(crate) struct PyGuest {
    namespace: Py<PyNamespace>,
    pid: Option<u32>,
    name: Option<String>,
    id: Option<String>,
    engine: Engine,
}

#[pymethods]
impl PyGuest {
    /// The guest's network namespace, held open.
    #[getter]
    fn namespace(&self, py: Python<'_>) -> Py<PyNamespace> {
        self.namespace.clone_ref(py)
    }

    /// A process inside the namespace, when the guest has one.
    #[getter]
    fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The guest's name (container or namespace name).
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The engine's ID of the guest (container ID).
    #[getter]
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Which resolver found it (`pid`, `netns`, ...).
    #[getter]
    fn engine(&self) -> String {
        self.engine.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Guest(engine='{}', name={}, pid={}, namespace={})",
            self.engine,
            self.name.as_deref().map_or("None".into(), |n| format!("'{n}'")),
            self.pid.map_or("None".into(), |p| p.to_string()),
            self.namespace.get().__repr__(),
        )
    }
}

/// Finds the guest `target` names with the core's default resolver chain.
///
/// Equivalent to: what pipework does with its guest argument.
#[pyfunction]
pub(crate) fn resolve(py: Python<'_>, target: &str) -> PyResult<PyGuest> {
    let guest = unlocked(py, || core_resolve(target))?;
    Ok(PyGuest {
        namespace: Py::new(py, PyNamespace::new(guest.namespace, false))?,
        pid: guest.pid,
        name: guest.name,
        id: guest.id,
        engine: guest.engine,
    })
}

/// A guest argument (of `attach()`, `DhcpLease.acquire()`, a TIPC bus): a `Guest`, a
/// `Namespace`, a PID or a target string.
#[derive(FromPyObject)]
pub(crate) enum GuestArg<'py> {
    Guest(PyRef<'py, PyGuest>),
    Namespace(PyRef<'py, PyNamespace>),
    Pid(u32),
    Target(String),
}

/// What the guest argument becomes before the GIL is released.
pub(crate) enum GuestSource {
    /// An open namespace, with what is known of its guest.
    Opened {
        opened: Arc<Opened>,
        pid: Option<u32>,
        name: Option<String>,
        id: Option<String>,
        engine: Option<Engine>,
    },
    /// A target for the resolvers.
    Target(String),
}

impl GuestSource {
    /// Takes what the call needs from a guest argument while the GIL is held.
    pub(crate) fn new(py: Python<'_>, arg: GuestArg<'_>) -> PyResult<Self> {
        Ok(match arg {
            GuestArg::Guest(guest) => GuestSource::Opened {
                opened: guest.namespace.get().opened(py)?,
                pid: guest.pid,
                name: guest.name.clone(),
                id: guest.id.clone(),
                engine: Some(guest.engine.clone()),
            },
            GuestArg::Namespace(namespace) => GuestSource::Opened {
                opened: namespace.opened(py)?,
                pid: None,
                name: None,
                id: None,
                engine: None,
            },
            GuestArg::Pid(pid) => GuestSource::Target(format!("pid:{pid}")),
            GuestArg::Target(target) => GuestSource::Target(target),
        })
    }

    /// The core guest, resolved or with a second descriptor of the open namespace.
    pub(crate) fn guest(self) -> pipework_core::Result<Guest> {
        match self {
            GuestSource::Target(target) => core_resolve(&target),
            GuestSource::Opened { opened, pid, name, id, engine } => {
                let mut guest = Guest::from_namespace(opened.namespace.try_clone()?);
                if let Some(engine) = engine {
                    guest = Guest { pid, name, id, engine, ..guest };
                }
                Ok(guest)
            }
        }
    }
}

/// A namespace argument: a `Namespace`, or the namespace of a `Guest`.
#[derive(FromPyObject)]
pub(crate) enum NamespaceArg<'py> {
    Namespace(Py<PyNamespace>),
    Guest(PyRef<'py, PyGuest>),
}

impl NamespaceArg<'_> {
    /// The `Namespace` object.
    pub(crate) fn into_namespace(self, py: Python<'_>) -> Py<PyNamespace> {
        match self {
            NamespaceArg::Namespace(namespace) => namespace,
            NamespaceArg::Guest(guest) => guest.namespace.clone_ref(py),
        }
    }
}
