//! DHCP: `DhcpOptions` (what `attach(dhcp=...)` takes besides `True` and a word), `DhcpLease`
//! (pipework's own client on an existing interface) and the `LeaseRecord` and `LeaseEvent` they
//! report; conversion around `pipework_core::dhcp`.

use std::{
    sync::{Mutex, MutexGuard},
    time::Instant,
};

use pipework_core::{
    DhcpConfig, DhcpLease, LeaseEvent, LeaseRecord,
    dhcp::{DhcpClient, DhcpKeep, DhcpSpec, Hostname, option_code},
};
use pyo3::{
    IntoPyObjectExt,
    prelude::*,
    types::{PyBytes, PyDict, PyTuple},
};

use crate::{
    errors::{to_py, unlocked, unlocked_interruptible},
    guest::{GuestArg, GuestSource},
    namespace::{SIGNAL_CHECK_INTERVAL, invalid, positive_seconds},
    objects::{repr_bool, repr_list, repr_option, to_dict},
};

/// An option to request: its number, or its udhcpc name (`"ntpsrv"`).
#[derive(FromPyObject)]
pub(crate) enum OptionArg {
    Code(i64),
    Name(String),
}

/// The host name to send: a name, `True` for the guest's name, `False` for none.
#[derive(FromPyObject)]
pub(crate) enum HostnameArg {
    Flag(bool),
    Name(String),
}

/// How the lease is kept: `True`, `False` or `"daemon"`.
#[derive(FromPyObject)]
pub(crate) enum KeepArg {
    Flag(bool),
    Mode(String),
}

/// The `dhcp=` argument of `attach()`: a flag, a DHCP word, or a `DhcpOptions`.
#[derive(FromPyObject)]
pub(crate) enum DhcpArg<'py> {
    Flag(bool),
    Word(String),
    Options(PyRef<'py, PyDhcpOptions>),
}

impl DhcpArg<'_> {
    /// The spec it stands for; `None` for `False`.
    pub(crate) fn spec(self, py: Python<'_>) -> PyResult<Option<DhcpSpec>> {
        Ok(match self {
            DhcpArg::Flag(false) => None,
            DhcpArg::Flag(true) => Some(DhcpSpec::native()),
            DhcpArg::Word(word) => {
                Some(DhcpSpec::parse_word("dhcp", &word).map_err(|e| to_py(py, e))?)
            }
            DhcpArg::Options(options) => Some(options.spec.clone()),
        })
    }
}

/// The client settings `DhcpOptions` and `DhcpLease.acquire` take as keywords.
struct ConfigArgs {
    timeout: Option<f64>,
    hostname: Option<HostnameArg>,
    request_options: Option<Vec<OptionArg>>,
    replace_default_route: bool,
    write_resolv_conf: bool,
}

impl ConfigArgs {
    /// `config` with these settings applied (those not given are left as they are), checked.
    fn apply(self, py: Python<'_>, mut config: DhcpConfig) -> PyResult<DhcpConfig> {
        if let Some(seconds) = self.timeout {
            config = config.timeout(positive_seconds(py, "timeout", seconds)?);
        }
        config = match self.hostname {
            None => config,
            Some(HostnameArg::Flag(true)) => DhcpConfig { hostname: Hostname::Guest, ..config },
            Some(HostnameArg::Flag(false)) => config.no_hostname(),
            Some(HostnameArg::Name(name)) => config.hostname(&name),
        };
        for option in self.request_options.unwrap_or_default() {
            let text = match option {
                OptionArg::Code(code) => code.to_string(),
                OptionArg::Name(name) => name,
            };
            config = config.request_option(option_code(&text).map_err(|err| to_py(py, err))?);
        }
        config = config
            .replace_default_route(self.replace_default_route)
            .write_resolv_conf(self.write_resolv_conf);
        config.validate().map_err(|err| to_py(py, err))?;
        Ok(config)
    }
}

/// The keep mode `keep` asks for with `client`.
fn keep_mode(py: Python<'_>, client: DhcpClient, keep: KeepArg) -> PyResult<DhcpKeep> {
    Ok(match keep {
        KeepArg::Flag(false) => DhcpKeep::Once,
        // Renewed while the attachment lives: by this process for pipework's own client, by
        // the external client kept running otherwise (`udhcpc-f`).
        KeepArg::Flag(true) if client == DhcpClient::Native => DhcpKeep::Foreground,
        KeepArg::Flag(true) => DhcpKeep::Daemon { pidfile: None },
        KeepArg::Mode(mode) if mode == "daemon" => DhcpKeep::Daemon { pidfile: None },
        KeepArg::Mode(other) => {
            return Err(invalid(py, "keep", &other, "expected True, False or \"daemon\""));
        }
    })
}

fn keep_name(keep: &DhcpKeep) -> &'static str {
    match keep {
        DhcpKeep::Once => "once",
        DhcpKeep::Foreground => "foreground",
        DhcpKeep::Daemon { .. } => "daemon",
    }
}

/// How `attach(dhcp=...)` gets the guest interface's address by DHCP.
#[pyclass(module = "pipework._native", frozen, name = "DhcpOptions")]
pub(crate) struct PyDhcpOptions {
    spec: DhcpSpec,
}

#[pymethods]
impl PyDhcpOptions {
    /// Reads `word` like the command line does, then applies the keywords given.
    #[new]
    #[pyo3(signature = (
        word="dhcp", *, timeout=None, hostname=None, keep=None, request_options=None,
        replace_default_route=false, write_resolv_conf=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        word: &str,
        timeout: Option<f64>,
        hostname: Option<HostnameArg>,
        keep: Option<KeepArg>,
        request_options: Option<Vec<OptionArg>>,
        replace_default_route: bool,
        write_resolv_conf: bool,
    ) -> PyResult<Self> {
        let mut spec = DhcpSpec::parse_word("dhcp", word).map_err(|e| to_py(py, e))?;
        let args = ConfigArgs {
            timeout,
            hostname,
            request_options,
            replace_default_route,
            write_resolv_conf,
        };
        spec.config = args.apply(py, spec.config)?;
        if let Some(keep) = keep {
            spec.keep = keep_mode(py, spec.client, keep)?;
        }
        spec.validate().map_err(|err| to_py(py, err))?;
        Ok(PyDhcpOptions { spec })
    }

    /// `"native"` (pipework's own client), `"udhcpc"`, `"dhclient"` or `"dhcpcd"`.
    #[getter]
    fn client(&self) -> &'static str {
        match self.spec.client {
            DhcpClient::Native => "native",
            DhcpClient::Udhcpc => "udhcpc",
            DhcpClient::Dhclient => "dhclient",
            DhcpClient::Dhcpcd => "dhcpcd",
        }
    }

    /// `"once"`, `"foreground"` (renewed by this process) or `"daemon"` (by a background process).
    #[getter]
    fn keep(&self) -> &'static str {
        keep_name(&self.spec.keep)
    }

    /// The options after the word's `:`.
    #[getter]
    fn options(&self) -> Vec<String> {
        self.spec.options.clone()
    }

    /// Seconds to wait for a lease.
    #[getter]
    fn timeout(&self) -> f64 {
        self.spec.config.timeout.as_secs_f64()
    }

    /// The host name sent: a name, `True` for the guest's name, `False` for none.
    #[getter]
    fn hostname<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.spec.config.hostname {
            Hostname::Guest => true.into_bound_py_any(py),
            Hostname::None => false.into_bound_py_any(py),
            Hostname::Name(name) => name.into_bound_py_any(py),
        }
    }

    /// The options requested besides the usual ones, by number.
    #[getter]
    fn request_options(&self) -> Vec<u16> {
        self.spec.config.request_options.iter().map(|&code| code.into()).collect()
    }

    /// Whether an existing default route is replaced by the lease's router.
    #[getter]
    fn replace_default_route(&self) -> bool {
        self.spec.config.replace_default_route
    }

    /// Whether the lease's DNS servers are written to the guest's own resolv.conf.
    #[getter]
    fn write_resolv_conf(&self) -> bool {
        self.spec.config.write_resolv_conf
    }

    /// The settings as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.spec)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyDhcpOptions>().is_ok_and(|other| other.get().spec == self.spec)
    }

    fn __repr__(&self) -> String {
        format!(
            "DhcpOptions(client='{}', keep='{}', timeout={:?}, options={})",
            self.client(),
            self.keep(),
            self.timeout(),
            repr_list(&self.spec.options),
        )
    }
}

/// A DHCPv4 lease: what the server leased and what applying it changed.
#[pyclass(module = "pipework._native", frozen, name = "LeaseRecord")]
pub(crate) struct PyLeaseRecord(pub(crate) LeaseRecord);

fn optional_text(value: Option<impl ToString>) -> Option<String> {
    value.map(|value| value.to_string())
}

#[pymethods]
impl PyLeaseRecord {
    /// The guest interface that holds the lease.
    #[getter]
    fn ifname(&self) -> &str {
        &self.0.ifname
    }

    /// Its index in the guest namespace.
    #[getter]
    fn ifindex(&self) -> u32 {
        self.0.ifindex
    }

    /// Its MAC, from which the client identifier is made.
    #[getter]
    fn mac(&self) -> Option<String> {
        optional_text(self.0.mac)
    }

    /// The leased address with its prefix, like `"10.0.0.23/24"`.
    #[getter]
    fn address(&self) -> String {
        self.0.address.to_string()
    }

    /// The default router (option 3), unless classless routes replace it.
    #[getter]
    fn router(&self) -> Option<String> {
        optional_text(self.0.router)
    }

    /// Classless static routes (option 121) as `(destination, next hop)`; `0.0.0.0` is on-link.
    #[getter]
    fn static_routes(&self) -> Vec<(String, String)> {
        self.0.static_routes.iter().map(|(dst, via)| (dst.to_string(), via.to_string())).collect()
    }

    /// DNS servers (option 6).
    #[getter]
    fn dns_servers(&self) -> Vec<String> {
        self.0.dns_servers.iter().map(ToString::to_string).collect()
    }

    /// The domain name (option 15).
    #[getter]
    fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }

    /// The domain search list (option 119).
    #[getter]
    fn search(&self) -> Vec<String> {
        self.0.search.clone()
    }

    /// The interface MTU the server offered (option 26).
    #[getter]
    fn mtu(&self) -> Option<u16> {
        self.0.mtu
    }

    /// The host name sent to the server.
    #[getter]
    fn hostname(&self) -> Option<&str> {
        self.0.hostname.as_deref()
    }

    /// The server that granted the lease.
    #[getter]
    fn server(&self) -> Option<String> {
        optional_text(self.0.server)
    }

    /// The lease time in seconds.
    #[getter]
    fn lease_time(&self) -> Option<u32> {
        self.0.lease_secs
    }

    /// When renewing starts (T1), in seconds after `obtained_at`.
    #[getter]
    fn renew_time(&self) -> Option<u32> {
        self.0.renew_secs
    }

    /// When rebinding starts (T2), in seconds after `obtained_at`.
    #[getter]
    fn rebind_time(&self) -> Option<u32> {
        self.0.rebind_secs
    }

    /// When the lease was granted or last renewed, in seconds since the Unix epoch.
    #[getter]
    fn obtained_at(&self) -> u64 {
        self.0.obtained_at
    }

    /// Seconds left before the lease runs out, counted now.
    #[getter]
    fn remaining(&self) -> Option<f64> {
        self.0.remaining().map(|left| left.as_secs_f64())
    }

    /// The raw value of each extra option requested and sent, by number.
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let options = PyDict::new(py);
        for (code, value) in &self.0.options {
            options.set_item(code, PyBytes::new(py, value))?;
        }
        Ok(options)
    }

    /// The lease as plain values, the JSON the command line records.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyLeaseRecord>().is_ok_and(|other| other.get().0 == self.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "LeaseRecord(ifname='{}', address='{}', router={}, dns_servers={}, lease_time={}, server={})",
            self.0.ifname,
            self.0.address,
            repr_option(self.0.router, true),
            repr_list(&self.0.dns_servers),
            repr_option(self.0.lease_secs, false),
            repr_option(self.0.server, true),
        )
    }
}

/// Something that happened to a kept lease.
#[pyclass(module = "pipework._native", frozen, name = "LeaseEvent")]
pub(crate) struct PyLeaseEvent(LeaseEvent);

#[pymethods]
impl PyLeaseEvent {
    /// `"renewing"`, `"rebinding"`, `"renewed"`, `"lost"`, `"reacquired"` or `"ended"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.0 {
            LeaseEvent::Renewing => "renewing",
            LeaseEvent::Rebinding => "rebinding",
            LeaseEvent::Renewed { .. } => "renewed",
            LeaseEvent::Lost { .. } => "lost",
            LeaseEvent::Reacquired { .. } => "reacquired",
            LeaseEvent::Ended { .. } => "ended",
        }
    }

    /// The lease as it is now, for `"renewed"` and `"reacquired"`.
    #[getter]
    fn lease(&self) -> Option<PyLeaseRecord> {
        match &self.0 {
            LeaseEvent::Renewed { lease } | LeaseEvent::Reacquired { lease } => {
                Some(PyLeaseRecord((**lease).clone()))
            }
            _ => None,
        }
    }

    /// Why, for `"lost"` and `"ended"`.
    #[getter]
    fn reason(&self) -> Option<&str> {
        match &self.0 {
            LeaseEvent::Lost { reason } | LeaseEvent::Ended { reason } => Some(reason),
            _ => None,
        }
    }

    /// The event as plain values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.0)
    }

    fn __repr__(&self) -> String {
        match (self.lease(), self.reason()) {
            (Some(lease), _) => {
                format!("LeaseEvent('{}', address='{}')", self.kind(), lease.0.address)
            }
            (None, Some(reason)) => {
                format!("LeaseEvent('{}', reason={})", self.kind(), repr_option(Some(reason), true))
            }
            (None, None) => format!("LeaseEvent('{}')", self.kind()),
        }
    }
}

/// A lease held by pipework's own client: renewed while it lives, or given back.
enum Held {
    Live(DhcpLease),
    Released(LeaseRecord),
}

/// A DHCPv4 lease kept renewed by a thread of this process until `release()`.
#[pyclass(module = "pipework._native", frozen, name = "DhcpLease")]
pub(crate) struct PyDhcpLease {
    held: Mutex<Held>,
}

impl PyDhcpLease {
    /// Wraps a lease that is being kept.
    pub(crate) fn new(lease: DhcpLease) -> Self {
        PyDhcpLease { held: Mutex::new(Held::Live(lease)) }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lease as it is now.
    pub(crate) fn current(&self) -> LeaseRecord {
        match &*self.lock() {
            Held::Live(lease) => lease.record(),
            Held::Released(record) => record.clone(),
        }
    }

    /// Gives the lease back (once; afterwards a no-op). Call without the GIL.
    pub(crate) fn release_now(&self) -> pipework_core::Result<()> {
        let mut held = self.lock();
        let record = match &*held {
            Held::Live(lease) => lease.record(),
            Held::Released(_) => return Ok(()),
        };
        match std::mem::replace(&mut *held, Held::Released(record)) {
            Held::Live(lease) => lease.release(),
            Held::Released(_) => Ok(()),
        }
    }
}

#[pymethods]
impl PyDhcpLease {
    /// Obtains a lease for interface `ifname` of `guest`, applies it and keeps it renewed.
    ///
    /// Equivalent to: `ip netns exec NS udhcpc -i IFNAME`, kept in the background.
    #[staticmethod]
    #[pyo3(signature = (
        guest, ifname, *, timeout=None, hostname=None, request_options=None,
        replace_default_route=false, write_resolv_conf=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn acquire(
        py: Python<'_>,
        guest: GuestArg<'_>,
        ifname: &str,
        timeout: Option<f64>,
        hostname: Option<HostnameArg>,
        request_options: Option<Vec<OptionArg>>,
        replace_default_route: bool,
        write_resolv_conf: bool,
    ) -> PyResult<Self> {
        let args = ConfigArgs {
            timeout,
            hostname,
            request_options,
            replace_default_route,
            write_resolv_conf,
        };
        let config = args.apply(py, DhcpConfig::default())?;
        let source = GuestSource::new(py, guest)?;
        let guest = unlocked(py, || source.guest())?;
        unlocked_interruptible(
            py,
            |interrupted| DhcpLease::acquire_interruptible(&guest, ifname, &config, interrupted),
            |lease| {
                let _ = lease.release();
            },
        )
        .map(Self::new)
    }

    /// The interface that holds the lease.
    #[getter]
    fn ifname(&self) -> String {
        self.current().ifname
    }

    /// The leased address with its prefix, like `"10.0.0.23/24"` (it can change after a loss).
    #[getter]
    fn address(&self) -> String {
        self.current().address.to_string()
    }

    /// The default router.
    #[getter]
    fn router(&self) -> Option<String> {
        optional_text(self.current().router)
    }

    /// DNS servers.
    #[getter]
    fn dns_servers(&self) -> Vec<String> {
        self.current().dns_servers.iter().map(ToString::to_string).collect()
    }

    /// The lease time in seconds.
    #[getter]
    fn lease_time(&self) -> Option<u32> {
        self.current().lease_secs
    }

    /// The whole lease as it is now.
    #[getter]
    fn record(&self) -> PyLeaseRecord {
        PyLeaseRecord(self.current())
    }

    /// Whether `release()` has given the lease back.
    #[getter]
    fn released(&self) -> bool {
        matches!(*self.lock(), Held::Released(_))
    }

    /// Waits up to `timeout` seconds (None: forever) for the next thing that happens to the lease.
    #[pyo3(signature = (timeout=None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyLeaseEvent>> {
        let timeout =
            timeout.map(|seconds| positive_seconds(py, "timeout", seconds)).transpose()?;
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            let slice = left.map_or(SIGNAL_CHECK_INTERVAL, |left| left.min(SIGNAL_CHECK_INTERVAL));
            let heard = py.detach(|| match &*self.lock() {
                Held::Live(lease) => Some(lease.next_event(slice)),
                Held::Released(_) => None,
            });
            match heard {
                // Released: nothing happens to it any more.
                None => return Ok(None),
                Some(Some(event)) => return Ok(Some(PyLeaseEvent(event))),
                Some(None) if left.is_some_and(|left| left <= slice) => return Ok(None),
                Some(None) => py.check_signals()?,
            }
        }
    }

    /// Sends DHCPRELEASE and removes what the lease configured; a second call does nothing.
    ///
    /// Equivalent to: `dhclient -r IFNAME`.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        unlocked(py, || self.release_now())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Releases the lease.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.release(py)
    }

    fn __repr__(&self) -> String {
        let record = self.current();
        format!(
            "DhcpLease(ifname='{}', address='{}', router={}, lease_time={}, released={})",
            record.ifname,
            record.address,
            repr_option(record.router, true),
            repr_option(record.lease_secs, false),
            repr_bool(self.released()),
        )
    }
}
