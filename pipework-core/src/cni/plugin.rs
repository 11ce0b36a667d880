//! The commands: ADD, DEL, CHECK, STATUS, GC and VERSION, over [`attach`] and the records of
//! a [`StateStore`] per network (`$PIPEWORK_STATE_DIR/cni/NAME`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::{
    CniError, CniResult, Env, Interface, IpConfig, NetConf, RouteEntry, SUPPORTED_VERSIONS, code,
    config, ipam,
};
use crate::{
    attach::{AttachPlan, Attachment, HostSide},
    error::Category,
    handle::Handle,
    netns::Namespace,
    resolve::Guest,
    state::{Locked, Record, StateStore},
};

/// Runs `CNI_COMMAND` with the configuration `stdin`; `Some` is the JSON to print.
pub(super) fn dispatch(env: &Env, stdin: &[u8]) -> Result<Option<String>, CniError> {
    let command = env.require("CNI_COMMAND")?;
    if command == "VERSION" {
        let answer = serde_json::json!({
            "cniVersion": config::declared_version(stdin),
            "supportedVersions": SUPPORTED_VERSIONS,
        });
        return Ok(Some(answer.to_string()));
    }
    let call = Call::new(env, stdin)?;
    match command {
        "ADD" => call.add().map(Some),
        "DEL" => call.del().map(|()| None),
        "CHECK" => call.check().map(|()| None),
        "STATUS" => call.status().map(|()| None),
        "GC" => call.gc().map(|()| None),
        other => Err(CniError::new(
            code::INVALID_ENVIRONMENT,
            format!("CNI_COMMAND {other:?} is not ADD, DEL, CHECK, STATUS, GC or VERSION"),
            "",
        )),
    }
}

/// One invocation: the environment, the configuration, and the network's records.
struct Call<'a> {
    env: &'a Env,
    conf: NetConf,
    raw: Value,
    store: StateStore,
}

impl<'a> Call<'a> {
    fn new(env: &'a Env, stdin: &[u8]) -> Result<Self, CniError> {
        let conf = NetConf::parse(stdin)?;
        let valid_name = conf.name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && conf.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid_name {
            return Err(CniError::new(
                code::INVALID_CONFIG,
                format!("name {:?}: a network name is letters, digits, _ . and -", conf.name),
                "",
            ));
        }
        let raw = serde_json::from_slice(stdin).expect("parsed once already");
        let store = StateStore::new(StateStore::from_env().dir().join("cni").join(&conf.name));
        Ok(Call { env, conf, raw, store })
    }

    /// `CNI_CONTAINERID`, checked as the spec says (letters, digits, `_ . -`).
    fn container_id(&self) -> Result<&'a str, CniError> {
        let id = self.env.require("CNI_CONTAINERID")?;
        if !id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("CNI_CONTAINERID {id:?} is not a valid container ID"),
                "",
            ));
        }
        Ok(id)
    }

    /// Holds the network's lock: concurrent invocations on one network run one at a time.
    fn lock(&self) -> Result<Locked<'_>, CniError> {
        Ok(self.store.lock()?)
    }

    /// Runs the IPAM plugin, when one is configured, for `command`.
    fn ipam(
        &self,
        command: &str,
        overrides: &[(&str, &str)],
    ) -> Result<Option<CniResult>, CniError> {
        let Some(name) = self.conf.ipam_type() else { return Ok(None) };
        let mut input = self.raw.clone();
        input["cniVersion"] = ipam::version_for(self.env, name, &self.conf.cni_version)?.into();
        ipam::exec(self.env, name, command, &input, overrides)
    }

    /// The records of container `id`'s interface `ifname` in this network.
    fn records(&self, id: &str, ifname: &str) -> Result<Vec<Record>, CniError> {
        Ok(self
            .store
            .all()?
            .into_iter()
            .filter(|r| {
                r.attachment.guest.id.as_deref() == Some(id)
                    && r.attachment.plan.guest_ifname == ifname
            })
            .collect())
    }

    fn add(&self) -> Result<String, CniError> {
        let id = self.container_id()?;
        let ifname = self.env.require("CNI_IFNAME")?;
        let netns = self.env.require("CNI_NETNS")?;
        let namespace = open_netns(netns)?;
        let host = Handle::current()?;
        let mut plan = self.conf.plan(&host, ifname)?;
        plan.validate()?;
        let locked = self.lock()?;
        let allocated = self.ipam("ADD", &[])?;
        let undo_ipam = |err: CniError| {
            if allocated.is_some()
                && let Err(undo) = self.ipam("DEL", &[])
            {
                return CniError {
                    details: format!(
                        "{}; releasing the IPAM allocation also failed: {undo}",
                        err.details
                    ),
                    ..err
                };
            }
            err
        };
        if let Some(allocated) = &allocated {
            with_ipam(&mut plan, allocated).map_err(undo_ipam)?;
        }
        let mut guest = Guest::from_namespace(namespace);
        guest.id = Some(id.to_string());
        // A configuration has no foreground lease to keep.
        let (attachment, _) =
            locked.attach(&host, &guest, &plan).map_err(|err| undo_ipam(err.into()))?;
        let mut result = self.conf.prev_result.clone().unwrap_or_default();
        result.append(self.result_of(&attachment, netns, allocated));
        Ok(result.to_json(&self.conf.cni_version))
    }

    /// What this plugin adds to the chain's result for `attachment`.
    fn result_of(
        &self,
        attachment: &Attachment,
        netns: &str,
        allocated: Option<CniResult>,
    ) -> CniResult {
        let plan = &attachment.plan;
        let mut ours = CniResult::default();
        if matches!(plan.host, HostSide::Bridge { .. } | HostSide::OvsBridge { .. }) {
            ours.interfaces
                .push(Interface { name: attachment.host_ifname.clone(), ..Default::default() });
        }
        ours.interfaces.push(Interface {
            name: plan.guest_ifname.clone(),
            mac: attachment.mac.map(|mac| mac.to_string()),
            mtu: (self.conf.cni_version == "1.1.0").then_some(attachment.mtu),
            sandbox: Some(netns.to_string()),
            ..Default::default()
        });
        let guest_index = ours.interfaces.len() - 1;
        let same_family = |a: IpAddr, b: IpAddr| a.is_ipv4() == b.is_ipv4();
        ours.ips = plan
            .addresses
            .iter()
            .map(|net| IpConfig {
                version: None,
                address: *net,
                gateway: plan.gateways.iter().copied().find(|gw| same_family(*gw, net.addr())),
                interface: Some(guest_index),
            })
            .collect();
        ours.routes = plan
            .gateways
            .iter()
            .map(|gw| RouteEntry { dst: default_of(*gw), gw: Some(*gw), other: Default::default() })
            .collect();
        ours.dns = allocated.and_then(|result| result.dns);
        ours
    }

    fn del(&self) -> Result<(), CniError> {
        let id = self.container_id()?;
        let ifname = self.env.require("CNI_IFNAME")?;
        // A netns that is gone (or no netns at all) leaves only the host side to clean.
        let namespace = self.env.get("CNI_NETNS").and_then(|path| Namespace::from_path(path).ok());
        // The runtime waits for this process, not for the kernel's reclamation of the links.
        let host = Handle::current()?.with_detached_reclaim();
        let _lock = self.lock()?;
        let mut first_failure = None;
        for record in self.records(id, ifname)? {
            let guest = namespace
                .as_ref()
                .filter(|ns| ns.id() == record.attachment.guest.namespace)
                .map(|ns| Handle::new(ns).map(Handle::with_detached_reclaim))
                .transpose()?;
            match record.attachment.detach(&host, guest.as_ref()) {
                Ok(()) => self.store.remove(&record)?,
                Err(err) => first_failure = first_failure.or(Some(CniError::from(err))),
            }
        }
        if let Err(err) = self.ipam("DEL", &[]) {
            first_failure = first_failure.or(Some(err));
        }
        first_failure.map_or(Ok(()), Err)
    }

    fn check(&self) -> Result<(), CniError> {
        let id = self.container_id()?;
        let ifname = self.env.require("CNI_IFNAME")?;
        let namespace = open_netns(self.env.require("CNI_NETNS")?)?;
        let drift = |what: String| {
            CniError::new(
                code::PIPEWORK_FAILURE,
                what,
                format!("container {id}, network {}", self.conf.name),
            )
        };
        let records = self.records(id, ifname)?;
        let Some(record) = records.first() else {
            return Err(drift(format!("no attachment of {ifname} by pipework in this network")));
        };
        let host = Handle::current()?;
        let guest = Handle::new(&namespace)?;
        if let Some(first) = record.attachment.check(&host, Some(&guest))?.first() {
            return Err(drift(format!("{ifname} in {namespace}: {first}")));
        }
        self.ipam("CHECK", &[]).map(|_| ())
    }

    fn status(&self) -> Result<(), CniError> {
        match self.conf.ipam_type() {
            Some(name) => ipam::find(self.env, name).map(|_| ()),
            None => Ok(()),
        }
    }

    fn gc(&self) -> Result<(), CniError> {
        let host = Handle::current()?.with_detached_reclaim();
        let _lock = self.lock()?;
        let mut first_failure = None;
        for record in self.store.all()? {
            let recorded = &record.attachment.guest;
            let ifname = record.attachment.plan.guest_ifname.as_str();
            let id = recorded.id.clone().unwrap_or_default();
            if self
                .conf
                .valid_attachments
                .iter()
                .any(|v| v.container_id == id && v.ifname == ifname)
            {
                continue;
            }
            let guest = recorded
                .reopen()?
                .map(|ns| Handle::new(&ns).map(Handle::with_detached_reclaim))
                .transpose()?;
            if let Err(err) = record.attachment.detach(&host, guest.as_ref()) {
                first_failure = first_failure.or(Some(CniError::from(err)));
                continue;
            }
            self.store.remove(&record)?;
            let overrides =
                [("CNI_CONTAINERID", id.as_str()), ("CNI_IFNAME", ifname), ("CNI_NETNS", "")];
            if let Err(err) = self.ipam("DEL", &overrides) {
                first_failure = first_failure.or(Some(err));
            }
        }
        first_failure.map_or(Ok(()), Err)
    }
}

/// Opens the netns `CNI_NETNS` names; one that does not exist is error 3.
fn open_netns(path: &str) -> Result<Namespace, CniError> {
    Namespace::from_path(path).map_err(|err| match err.category() {
        Category::NotFound => CniError::new(
            code::UNKNOWN_CONTAINER,
            format!("CNI_NETNS {path} does not exist"),
            err.to_string(),
        ),
        _ => err.into(),
    })
}

/// The default route's destination of `gateway`'s family.
fn default_of(gateway: IpAddr) -> IpNet {
    match gateway {
        IpAddr::V4(_) => "0.0.0.0/0".parse().expect("a prefix"),
        IpAddr::V6(_) => "::/0".parse().expect("a prefix"),
    }
}

/// Adds the IPAM plugin's addresses to `plan`, and its default routes as gateways (unless
/// pipework's own `gateway` gives that family); other routes are refused (code 4).
fn with_ipam(plan: &mut AttachPlan, allocated: &CniResult) -> Result<(), CniError> {
    plan.addresses.extend(allocated.ips.iter().map(|ip| ip.address));
    for route in &allocated.routes {
        if route.dst.prefix_len() != 0 {
            return Err(CniError::new(
                code::INVALID_CONFIG,
                format!("ipam route {}: pipework installs only default routes", route.dst),
                "",
            ));
        }
        let v4 = route.dst.addr().is_ipv4();
        let gateway = route.gw.or_else(|| {
            allocated.ips.iter().filter_map(|ip| ip.gateway).find(|gw| gw.is_ipv4() == v4)
        });
        if let Some(gateway) = gateway
            && !plan.gateways.iter().any(|gw| gw.is_ipv4() == v4)
        {
            plan.gateways.push(gateway);
        }
    }
    plan.validate().map_err(Into::into)
}
