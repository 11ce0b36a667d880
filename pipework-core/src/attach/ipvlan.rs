//! A guest on an ipvlan child of a parent device (it shares the parent's MAC), born in the guest.

use nix::errno::Errno;

use super::{AttachPlan, Attachment, already_in_guest, ip, macvlan::usable_parent};
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
    if !parent.is_up() {
        host.link_set_up(parent.index)?;
    }
    let child = Ipvlan::new(&plan.guest_ifname, parent.index, mode)?
        .flag(flag)
        .namespace(&guest.namespace)
        .mtu(plan.mtu.unwrap_or(parent.mtu));
    log::info!("creating ipvlan {} on {parent_name} (mode {mode}) in the guest", plan.guest_ifname);
    if let Err(err) = child.add(host) {
        if err.errno() != Errno::EEXIST {
            return Err(err);
        }
        return already_in_guest(host, guest_handle, guest, plan, Some(&parent), &["ipvlan"]);
    }
    let made = guest_handle.link(plan.guest_ifname.as_str()).and_then(|guest_link| {
        let setup = ip::setup(guest_handle, guest, &guest_link, plan)?;
        Ok(Attachment::created(plan, host, guest, Some(&parent), &guest_link, setup))
    });
    made.inspect_err(|_| {
        let _ = guest_handle.link_del(plan.guest_ifname.as_str());
    })
}
