//! `pipework._native`: the pyo3 binding of pipework-core, re-exported by the `pipework` package.
//!
//! Conversion only: every operation is a call into pipework-core made without the GIL.
//! The typed surface lives in `python/pipework/_native.pyi`; stubtest keeps the two in step.

mod attach;
mod dhcp;
mod errors;
mod guest;
mod namespace;
mod objects;
mod tipc;

use pyo3::prelude::*;

/// The module `pipework._native`.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<namespace::PyNamespace>()?;
    m.add_class::<objects::Link>()?;
    m.add_class::<objects::Address>()?;
    m.add_class::<objects::Route>()?;
    m.add_class::<guest::PyGuest>()?;
    m.add_class::<attach::PyAttachment>()?;
    m.add_class::<dhcp::PyDhcpOptions>()?;
    m.add_class::<dhcp::PyDhcpLease>()?;
    m.add_class::<dhcp::PyLeaseRecord>()?;
    m.add_class::<dhcp::PyLeaseEvent>()?;
    m.add_function(wrap_pyfunction!(guest::resolve, m)?)?;
    m.add_function(wrap_pyfunction!(attach::attach, m)?)?;
    m.add_function(wrap_pyfunction!(namespace::wait_for, m)?)?;
    // Re-exported by `pipework.tipc`, not by `pipework` itself (so not in `__all__`).
    tipc::register(m)?;
    Ok(())
}
