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
mod topology;
mod watch;

use pyo3::prelude::*;

/// The crate's SemVer version written as PEP 440 wants it, like maturin writes the wheel's:
/// `1.2.3-rc.1` is `1.2.3rc1`, `-alpha.N` and `-beta.N` are `aN` and `bN`, any other
/// pre-release is `.devN`, and build metadata becomes a local version (`+build.5`).
fn pep440(semver: &str) -> String {
    let (version, local) = semver.split_once('+').map_or((semver, None), |(v, l)| (v, Some(l)));
    let mut pep = match version.split_once('-') {
        None => version.to_string(),
        Some((release, pre)) => {
            let (tag, number) = pre.split_once('.').unwrap_or((pre, "0"));
            let number = number.replace('.', "");
            let number =
                if number.chars().all(|c| c.is_ascii_digit()) { number } else { "0".into() };
            match tag {
                "alpha" | "a" => format!("{release}a{number}"),
                "beta" | "b" => format!("{release}b{number}"),
                "rc" => format!("{release}rc{number}"),
                _ => format!("{release}.dev{number}"),
            }
        }
    };
    if let Some(local) = local {
        pep.push('+');
        pep.push_str(&local.replace('-', "."));
    }
    pep
}

/// The module `pipework._native`.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", pep440(env!("CARGO_PKG_VERSION")))?;
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
    m.add_class::<topology::PyTopology>()?;
    m.add_class::<watch::PyWatch>()?;
    m.add_function(wrap_pyfunction!(watch::watch, m)?)?;
    // Re-exported by `pipework.tipc`, not by `pipework` itself (so not in `__all__`).
    tipc::register(m)?;
    Ok(())
}
