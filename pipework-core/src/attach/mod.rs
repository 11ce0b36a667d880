//! The pipework operation: attach a guest to a host side, and undo it exactly.
//!
//! Three rooms: `plan.rs` holds [`AttachPlan`] and [`HostSide`] (what to do, validated before
//! anything changes), `record.rs` holds [`Attachment`] (what was made, in its serde shape), and
//! this file dispatches to one module per host side (`bridge`, `macvlan`, `physical`, `ovs`,
//! `ipvlan`, `dummy`, `ipoib`; `vlan` beneath them, `ip` for the guest's addressing); `check.rs`
//! compares an attachment with the kernel ([`Drift`]).

mod bridge;
pub(crate) mod bridge_vlan;
mod check;
mod detect;
mod dummy;
mod ip;
mod ipoib;
mod ipvlan;
mod macvlan;
pub(crate) mod overlay;
pub(crate) mod ovs;
mod physical;
mod plan;
mod record;
mod vlan;

pub use self::{
    check::Drift,
    detect::{
        AtSuffix, ChosenHost, Detected, HostChoice, HostKind, MacMatch, choose_host, detect,
        select_by_mac,
    },
    plan::{
        AttachPlan, DEFAULT_GUEST_IFNAME, DEFAULT_IPOIB_GUEST_IFNAME, Encapsulation, HostSide,
        VxlanUplink,
    },
    record::{AttachStatus, Attachment, PhysicalOrigin, Shim, VlanUse},
};
use crate::{
    dhcp::{DhcpKeep, DhcpLease},
    error::{Error, Failures, Op, Result},
    handle::Handle,
    link::Link,
    resolve::Guest,
};

/// Attaches `guest` as `plan` says; on any failure, what was created is removed again.
///
/// A guest that went away after it was resolved (its process exited, its namespace name
/// was deleted) is refused before anything is created; one that goes away during the attach
/// (its namespace lives on while pipework holds it open) has what the attach made undone and
/// is an error saying so. Re-running the same plan finds the attachment in place and returns
/// it with [`AttachStatus::AlreadyAttached`]; a different attachment in the way is an error
/// that names it.
pub fn attach(host: &Handle, guest: &Guest, plan: &AttachPlan) -> Result<Attachment> {
    plan.validate()?;
    guest.check_alive()?;
    refuse_host_namespace(host, guest, plan)?;
    log::info!("attaching {guest} through {:?} as {}", plan.host, plan.guest_ifname);
    let guest_handle = Handle::new(&guest.namespace)?;
    let attachment = attach_to(host, &guest_handle, guest, plan)?;
    let Some(why) = guest.gone() else {
        return Ok(attachment);
    };
    let gone = |outcome: &str| Error::NotFound {
        op: Op::Attach,
        object: format!("{guest} ({why}, during the attach; {outcome})"),
    };
    match attachment.status {
        AttachStatus::Created => Err(gone("what the attach had made is undone")
            .rolled_back(attachment.detach(host, Some(&guest_handle)))),
        AttachStatus::AlreadyAttached => Err(gone("nothing was changed")),
    }
}

/// A guest in the host side's own namespace is refused unless the plan allows it: its
/// interface, addresses and default route would change the host itself.
fn refuse_host_namespace(host: &Handle, guest: &Guest, plan: &AttachPlan) -> Result<()> {
    if plan.allow_host_namespace || guest.namespace.id() != host.namespace_id() {
        return Ok(());
    }
    Err(Error::Conflict {
        op: Op::Attach,
        object: format!("guest {guest}"),
        reason: format!(
            "it is the host's own network namespace ({}): {} would be created, addressed and \
             routed in the host itself (a container run with --net=host has no namespace of \
             its own); allow it explicitly (--allow-host-namespace) if that is meant",
            host.namespace_id(),
            plan.guest_ifname
        ),
    })
}

/// The attach proper, one module per host side.
fn attach_to(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
) -> Result<Attachment> {
    match &plan.host {
        HostSide::Bridge { name } => bridge::attach(host, guest_handle, guest, plan, name),
        HostSide::Macvlan { parent, mode, tap } => {
            vlan::beneath(host, guest, plan, parent, |parent| {
                macvlan::attach(host, guest_handle, guest, plan, parent, *mode, *tap)
            })
        }
        HostSide::Physical { device } => physical::attach(host, guest_handle, guest, plan, device),
        HostSide::OvsBridge { name } => ovs::attach(host, guest_handle, guest, plan, name),
        HostSide::Ipvlan { parent, mode, flag } => {
            vlan::beneath(host, guest, plan, parent, |parent| {
                ipvlan::attach(host, guest_handle, guest, plan, parent, *mode, *flag)
            })
        }
        HostSide::Dummy { .. } => dummy::attach(host, guest_handle, guest, plan),
        HostSide::Ipoib { .. } => ipoib::attach(host, guest_handle, guest, plan),
    }
}

/// [`attach`], and the DHCP lease kept by this process when the plan asks for it
/// ([`DhcpKeep::Foreground`], the command's `--foreground`): the returned [`DhcpLease`] renews it
/// from then on. When the lease cannot be kept, the attachment is undone and the error says so
/// (with the undo's own failure beside it, if any).
pub fn attach_keeping(
    host: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
) -> Result<(Attachment, Option<DhcpLease>)> {
    let attachment = attach(host, guest, plan)?;
    let (Some(spec), Some(dhcp)) = (&plan.dhcp, &attachment.dhcp) else {
        return Ok((attachment, None));
    };
    if dhcp.keep != DhcpKeep::Foreground || attachment.status != AttachStatus::Created {
        return Ok((attachment, None));
    }
    match DhcpLease::adopt(guest, &dhcp.lease, &spec.config) {
        Ok(lease) => Ok((attachment, Some(lease))),
        Err(err) => {
            let guest_handle = Handle::new(&guest.namespace);
            let undone = guest_handle.and_then(|handle| attachment.detach(host, Some(&handle)));
            Err(err.rolled_back(undone))
        }
    }
}

impl Attachment {
    /// Removes what the attach created and restores the default routes it replaced.
    ///
    /// `guest` is the guest's namespace handle when the guest still exists; without it
    /// only the host side is cleaned (the guest's side went with its namespace).
    pub fn detach(&self, host: &Handle, guest: Option<&Handle>) -> Result<()> {
        if host.namespace_id() != self.host_namespace {
            return Err(Error::Conflict {
                op: Op::Detach,
                object: self.host_ifname.clone(),
                reason: format!(
                    "the attachment was made in {} but the handle is for {}",
                    self.host_namespace,
                    host.namespace()
                ),
            });
        }
        let object = format!("{} from {}", self.plan.guest_ifname, self.plan.host.host_interface());
        log::info!("detaching {object}");
        // Every step runs, whatever failed before it; every failure is reported.
        let mut steps = Failures::new(Op::Detach, object);
        // The lease first, while its interface still exists.
        if let Some(dhcp) = &self.dhcp {
            let again = guest.and_then(|_| self.guest.reopen().ok().flatten());
            let guest = again.map(|namespace| self.guest.with_namespace(namespace));
            steps.run(dhcp.release(guest.as_ref()));
        }
        match &self.plan.host {
            HostSide::Bridge { name } => bridge::detach(self, host, name, &mut steps),
            HostSide::Macvlan { .. } => macvlan::detach(self, host, guest, &mut steps),
            HostSide::Physical { .. } => {
                steps.run(physical::detach(self, host, guest)).unwrap_or(())
            }
            HostSide::OvsBridge { name } => ovs::detach(self, host, name, &mut steps),
            HostSide::Ipvlan { .. } | HostSide::Dummy { .. } | HostSide::Ipoib { .. } => {
                steps.run(delete_guest_end(self, guest)).unwrap_or(())
            }
        }
        if let Some(vlan_link) = &self.vlan_link {
            steps.run(vlan::release(host, vlan_link));
        }
        if let Some(guest) = guest {
            steps.run(ip::restore_routes(guest, &self.routes_replaced));
        }
        steps.finish()
    }
}

/// Deletes the guest's interface of `attachment` when the guest still exists and it is still
/// the one pipework made (same index and name).
fn delete_guest_end(attachment: &Attachment, guest: Option<&Handle>) -> Result<()> {
    if let Some(guest) = guest
        && let Some(link) = guest.link_get(attachment.guest_ifindex)?
        && link.name == attachment.plan.guest_ifname
    {
        guest.link_del(link.index)?;
    }
    Ok(())
}

/// Finishes an attach whose guest interface was just created inside the guest (`added` is the
/// kernel's answer): after EEXIST, the attachment already in place or an error naming what is
/// there; otherwise the addressing and `extra`, with the interface deleted again on failure.
fn finish_in_guest(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    (host_link, kinds): (Option<&Link>, &[&str]),
    added: Result<Link>,
    extra: impl FnOnce(&mut Attachment) -> Result<()>,
) -> Result<Attachment> {
    let guest_link = match added {
        Ok(link) => link,
        Err(err) if err.errno() == nix::errno::Errno::EEXIST => {
            return already_in_guest(host, guest_handle, guest, plan, host_link, kinds);
        }
        Err(err) => return Err(err),
    };
    let made = (|| -> Result<Attachment> {
        let setup = ip::setup(guest_handle, guest, &guest_link, plan)?;
        let mut attachment = Attachment::created(plan, host, guest, host_link, &guest_link, setup);
        extra(&mut attachment)?;
        Ok(attachment)
    })();
    made.map_err(|err| err.rolled_back(guest_handle.link_del(guest_link.index)))
}

/// Collects the failures of undoing what a failed attach of `plan` had made.
fn rollback(plan: &AttachPlan) -> Failures {
    Failures::new(Op::Detach, format!("what the attach of {} had made", plan.guest_ifname))
}

/// After EEXIST in the guest: the same kind of interface (one of `kinds`, on `host_link` when
/// given) with the plan's addresses and MAC is the attachment already in place; anything else
/// is an error naming it.
fn already_in_guest(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    host_link: Option<&Link>,
    kinds: &[&str],
) -> Result<Attachment> {
    let existing = guest_handle.link(plan.guest_ifname.as_str())?;
    let same_kind = existing.kind.as_deref().is_some_and(|kind| kinds.contains(&kind));
    let have: Vec<_> =
        guest_handle.addresses(Some(existing.index))?.into_iter().map(|a| a.net).collect();
    if same_kind
        && host_link.is_none_or(|parent| existing.parent == Some(parent.index))
        && plan.addresses.iter().all(|net| have.contains(net))
        && plan.mac.is_none_or(|mac| existing.mac == Some(mac))
    {
        let mut attachment =
            Attachment::created(plan, host, guest, host_link, &existing, Default::default());
        attachment.status = AttachStatus::AlreadyAttached;
        return Ok(attachment);
    }
    Err(Error::AlreadyExists {
        op: Op::Attach,
        object: format!(
            "interface {} in {guest} ({})",
            plan.guest_ifname,
            existing.kind.as_deref().unwrap_or("physical")
        ),
        hint: "choose another guest interface name (-i)".into(),
    })
}
