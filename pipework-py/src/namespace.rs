//! `Namespace`: a network namespace held open, with link queries and the building blocks
//! test harnesses use (bridge, veth pair, addresses, ping), each a call into pipework-core.

use std::{
    net::IpAddr,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use pipework_core::{
    Bridge, Condition, Handle, LinkRef, MacAddr, Namespace, NamespaceId, NamespaceOrigin, Veth,
    parse_cidr, parse_ip,
};
use pyo3::{prelude::*, types::PyTuple};

use crate::{
    errors::{new_error, to_py, unlocked, unlocked_interruptible},
    guest::NamespaceArg,
    objects::{Address, Link, Route},
};

/// How long one slice of a long wait lasts before Ctrl-C is checked.
pub(crate) const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// A link named or numbered from Python: `"eth1"` or `7`.
#[derive(FromPyObject)]
pub(crate) enum LinkArg {
    /// An interface index.
    Index(u32),
    /// An interface name.
    Name(String),
}

impl From<LinkArg> for LinkRef {
    fn from(arg: LinkArg) -> Self {
        match arg {
            LinkArg::Index(index) => LinkRef::Index(index),
            LinkArg::Name(name) => LinkRef::Name(name),
        }
    }
}

/// The open namespace and its netlink handle, opened on first use and shared by every thread.
pub(crate) struct Opened {
    pub(crate) namespace: Namespace,
    handle: OnceLock<Handle>,
}

impl Opened {
    /// The namespace's netlink handle.
    pub(crate) fn handle(&self) -> pipework_core::Result<&Handle> {
        if let Some(handle) = self.handle.get() {
            return Ok(handle);
        }
        let handle = Handle::new(&self.namespace)?;
        Ok(self.handle.get_or_init(|| handle))
    }
}

/// A network namespace, held open by its file descriptor.
#[pyclass(module = "pipework._native", frozen, name = "Namespace")]
pub(crate) struct PyNamespace {
    opened: Mutex<Option<Arc<Opened>>>,
    id: NamespaceId,
    origin: NamespaceOrigin,
    description: String,
    created: bool,
}

impl PyNamespace {
    /// Wraps a core namespace; `created` says whether this object made it (and deletes it on exit).
    pub(crate) fn new(namespace: Namespace, created: bool) -> Self {
        PyNamespace {
            id: namespace.id(),
            origin: namespace.origin().clone(),
            description: namespace.to_string(),
            created,
            opened: Mutex::new(Some(Arc::new(Opened { namespace, handle: OnceLock::new() }))),
        }
    }

    /// The open namespace, or NamespaceError(EBADF) once it is closed or deleted.
    pub(crate) fn opened(&self, py: Python<'_>) -> PyResult<Arc<Opened>> {
        self.lock().clone().ok_or_else(|| {
            new_error(
                py,
                "NamespaceError",
                libc::EBADF,
                &format!("{} is closed or deleted", self.description),
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Opened>>> {
        self.opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the namespace's handle, without the GIL.
    fn with_handle<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Handle) -> pipework_core::Result<T> + Send,
    ) -> PyResult<T> {
        let opened = self.opened(py)?;
        unlocked(py, || f(opened.handle()?))
    }
}

#[pymethods]
impl PyNamespace {
    /// The namespace of the calling thread.
    #[staticmethod]
    pub(crate) fn current(py: Python<'_>) -> PyResult<Self> {
        unlocked(py, Namespace::current).map(|ns| Self::new(ns, false))
    }

    /// The namespace of process `pid`.
    #[staticmethod]
    fn from_pid(py: Python<'_>, pid: u32) -> PyResult<Self> {
        unlocked(py, || Namespace::from_pid(pid)).map(|ns| Self::new(ns, false))
    }

    /// The namespace named `name` in /run/netns.
    #[staticmethod]
    fn from_name(py: Python<'_>, name: &str) -> PyResult<Self> {
        unlocked(py, || Namespace::from_name(name)).map(|ns| Self::new(ns, false))
    }

    /// The namespace a file refers to (a bind mount, /proc/PID/ns/net).
    #[staticmethod]
    fn from_path(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        unlocked(py, || Namespace::from_path(&path)).map(|ns| Self::new(ns, false))
    }

    /// Creates a namespace, named in /run/netns when `name` is given, else anonymous.
    #[staticmethod]
    #[pyo3(signature = (name=None))]
    fn create(py: Python<'_>, name: Option<&str>) -> PyResult<Self> {
        unlocked(py, || match name {
            Some(name) => Namespace::create_named(name),
            None => Namespace::create_anonymous(),
        })
        .map(|ns| Self::new(ns, true))
    }

    /// The name in /run/netns, for named namespaces.
    #[getter]
    fn name(&self) -> Option<&str> {
        match &self.origin {
            NamespaceOrigin::Named(name) => Some(name),
            _ => None,
        }
    }

    /// The process the namespace was opened from, for `from_pid`.
    #[getter]
    fn pid(&self) -> Option<u32> {
        match &self.origin {
            NamespaceOrigin::Pid(pid) => Some(*pid),
            _ => None,
        }
    }

    /// The file the namespace was opened from, for `from_path`.
    #[getter]
    fn path(&self) -> Option<String> {
        match &self.origin {
            NamespaceOrigin::Path(path) => Some(path.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    /// The namespace's inode number (the number in `net:[4026531833]`).
    #[getter]
    fn inode(&self) -> u64 {
        self.id.ino
    }

    /// The device number of the namespace's nsfs file.
    #[getter]
    fn dev(&self) -> u64 {
        self.id.dev
    }

    /// Whether this object created the namespace (and so deletes it when the `with` block ends).
    #[getter]
    fn created(&self) -> bool {
        self.created
    }

    /// Whether the descriptor was released by `close()`, `delete()` or the end of a `with` block.
    #[getter]
    fn closed(&self) -> bool {
        self.lock().is_none()
    }

    /// Deletes a named namespace (`ip netns del`) or releases an anonymous one, and closes this object.
    fn delete(&self, py: Python<'_>) -> PyResult<()> {
        let opened = self.opened(py)?;
        let copy = unlocked(py, || opened.namespace.try_clone())?;
        self.lock().take();
        drop(opened);
        unlocked(py, || copy.delete())
    }

    /// Releases the descriptor and the netlink socket; the namespace itself stays.
    fn close(&self) {
        self.lock().take();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Deletes the namespace if this object created it, else closes it.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if self.created && !self.closed() {
            return self.delete(py);
        }
        self.close();
        Ok(())
    }

    pub(crate) fn __repr__(&self) -> String {
        let state = if self.closed() { ", closed" } else { "" };
        format!("<Namespace {}{state}>", self.description)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNamespace>().is_ok_and(|other| other.get().id == self.id)
    }

    fn __hash__(&self) -> u64 {
        self.id.ino ^ self.id.dev.rotate_left(32)
    }

    /// Every link of the namespace (`ip link show`).
    fn links(&self, py: Python<'_>) -> PyResult<Vec<Link>> {
        self.with_handle(py, |h| h.links()).map(|links| links.into_iter().map(Link).collect())
    }

    /// One link by name or index (`ip link show dev NAME`); NotFound when it does not exist.
    fn link(&self, py: Python<'_>, ifname: LinkArg) -> PyResult<Link> {
        let link = LinkRef::from(ifname);
        self.with_handle(py, |h| h.link(link)).map(Link)
    }

    /// The addresses of one link, or of every link (`ip addr show [dev NAME]`).
    #[pyo3(signature = (ifname=None))]
    fn addresses(&self, py: Python<'_>, ifname: Option<LinkArg>) -> PyResult<Vec<Address>> {
        let link = ifname.map(LinkRef::from);
        self.with_handle(py, |h| {
            let index = link.map(|link| h.link(link)).transpose()?.map(|l| l.index);
            h.addresses(index)
        })
        .map(|addresses| addresses.into_iter().map(Address).collect())
    }

    /// The routes of the main table in one family (`ip [-6] route show`).
    #[pyo3(signature = (family=libc::AF_INET))]
    fn routes(&self, py: Python<'_>, family: i32) -> PyResult<Vec<Route>> {
        let ipv6 = match family {
            libc::AF_INET => false,
            libc::AF_INET6 => true,
            other => {
                let reason = "expected socket.AF_INET or socket.AF_INET6";
                return Err(invalid(py, "family", &other.to_string(), reason));
            }
        };
        self.with_handle(py, |h| h.routes(ipv6)).map(|r| r.into_iter().map(Route).collect())
    }

    /// Pings `address` from inside the namespace until a reply comes; returns the round trip in seconds.
    ///
    /// Equivalent to: `ip netns exec NS ping -c 1 -W TIMEOUT ADDRESS`.
    #[pyo3(signature = (address, *, timeout=5.0))]
    fn ping(&self, py: Python<'_>, address: &str, timeout: f64) -> PyResult<f64> {
        let destination: IpAddr = parse_ip("address", address).map_err(|err| to_py(py, err))?;
        let timeout = positive_seconds(py, "timeout", timeout)?;
        let opened = self.opened(py)?;
        in_slices(py, Some(timeout), |slice| {
            pipework_core::ping(&opened.namespace, destination, slice)
        })
        .map(|rtt| rtt.as_secs_f64())
    }

    /// Waits until link `ifname` exists, is up, or is up with an address; returns it then.
    ///
    /// Woken by the kernel's netlink notifications, not a sleep loop. `timeout=None` waits
    /// forever; either way Ctrl-C is noticed within 100 ms.
    #[pyo3(signature = (ifname, condition="up", *, timeout=None))]
    fn wait_for(
        &self,
        py: Python<'_>,
        ifname: &str,
        condition: &str,
        timeout: Option<f64>,
    ) -> PyResult<Link> {
        wait_link(py, &*self.opened(py)?, ifname, ("condition", condition), timeout)
    }

    /// Creates a bridge, or finds the existing one, and brings it up.
    ///
    /// Equivalent to: `ip link add NAME [mtu MTU] up type bridge`.
    #[pyo3(signature = (ifname, *, mtu=None))]
    fn bridge_add(&self, py: Python<'_>, ifname: &str, mtu: Option<i64>) -> PyResult<Link> {
        let mtu = int_arg(py, "mtu", mtu)?;
        self.with_handle(py, |h| {
            let mut bridge = Bridge::new(ifname)?;
            if let Some(mtu) = mtu {
                bridge = bridge.mtu(mtu);
            }
            Ok(bridge.ensure(h)?.link)
        })
        .map(Link)
    }

    /// Creates a veth pair in one request, the peer possibly born in another namespace.
    ///
    /// Equivalent to: `ip link add IFNAME [mtu M] [master BR] [up] type veth peer name PEER [netns NS]`.
    #[pyo3(signature = (
        ifname, peer, *, peer_netns=None, mtu=None, master=None, address=None,
        peer_address=None, state=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn veth_add(
        &self,
        py: Python<'_>,
        ifname: &str,
        peer: &str,
        peer_netns: Option<PyRef<'_, PyNamespace>>,
        mtu: Option<i64>,
        master: Option<LinkArg>,
        address: Option<&str>,
        peer_address: Option<&str>,
        state: Option<&str>,
    ) -> PyResult<Link> {
        let up = state_is_up(py, state)?;
        let mtu = int_arg(py, "mtu", mtu)?;
        let peer_opened = peer_netns.map(|ns| ns.opened(py)).transpose()?;
        let master = master.map(LinkRef::from);
        self.with_handle(py, |h| {
            let mut veth = Veth::new(ifname, peer)?;
            if let Some(opened) = &peer_opened {
                veth = veth.peer_namespace(&opened.namespace);
            }
            if let Some(mtu) = mtu {
                veth = veth.mtu(mtu);
            }
            if let Some(mac) = address {
                veth = veth.mac(MacAddr::parse(mac)?);
            }
            if let Some(mac) = peer_address {
                veth = veth.peer_mac(MacAddr::parse(mac)?);
            }
            if let Some(master) = master {
                veth = veth.master(master);
            }
            if up {
                veth = veth.up();
            }
            veth.add(h)
        })
        .map(Link)
    }

    /// Changes a link: state, MTU, master bridge, hardware address (one request each).
    ///
    /// Equivalent to: `ip link set dev IFNAME [up|down] [mtu MTU] [master BR] [address MAC]`.
    #[pyo3(signature = (ifname, *, state=None, mtu=None, master=None, address=None))]
    fn link_set(
        &self,
        py: Python<'_>,
        ifname: LinkArg,
        state: Option<&str>,
        mtu: Option<i64>,
        master: Option<LinkArg>,
        address: Option<&str>,
    ) -> PyResult<()> {
        let up = state.map(|_| state_is_up(py, state)).transpose()?;
        let mtu = int_arg(py, "mtu", mtu)?;
        let link = LinkRef::from(ifname);
        let master = master.map(LinkRef::from);
        self.with_handle(py, |h| {
            let mac = address.map(MacAddr::parse).transpose()?;
            let index = h.link(link)?.index;
            if let Some(mtu) = mtu {
                h.link_set_mtu(index, mtu)?;
            }
            if let Some(mac) = mac {
                h.link_set_mac(index, mac)?;
            }
            if let Some(master) = master {
                h.link_set_master(index, h.link(master)?.index)?;
            }
            match up {
                Some(true) => h.link_set_up(index),
                Some(false) => h.link_set_down(index),
                None => Ok(()),
            }
        })
    }

    /// Deletes a link (for a veth, both ends).
    ///
    /// Equivalent to: `ip link del dev IFNAME`.
    fn link_del(&self, py: Python<'_>, ifname: LinkArg) -> PyResult<()> {
        let link = LinkRef::from(ifname);
        self.with_handle(py, |h| h.link_del(link))
    }

    /// Adds an address (`"10.0.0.1/24"`) to a link.
    ///
    /// Equivalent to: `ip addr add ADDRESS/PREFIX dev IFNAME`.
    fn addr_add(&self, py: Python<'_>, ifname: LinkArg, address: &str) -> PyResult<()> {
        let link = LinkRef::from(ifname);
        self.with_handle(py, |h| {
            let net = parse_cidr("address", address)?;
            h.addr_add(h.link(link)?.index, net)
        })
    }

    /// Removes an address (`"10.0.0.1/24"`) from a link.
    ///
    /// Equivalent to: `ip addr del ADDRESS/PREFIX dev IFNAME`.
    fn addr_del(&self, py: Python<'_>, ifname: LinkArg, address: &str) -> PyResult<()> {
        let link = LinkRef::from(ifname);
        self.with_handle(py, |h| {
            let net = parse_cidr("address", address)?;
            h.addr_del(h.link(link)?.index, net)
        })
    }
}

/// Waits until link `ifname` of `namespace` (default: the calling thread's) exists, is up, or
/// is up with an address; returns it then. `pipework.wait_for`, the module-level form of
/// `Namespace.wait_for`.
///
/// Equivalent to: `pipework --wait -i IFNAME [--addressed] [--timeout S]` inside the namespace.
#[pyfunction]
#[pyo3(signature = (namespace, ifname, state="up", timeout=None))]
pub(crate) fn wait_for(
    py: Python<'_>,
    namespace: Option<NamespaceArg<'_>>,
    ifname: &str,
    state: &str,
    timeout: Option<f64>,
) -> PyResult<Link> {
    let opened = match namespace {
        Some(namespace) => namespace.into_namespace(py).get().opened(py)?,
        None => PyNamespace::current(py)?.opened(py)?,
    };
    wait_link(py, &opened, ifname, ("state", state), timeout)
}

/// The wait of `wait_for`; `(argument, condition)` names the condition's argument in errors.
fn wait_link(
    py: Python<'_>,
    opened: &Opened,
    ifname: &str,
    (argument, condition): (&str, &str),
    timeout: Option<f64>,
) -> PyResult<Link> {
    let condition = match condition {
        "exists" => Condition::Exists,
        "up" => Condition::Up,
        "addressed" => Condition::Addressed,
        "routed" => Condition::Routed,
        other => {
            let reason = "expected \"exists\", \"up\", \"addressed\" or \"routed\"";
            return Err(invalid(py, argument, other, reason));
        }
    };
    let timeout = timeout.map(|seconds| positive_seconds(py, "timeout", seconds)).transpose()?;
    let wait = |interrupted: &dyn Fn() -> bool| {
        let handle = opened.handle()?;
        pipework_core::wait_for_interruptible(handle, ifname, condition, timeout, interrupted)
    };
    unlocked_interruptible(py, wait, drop).map(Link)
}

/// Runs a wait of `timeout` (`None`: forever) as waits of at most 100 ms without the GIL,
/// checking for Ctrl-C in between; a slice that times out (ETIMEDOUT) is followed by the next.
fn in_slices<T: Send>(
    py: Python<'_>,
    timeout: Option<Duration>,
    wait: impl Fn(Duration) -> pipework_core::Result<T> + Sync,
) -> PyResult<T> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    loop {
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let slice = left.map_or(SIGNAL_CHECK_INTERVAL, |left| left.min(SIGNAL_CHECK_INTERVAL));
        match py.detach(|| wait(slice)) {
            Err(err)
                if err.errno() as i32 == libc::ETIMEDOUT
                    && left.is_none_or(|left| left > slice) =>
            {
                py.check_signals()?
            }
            outcome => return outcome.map_err(|err| to_py(py, err)),
        }
    }
}

/// `"up"` or `"down"` (pyroute2's `state=`); anything else is an InvalidArgument.
fn state_is_up(py: Python<'_>, state: Option<&str>) -> PyResult<bool> {
    match state {
        None | Some("down") => Ok(false),
        Some("up") => Ok(true),
        Some(other) => Err(invalid(py, "state", other, "expected \"up\" or \"down\"")),
    }
}

/// A duration in seconds that must be finite and not negative.
pub(crate) fn positive_seconds(py: Python<'_>, argument: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        invalid(py, argument, &seconds.to_string(), "expected a finite number of seconds, >= 0")
    })
}

/// A value for an unsigned argument (an MTU, a VLAN id), refused with InvalidArgument when
/// negative or too large for it.
pub(crate) fn int_arg<T: TryFrom<i64>>(
    py: Python<'_>,
    argument: &str,
    value: Option<i64>,
) -> PyResult<Option<T>> {
    value.map(|value| required_int(py, argument, value)).transpose()
}

/// A value for a required unsigned argument; see [`int_arg`].
pub(crate) fn required_int<T: TryFrom<i64>>(
    py: Python<'_>,
    argument: &str,
    value: i64,
) -> PyResult<T> {
    T::try_from(value).map_err(|_| invalid(py, argument, &value.to_string(), "out of range"))
}

/// An InvalidArgument exception naming the argument and the reason.
pub(crate) fn invalid(py: Python<'_>, argument: &str, value: &str, reason: &str) -> PyErr {
    to_py(
        py,
        pipework_core::Error::InvalidArgument {
            argument: argument.into(),
            value: value.into(),
            reason: reason.into(),
        },
    )
}
