//! `pipework._native`: the pyo3 binding of pipework-core, re-exported by the `pipework` package.
//!
//! Conversion only: every operation is a call into pipework-core made without the GIL.
//! The typed surface lives in `python/pipework/_native.pyi`; stubtest keeps the two in step.

mod attach;
mod errors;
mod namespace;
mod objects;

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
    m.add_class::<attach::PyGuest>()?;
    m.add_class::<attach::PyAttachment>()?;
    m.add_function(wrap_pyfunction!(attach::resolve, m)?)?;
    m.add_function(wrap_pyfunction!(attach::attach, m)?)?;
    Ok(())
}
