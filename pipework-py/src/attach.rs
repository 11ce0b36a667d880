//! `resolve()`, `attach()` and the `Attachment` they return: argument conversion around
//! `pipework_core::{resolve, attach, Attachment::detach}`.

use std::sync::Arc;

use pipework_core::{
    AttachPlan, AttachStatus, Attachment, Engine, Error, Guest, Handle, HostSide, MacAddr, Op,
    attach::{HostChoice, detect},
    parse_cidr, parse_ip, resolve as core_resolve,
};
use pyo3::{
    prelude::*,
    types::{PyDict, PyTuple},
};

use crate::{
    errors::{to_py, unlocked},
    namespace::{Opened, PyNamespace, u32_arg},
    objects::to_dict,
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

/// The guest argument of `attach()`: a `Guest`, a `Namespace`, a PID or a target string.
#[derive(FromPyObject)]
pub(crate) enum GuestArg<'py> {
    Guest(PyRef<'py, PyGuest>),
    Namespace(PyRef<'py, PyNamespace>),
    Pid(u32),
    Target(String),
}

/// What the guest argument becomes before the GIL is released.
enum GuestSource {
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
    fn new(py: Python<'_>, arg: GuestArg<'_>) -> PyResult<Self> {
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
    fn guest(self) -> pipework_core::Result<Guest> {
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

/// One address or several.
#[derive(FromPyObject)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// Builds the plan from the keyword arguments; every error names its argument.
#[allow(clippy::too_many_arguments)]
fn plan(
    host: HostSide,
    ifname: Option<&str>,
    host_ifname: Option<&str>,
    addresses: Vec<String>,
    gateways: Vec<String>,
    mac: Option<&str>,
    mtu: Option<u32>,
) -> pipework_core::Result<AttachPlan> {
    let mut plan = AttachPlan::new(host);
    if let Some(ifname) = ifname {
        plan = plan.guest_ifname(ifname);
    }
    if let Some(name) = host_ifname {
        plan = plan.host_ifname(name);
    }
    for address in &addresses {
        plan = plan.address(parse_cidr("address", address)?);
    }
    for gateway in &gateways {
        plan = plan.gateway(parse_ip("gateway", gateway)?);
    }
    if let Some(mac) = mac {
        plan = plan.mac(MacAddr::parse_pipework(mac)?);
    }
    if let Some(mtu) = mtu {
        plan = plan.mtu(mtu);
    }
    plan.validate()?;
    Ok(plan)
}

/// The error for an option pipework-core cannot honour yet; raised before anything changes.
fn not_supported_yet(py: Python<'_>, argument: &str, value: &str, feature: &str) -> PyErr {
    to_py(
        py,
        Error::Unsupported {
            op: Op::Attach,
            object: format!("with {argument}={value}"),
            reason: format!("{feature} is not supported by this version of pipework"),
        },
    )
}

/// Connects `guest` to `host` the way `pipework HOST GUEST ADDRESS[@GATEWAY] [MAC]` does.
///
/// Equivalent to: `pipework [-i IFNAME] [-l HOST_IFNAME] HOST GUEST ADDRESS@GATEWAY MAC [@VLAN]`.
#[pyfunction]
#[pyo3(signature = (
    guest, host, *, ifname=None, host_ifname=None, addresses=None, gateway=None, mac=None,
    mtu=None, vlan=None, dhcp=false, host_netns=None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attach(
    py: Python<'_>,
    guest: GuestArg<'_>,
    host: &str,
    ifname: Option<&str>,
    host_ifname: Option<&str>,
    addresses: Option<OneOrMany>,
    gateway: Option<OneOrMany>,
    mac: Option<&str>,
    mtu: Option<i64>,
    vlan: Option<i64>,
    dhcp: bool,
    host_netns: Option<Py<PyNamespace>>,
) -> PyResult<PyAttachment> {
    if let Some(vlan) = vlan {
        return Err(not_supported_yet(py, "vlan", &vlan.to_string(), "802.1Q VLAN tagging"));
    }
    if dhcp {
        return Err(not_supported_yet(py, "dhcp", "True", "DHCP"));
    }
    let mtu = u32_arg(py, "mtu", mtu)?;
    let addresses = addresses.map(OneOrMany::into_vec).unwrap_or_default();
    let gateways = gateway.map(OneOrMany::into_vec).unwrap_or_default();
    let host_netns = match host_netns {
        Some(namespace) => namespace,
        None => Py::new(py, PyNamespace::current(py)?)?,
    };
    let opened = host_netns.get().opened(py)?;
    let source = GuestSource::new(py, guest)?;
    let attachment = unlocked(py, || {
        let handle = opened.handle()?;
        // What the host name means (existing bridge, physical parent, br* to create...).
        let side = detect(handle, host)?.host_side(&HostChoice::default())?;
        let plan = plan(side, ifname, host_ifname, addresses, gateways, mac, mtu)?;
        let guest = source.guest()?;
        pipework_core::attach(handle, &guest, &plan)
    })?;
    Ok(PyAttachment { attachment, host_netns })
}

/// What `attach()` made; `detach()` undoes exactly that.
#[pyclass(module = "pipework._native", frozen, name = "Attachment")]
pub(crate) struct PyAttachment {
    attachment: Attachment,
    host_netns: Py<PyNamespace>,
}

#[pymethods]
impl PyAttachment {
    /// `"created"`, or `"already_attached"` when the same attachment was found in place.
    #[getter]
    fn status(&self) -> &'static str {
        match self.attachment.status {
            AttachStatus::Created => "created",
            AttachStatus::AlreadyAttached => "already_attached",
        }
    }

    /// The host interface: the bridge, the macvlan parent or the moved device.
    #[getter]
    fn host(&self) -> &str {
        self.attachment.plan.host.host_interface()
    }

    /// The namespace of the host side.
    #[getter]
    fn host_netns(&self, py: Python<'_>) -> Py<PyNamespace> {
        self.host_netns.clone_ref(py)
    }

    /// The interface name inside the guest.
    #[getter]
    fn ifname(&self) -> &str {
        &self.attachment.plan.guest_ifname
    }

    /// Its index inside the guest.
    #[getter]
    fn ifindex(&self) -> u32 {
        self.attachment.guest_ifindex
    }

    /// The host-side interface (the veth end on the bridge).
    #[getter]
    fn host_ifname(&self) -> &str {
        &self.attachment.host_ifname
    }

    /// Its index in the host namespace.
    #[getter]
    fn host_ifindex(&self) -> u32 {
        self.attachment.host_ifindex
    }

    /// The guest interface's addresses, as `"10.0.0.2/24"`.
    #[getter]
    fn addresses(&self) -> Vec<String> {
        self.attachment.plan.addresses.iter().map(ToString::to_string).collect()
    }

    /// The default gateways installed.
    #[getter]
    fn gateways(&self) -> Vec<String> {
        self.attachment.plan.gateways.iter().map(ToString::to_string).collect()
    }

    /// The guest interface's MAC as the kernel reports it.
    #[getter]
    fn mac(&self) -> Option<String> {
        self.attachment.mac.map(|mac| mac.to_string())
    }

    /// The MTU applied.
    #[getter]
    fn mtu(&self) -> u32 {
        self.attachment.mtu
    }

    /// Whether this attach created the bridge.
    #[getter]
    fn bridge_created(&self) -> bool {
        self.attachment.bridge_created
    }

    /// The guest's process, when known.
    #[getter]
    fn guest_pid(&self) -> Option<u32> {
        self.attachment.guest.pid
    }

    /// The guest's name, when known.
    #[getter]
    fn guest_name(&self) -> Option<&str> {
        self.attachment.guest.name.as_deref()
    }

    /// The inode of the guest's namespace.
    #[getter]
    fn guest_inode(&self) -> u64 {
        self.attachment.guest.namespace.ino
    }

    /// The full record as plain values, the same JSON the command line prints.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        to_dict(py, &self.attachment)
    }

    /// Removes what the attach created and restores the default routes it replaced.
    fn detach(&self, py: Python<'_>) -> PyResult<()> {
        let host = self.host_netns.get().opened(py)?;
        let attachment = &self.attachment;
        unlocked(py, || {
            let guest = attachment.guest.reopen()?;
            let guest = guest.as_ref().map(Handle::new).transpose()?;
            attachment.detach(host.handle()?, guest.as_ref())
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Detaches when this attach created the attachment; one found in place is left alone.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        match self.attachment.status {
            AttachStatus::Created => self.detach(py),
            AttachStatus::AlreadyAttached => Ok(()),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Attachment(host='{}', host_ifname='{}', ifname='{}', addresses=[{}], mac={}, mtu={}, status='{}')",
            self.host(),
            self.attachment.host_ifname,
            self.attachment.plan.guest_ifname,
            self.addresses().iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", "),
            self.mac().map_or("None".into(), |m| format!("'{m}'")),
            self.attachment.mtu,
            self.status(),
        )
    }
}
