//! `BearerSpec` and bearer properties, over `pipework_core::tipc::bearer`.

use std::str::FromStr;

use pipework_core::tipc::{BearerProps, BearerSpec, UdpLocal};
use pyo3::{prelude::*, types::PyDict};

use crate::{errors::to_py, namespace::int_arg, objects::to_dict};

/// A bearer to enable: `eth:IFNAME`, or `udp:NAME[,local=IP[:PORT]][,dev=IF][,port=P][,remote=IP[:PORT]]`.
#[pyclass(module = "pipework._native", frozen, eq, name = "BearerSpec")]
#[derive(PartialEq)]
pub(crate) struct PyBearerSpec(pub(super) BearerSpec);

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
pub(super) enum BearerArg<'py> {
    Spec(PyRef<'py, PyBearerSpec>),
    Text(String),
}

impl BearerArg<'_> {
    pub(super) fn spec(self, py: Python<'_>) -> PyResult<BearerSpec> {
        match self {
            BearerArg::Spec(spec) => Ok(spec.0.clone()),
            BearerArg::Text(text) => PyBearerSpec::new(py, &text).map(|spec| spec.0),
        }
    }
}

/// Link properties given as keywords; `None` keeps the kernel's.
pub(super) fn props(
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
