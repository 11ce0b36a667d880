//! A guest on an IPoIB child of an InfiniBand device: created in the host under the original's
//! name (made to fit 15 characters), then moved into the guest and renamed in one request.
//!
//! Built to the kernel's interface; not run against InfiniBand hardware.

use super::{
    AttachPlan, Attachment, HostSide, already_in_guest, detect::ARPHRD_INFINIBAND, finish_in_guest,
};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::{IpoibChild, ipoib_child_name},
    resolve::Guest,
};

/// Creates the child in the host, moves it into the guest as the guest ifname, addresses it.
///
/// Equivalent to: `ip link add link PARENT name PARENT.PKEY.KEY type ipoib [pkey 0xPKEY];
/// ip link set PARENT.PKEY.KEY netns GUEST name ib0`, then the addressing.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
) -> Result<Attachment> {
    let HostSide::Ipoib { parent, pkey, mode, umcast } = &plan.host else {
        unreachable!("ipoib::attach is only called for an IPoIB host side");
    };
    let parent = host.link_get(parent.as_str())?.ok_or_else(|| Error::NotFound {
        op: Op::Attach,
        object: format!("IPoIB parent {parent} in {}", host.namespace()),
    })?;
    if parent.link_type != ARPHRD_INFINIBAND {
        return Err(Error::Conflict {
            op: Op::Attach,
            object: format!("IPoIB parent {}", parent.name),
            reason: format!(
                "it is not an InfiniBand device (link type {}, InfiniBand is {ARPHRD_INFINIBAND}); an IPoIB child needs an IPoIB port such as ib0",
                parent.link_type
            ),
        });
    }
    if guest_handle.link_get(plan.guest_ifname.as_str())?.is_some() {
        return already_in_guest(host, guest_handle, guest, plan, Some(&parent), &["ipoib"]);
    }
    if !parent.is_up() {
        host.link_set_up(parent.index)?;
    }
    let name = ipoib_child_name(&parent.name, *pkey, &guest.naming_key());
    let mut builder = IpoibChild::new(&name, parent.index)?;
    if let Some(pkey) = pkey {
        builder = builder.pkey(*pkey)?;
    }
    if let Some(mode) = mode {
        builder = builder.mode(*mode);
    }
    if let Some(umcast) = umcast {
        builder = builder.umcast(*umcast);
    }
    log::info!("creating IPoIB child {name} of {} and moving it into the guest", parent.name);
    let child = builder.add(host)?;
    if let Err(err) =
        host.link_set_namespace(child.index, &guest.namespace, &plan.guest_ifname, plan.mtu, None)
    {
        return Err(err.rolled_back(host.link_del(child.index)));
    }
    let ifname = plan.guest_ifname.as_str();
    let moved = guest_handle.link(ifname).map_err(|e| e.rolled_back(guest_handle.link_del(ifname)));
    finish_in_guest(host, guest_handle, guest, plan, (Some(&parent), &["ipoib"]), moved, |_| Ok(()))
}
