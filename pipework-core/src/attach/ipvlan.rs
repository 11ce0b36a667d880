//! A guest on an ipvlan child of a parent device (it shares the parent's MAC), born in the guest.

use super::{AttachPlan, Attachment, finish_in_guest, macvlan::usable_parent};
use crate::{
    error::Result,
    handle::Handle,
    link::{Ipvlan, IpvlanFlag, IpvlanMode},
    resolve::Guest,
};

/// Creates the child with its final name inside the guest, then addresses it.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    parent_name: &str,
    mode: IpvlanMode,
    flag: IpvlanFlag,
) -> Result<Attachment> {
    let parent = usable_parent(host, parent_name)?;
    let child = Ipvlan::new(&plan.guest_ifname, parent.index, mode)?
        .flag(flag)
        .namespace_of(guest_handle)
        .mtu(plan.mtu.unwrap_or(parent.mtu));
    log::info!("creating ipvlan {} on {parent_name} (mode {mode}) in the guest", plan.guest_ifname);
    let added = child.add(host);
    finish_in_guest(
        host,
        guest_handle,
        guest,
        plan,
        (Some(&parent), &["ipvlan"]),
        added,
        |_| Ok(()),
    )
}
