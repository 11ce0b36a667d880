//! `attach()` and the `Attachment` it returns: argument conversion around
//! `pipework_core::{attach, Attachment::detach}`, and a lease kept by this process.

use std::borrow::Cow;

use pipework_core::{
    AttachPlan, AttachStatus, Attachment, Handle, HostSide, IpvlanMode, MacAddr, MacvlanMode,
    attach::{HostChoice, choose_host},
    dhcp::DhcpSpec,
    parse_cidr, parse_ip,
};
use pyo3::{
    prelude::*,
    types::{PyDict, PyTuple},
};

use crate::{
    dhcp::{DhcpArg, PyDhcpLease, PyLeaseRecord},
    errors::{to_py, unlocked},
    guest::{GuestArg, GuestSource},
    namespace::{PyNamespace, int_arg},
    objects::{repr_list, repr_option, to_dict},
};

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

/// The keyword arguments that make the plan, converted while the GIL is held.
struct PlanArgs<'a> {
    ifname: Option<&'a str>,
    host_ifname: Option<&'a str>,
    addresses: Vec<String>,
    gateways: Vec<String>,
    mac: Option<&'a str>,
    mtu: Option<u32>,
    vlan: Option<u16>,
    dhcp: Option<DhcpSpec>,
    host_shim: Option<&'a str>,
    announce: bool,
    allow_host_namespace: bool,
    vxlan: Option<&'a str>,
}

impl PlanArgs<'_> {
    /// The plan for `host` and `guest`; every error names its argument.
    fn plan(
        self,
        host: HostSide,
        guest: &pipework_core::Guest,
    ) -> pipework_core::Result<AttachPlan> {
        let mut plan = AttachPlan::new(host)
            .announce(self.announce)
            .allow_host_namespace(self.allow_host_namespace);
        if let Some(ifname) = self.ifname {
            plan = plan.guest_ifname(ifname);
        }
        if let Some(name) = self.host_ifname {
            plan = plan.host_ifname(name);
        }
        for address in &self.addresses {
            plan = plan.address(parse_cidr("address", address)?);
        }
        for gateway in &self.gateways {
            plan = plan.gateway(parse_ip("gateway", gateway)?);
        }
        match self.mac {
            Some("stable") => plan.mac = Some(MacAddr::stable(guest, &plan.guest_ifname)),
            Some(mac) => plan.mac = Some(MacAddr::parse_pipework(mac)?),
            None => {}
        }
        if let Some(shim) = self.host_shim {
            plan = plan.host_shim(parse_cidr("host_shim", shim)?);
        }
        if let Some(text) = self.vxlan {
            plan.vxlan = Some(pipework_core::VxlanUplink::parse(text)?);
        }
        plan.mtu = self.mtu;
        plan.vlan = self.vlan;
        plan.dhcp = self.dhcp;
        plan.validate()?;
        Ok(plan)
    }
}

/// Connects `guest` to `host` the way `pipework HOST GUEST ADDRESS[@GATEWAY] [MAC][@VLAN]` does.
///
/// Equivalent to: `pipework [-i IFNAME] [-l HOST_IFNAME] [--mode M] [--macvtap] [--ipvlan M]
/// [--direct-phys] [--pkey K] [--shim A] [--no-arp] [--allow-host-namespace] [--vxlan V] HOST GUEST ADDRESS@GATEWAY|dhcp MAC@VLAN`.
#[pyfunction]
#[pyo3(signature = (
    guest, host, *, ifname=None, host_ifname=None, addresses=None, gateway=None, mac=None,
    mtu=None, vlan=None, dhcp=None, mode=None, macvtap=false, ipvlan=None, direct_phys=false,
    pkey=None, host_shim=None, announce=true, allow_host_namespace=false, vxlan=None,
    host_netns=None
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
    dhcp: Option<DhcpArg<'_>>,
    mode: Option<&str>,
    macvtap: bool,
    ipvlan: Option<&str>,
    direct_phys: bool,
    pkey: Option<i64>,
    host_shim: Option<&str>,
    announce: bool,
    allow_host_namespace: bool,
    vxlan: Option<&str>,
    host_netns: Option<Py<PyNamespace>>,
) -> PyResult<PyAttachment> {
    let core = |err| to_py(py, err);
    let choice = HostChoice {
        direct_phys,
        macvlan_mode: mode.map(str::parse::<MacvlanMode>).transpose().map_err(core)?,
        macvtap,
        ipvlan: ipvlan.map(str::parse::<IpvlanMode>).transpose().map_err(core)?,
        pkey: int_arg(py, "pkey", pkey)?,
    };
    let args = PlanArgs {
        ifname,
        host_ifname,
        addresses: addresses.map(OneOrMany::into_vec).unwrap_or_default(),
        gateways: gateway.map(OneOrMany::into_vec).unwrap_or_default(),
        mac,
        mtu: int_arg(py, "mtu", mtu)?,
        vlan: int_arg(py, "vlan", vlan)?,
        dhcp: dhcp.map(|dhcp| dhcp.spec(py)).transpose()?.flatten(),
        host_shim,
        announce,
        allow_host_namespace,
        vxlan,
    };
    let host_netns = match host_netns {
        Some(namespace) => namespace,
        None => Py::new(py, PyNamespace::current(py)?)?,
    };
    let opened = host_netns.get().opened(py)?;
    let source = GuestSource::new(py, guest)?;
    let (attachment, kept) = unlocked(py, || {
        let handle = opened.handle()?;
        // What the host name means (existing bridge, physical parent, br* to create...).
        let side = choose_host(handle, host, &choice)?.side;
        let guest = source.guest()?;
        let plan = args.plan(side, &guest)?;
        // keep=True with pipework's own client: this process renews the lease from now on.
        pipework_core::attach::attach_keeping(handle, &guest, &plan)
    })?;
    let dhcp = kept.map(|lease| Py::new(py, PyDhcpLease::new(lease))).transpose()?;
    Ok(PyAttachment { attachment, host_netns, dhcp })
}

/// What `attach()` made; `detach()` undoes exactly that.
#[pyclass(module = "pipework._native", frozen, name = "Attachment")]
pub(crate) struct PyAttachment {
    attachment: Attachment,
    host_netns: Py<PyNamespace>,
    /// The lease this process keeps renewed (`keep=True` with pipework's own client).
    dhcp: Option<Py<PyDhcpLease>>,
}

impl PyAttachment {
    /// The record, its lease as it is now when this process keeps it.
    fn current(&self) -> Cow<'_, Attachment> {
        let mut attachment = Cow::Borrowed(&self.attachment);
        if let Some(kept) = &self.dhcp
            && let Some(dhcp) = &mut attachment.to_mut().dhcp
        {
            dhcp.lease = kept.get().current();
        }
        attachment
    }
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

    /// What the guest hangs off: `"bridge"`, `"macvlan"` (`tap` for a macvtap in `to_dict()`),
    /// `"physical"`, `"ovs_bridge"`, `"ipvlan"`, `"dummy"` or `"ipoib"`.
    #[getter]
    fn host_kind(&self) -> String {
        serde_json::to_value(&self.attachment.plan.host)
            .ok()
            .and_then(|host| host.get("kind")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The VLAN the guest is in (`@VLAN`), if any.
    #[getter]
    fn vlan(&self) -> Option<u16> {
        self.attachment.plan.vlan
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
        to_dict(py, &*self.current())
    }

    /// The DHCP lease of the guest interface (as it is now), when `dhcp=` was given.
    #[getter]
    fn lease(&self) -> Option<PyLeaseRecord> {
        self.current().dhcp.as_ref().map(|dhcp| PyLeaseRecord(dhcp.lease.clone()))
    }

    /// The lease this process keeps renewed (`keep=True` with pipework's own client), else None.
    #[getter]
    fn dhcp(&self, py: Python<'_>) -> Option<Py<PyDhcpLease>> {
        self.dhcp.as_ref().map(|lease| lease.clone_ref(py))
    }

    /// Releases the DHCP lease, removes what the attach created and restores the default
    /// routes it replaced.
    fn detach(&self, py: Python<'_>) -> PyResult<()> {
        let host = self.host_netns.get().opened(py)?;
        let kept = self.dhcp.as_ref().map(|lease| lease.clone_ref(py));
        unlocked(py, || {
            // A lease kept here is given back by its keeper, with what it knows now.
            let released = kept.as_ref().map_or(Ok(()), |lease| lease.get().release_now());
            let mut attachment = Cow::Borrowed(&self.attachment);
            if kept.is_some() {
                attachment.to_mut().dhcp = None;
            }
            let guest = attachment.guest.reopen()?;
            let guest = guest.as_ref().map(Handle::new).transpose()?;
            attachment.detach(host.handle()?, guest.as_ref())?;
            released
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
        let lease = match self.current().dhcp.as_ref() {
            Some(dhcp) => format!(", lease='{}'", dhcp.lease.address),
            None => String::new(),
        };
        format!(
            "Attachment(host='{}', host_ifname='{}', ifname='{}', addresses={}{lease}, mac={}, mtu={}, status='{}')",
            self.host(),
            self.attachment.host_ifname,
            self.attachment.plan.guest_ifname,
            repr_list(&self.addresses()),
            repr_option(self.mac(), true),
            self.attachment.mtu,
            self.status(),
        )
    }
}
