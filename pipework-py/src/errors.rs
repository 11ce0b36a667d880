//! The exception classes of `pipework`, and the conversion of core errors into them.
//!
//! Every class derives from `PipeworkError(OSError)`, so `.errno` and `.strerror` are there
//! (and `.code`, pyroute2's name for the errno);
//! `InvalidArgument` is also a `ValueError` and `MissingCapability` a `PermissionError`.
//! The classes are made with `type(...)` at import because pyo3's `create_exception!`
//! allows one base only.

use std::sync::Mutex;

use pipework_core::{Category, Error};
use pyo3::{
    exceptions::{PyOSError, PyPermissionError, PyValueError},
    prelude::*,
    sync::PyOnceLock,
    types::{PyDict, PyTuple, PyType},
};

/// The classes, by name, in the order they are made (each base before its subclasses).
const CLASSES: [(&str, &str); 9] = [
    ("PipeworkError", "Base class of pipework's errors; an OSError whose .errno is the cause."),
    ("NotFound", "Something the operation needs does not exist (ENOENT, ENODEV)."),
    ("AlreadyExists", "Something the operation would create already exists (EEXIST)."),
    ("ResolveError", "A guest target names no container, process or namespace."),
    ("NamespaceError", "A network namespace cannot be opened, created, entered or deleted."),
    ("DhcpError", "A DHCP exchange failed: no answer (ETIMEDOUT), a refusal (ECONNREFUSED), ..."),
    ("TipcError", "A TIPC operation failed; a kernel without TIPC gives EOPNOTSUPP and the fix."),
    ("InvalidArgument", "An argument is malformed or out of range (EINVAL); nothing was changed."),
    ("MissingCapability", "The kernel refused for lack of a capability (EPERM); see .capability."),
];

static TYPES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

/// Makes the exception classes (once) and adds them to module `m`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let types = TYPES.get_or_try_init(py, || make_types(py))?;
    for ((name, _), class) in CLASSES.iter().zip(types) {
        m.add(*name, class.bind(py))?;
    }
    Ok(())
}

fn make_types(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let type_of = py.get_type::<PyType>();
    let mut made: Vec<Py<PyType>> = Vec::new();
    for (name, doc) in CLASSES {
        // The first class is the base of all the others.
        let bases = match made.first().map(|base| base.bind(py).clone()) {
            None => PyTuple::new(py, [py.get_type::<PyOSError>()])?,
            Some(base) if name == "InvalidArgument" => {
                PyTuple::new(py, [base, py.get_type::<PyValueError>()])?
            }
            Some(base) if name == "MissingCapability" => {
                PyTuple::new(py, [base, py.get_type::<PyPermissionError>()])?
            }
            Some(base) => PyTuple::new(py, [base])?,
        };
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "pipework")?;
        namespace.set_item("__doc__", doc)?;
        if made.is_empty() {
            // `.code`: pyroute2's name for the errno, so code written against it keeps working.
            let errno = py.import("operator")?.getattr("attrgetter")?.call1(("errno",))?;
            let options = PyDict::new(py);
            options.set_item("doc", "The errno, as pyroute2's NetlinkError.code.")?;
            let property = py.import("builtins")?.getattr("property")?;
            namespace.set_item("code", property.call((errno,), Some(&options))?)?;
        }
        let class = type_of.call1((name, bases, namespace))?.cast_into::<PyType>()?;
        made.push(class.unbind());
    }
    Ok(made)
}

/// The class called `name`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let types = TYPES.get_or_try_init(py, || make_types(py))?;
    let at = CLASSES.iter().position(|(n, _)| *n == name).expect("a class of CLASSES");
    Ok(types[at].bind(py).clone())
}

/// Builds an exception of class `name` with `errno` and `message`.
pub(crate) fn new_error(py: Python<'_>, name: &str, errno: i32, message: &str) -> PyErr {
    match class(py, name).and_then(|class| class.call1((errno, message))) {
        Ok(exception) => PyErr::from_value(exception),
        Err(err) => err,
    }
}

/// Converts a core error into the matching exception, keeping the errno and the message.
pub(crate) fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let name = match err.category() {
        Category::InvalidArgument => "InvalidArgument",
        Category::MissingCapability => "MissingCapability",
        Category::Resolve => "ResolveError",
        Category::NotFound => "NotFound",
        Category::AlreadyExists => "AlreadyExists",
        Category::Namespace => "NamespaceError",
        Category::Dhcp => "DhcpError",
        Category::Tipc => "TipcError",
        _ => "PipeworkError",
    };
    let exception = new_error(py, name, err.errno() as i32, &err.to_string());
    if let Some(capability) = err.missing_capability()
        && let Err(failed) = exception.value(py).setattr("capability", capability)
    {
        return failed;
    }
    exception
}

/// Runs `f` without the GIL and converts its error: every kernel round trip goes through here.
pub(crate) fn unlocked<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> pipework_core::Result<T> + Send,
) -> PyResult<T> {
    py.detach(f).map_err(|err| to_py(py, err))
}

/// Like [`unlocked`] for a call that can give up early: `call` gets a check for Ctrl-C,
/// which takes the GIL back for the moment to run Python's signal handlers. When a handler
/// raised (KeyboardInterrupt), that exception is what the caller gets, and a result that
/// came in anyway is handed to `undo` first.
pub(crate) fn unlocked_interruptible<T: Send>(
    py: Python<'_>,
    call: impl FnOnce(&dyn Fn() -> bool) -> pipework_core::Result<T> + Send,
    undo: impl FnOnce(T) + Send,
) -> PyResult<T> {
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let outcome = py.detach(|| {
        let interrupted = || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(err) => {
                *raised.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(err);
                true
            }
        };
        call(&interrupted)
    });
    match (outcome, raised.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())) {
        (Ok(value), Some(raised)) => {
            py.detach(|| undo(value));
            Err(raised)
        }
        (Err(_), Some(raised)) => Err(raised),
        (outcome, None) => outcome.map_err(|err| to_py(py, err)),
    }
}
