//! `watch()` and `Watch`: `pipework watch` on a thread of the calling process, for test
//! harnesses; started by `with` (or `start()`), stopped cleanly by leaving it (or `stop()`).

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use pipework_cli::plan::plan_ask;
use pipework_core::{
    Error, StateStore,
    resolve::DockerResolver,
    watch::{Report, Watcher},
};
use pyo3::{prelude::*, types::PyTuple};

use crate::{
    errors::{new_error, to_py, unlocked},
    namespace::PyNamespace,
};

/// Lines of the watcher's reports, shared with its thread.
type Lines = Arc<Mutex<Vec<String>>>;

/// A watcher of Docker and Podman (what `pipework watch` runs), on its own thread.
#[pyclass(module = "pipework._native", frozen, name = "Watch")]
pub(crate) struct PyWatch {
    engines: Vec<String>,
    state_dir: Option<PathBuf>,
    host_netns: Option<Py<PyNamespace>>,
    lines: Lines,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<pipework_core::Result<()>>>>,
}

impl PyWatch {
    /// The core watcher this object describes, its reports collected in `lines`.
    fn watcher(&self, py: Python<'_>) -> PyResult<Watcher> {
        let engines = self
            .engines
            .iter()
            .map(|engine| match engine.as_str() {
                "podman" => DockerResolver::podman(),
                _ => DockerResolver::docker(),
            })
            .collect();
        let state = self.state_dir.clone().map_or_else(StateStore::from_env, StateStore::new);
        let notes = self.lines.clone();
        let reports = self.lines.clone();
        let mut watcher = Watcher::new(
            engines,
            Watcher::store_in(&state),
            // Without a keeper command, `--daemon` asks use pipework-dhcp-keeper.
            Box::new(move |host, guest, ask| {
                plan_ask(host, guest, ask, None, &mut |note| push(&notes, note))
            }),
            Box::new(move |report: Report| push(&reports, report.to_string())),
        );
        if let Some(namespace) = &self.host_netns {
            let opened = namespace.get().opened(py)?;
            watcher = watcher.in_host(unlocked(py, || opened.namespace.try_clone())?);
        }
        Ok(watcher)
    }
}

fn push(lines: &Lines, line: String) {
    lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(line);
}

#[pymethods]
impl PyWatch {
    /// Starts following the engines on a thread; an error when it already runs.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let mut thread = self.thread.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if thread.is_some() {
            return Err(new_error(py, "PipeworkError", libc::EBUSY, "the watcher already runs"));
        }
        let watcher = self.watcher(py)?;
        self.stop.store(false, Ordering::SeqCst);
        let stop = self.stop.clone();
        *thread = Some(std::thread::spawn(move || watcher.run(&stop)));
        Ok(())
    }

    /// Stops the thread (within 0.2 s) and waits for it; what it attached stays attached.
    /// The watcher's own failure (an engine address that is not a unix socket) is raised here.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let Some(thread) =
            self.thread.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
        else {
            return Ok(());
        };
        self.stop.store(true, Ordering::SeqCst);
        let outcome = py.detach(|| thread.join());
        match outcome {
            Ok(result) => result.map_err(|err| to_py(py, err)),
            Err(_) => Err(new_error(py, "PipeworkError", libc::EIO, "the watcher thread panicked")),
        }
    }

    /// Reconciles once on the calling thread (what `pipework watch --once` does).
    fn reconcile_once(&self, py: Python<'_>) -> PyResult<()> {
        let watcher = self.watcher(py)?;
        unlocked(py, || watcher.reconcile_once())
    }

    /// Whether the thread runs.
    #[getter]
    fn running(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// The lines the watcher reported so far, one per action (what `pipework watch` prints).
    #[getter]
    fn reports(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        slf.get().start(py)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.stop(py)
    }

    fn __repr__(&self) -> String {
        format!("Watch(engines={:?}, running={})", self.engines, self.running())
    }
}

/// A watcher of `engines` (`"docker"` at `$DOCKER_HOST`, `"podman"` at `$CONTAINER_HOST`),
/// its records under `state_dir` (default `$PIPEWORK_STATE_DIR` or /run/pipework) in `watch/`,
/// host sides in `host_netns` (default: the caller's namespace). `with pipework.watch() as w:`
/// runs it on a thread until the block ends.
#[pyfunction]
#[pyo3(signature = (engines=None, *, state_dir=None, host_netns=None))]
pub(crate) fn watch(
    py: Python<'_>,
    engines: Option<Vec<String>>,
    state_dir: Option<PathBuf>,
    host_netns: Option<Py<PyNamespace>>,
) -> PyResult<PyWatch> {
    let engines = engines.unwrap_or_else(|| vec!["docker".into(), "podman".into()]);
    if engines.is_empty() {
        return Err(to_py(py, Error::invalid("engines", "[]", "name docker, podman or both")));
    }
    if let Some(bad) = engines.iter().find(|e| !matches!(e.as_str(), "docker" | "podman")) {
        return Err(to_py(py, Error::invalid("engines", bad.clone(), "is not docker or podman")));
    }
    Ok(PyWatch {
        engines,
        state_dir,
        host_netns,
        lines: Arc::default(),
        stop: Arc::default(),
        thread: Mutex::new(None),
    })
}
