//! A dummy interface of the guest's own (the original's `dummy*` keyword), born in the guest:
//! nothing is created in the host.

use super::{AttachPlan, Attachment, finish_in_guest};
use crate::{error::Result, handle::Handle, link::Dummy, resolve::Guest};

/// Creates the dummy with its final name, MAC and MTU inside the guest, then addresses it.
///
/// Equivalent to: `ip -n GUEST link add IFNAME [address MAC] [mtu M] type dummy`, then the addressing.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
) -> Result<Attachment> {
    let mut dummy = Dummy::new(&plan.guest_ifname)?;
    if let Some(mac) = plan.mac {
        dummy = dummy.mac(mac);
    }
    if let Some(mtu) = plan.mtu {
        dummy = dummy.mtu(mtu);
    }
    log::info!("creating dummy {} in the guest", plan.guest_ifname);
    let added = dummy.add(guest_handle);
    finish_in_guest(host, guest_handle, guest, plan, (None, &["dummy"]), added, |_| Ok(()))
}
