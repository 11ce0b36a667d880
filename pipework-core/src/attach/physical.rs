//! A host device moved into the guest (the original's `--direct-phys`, SR-IOV VFs), and given back.

use super::{AttachPlan, Attachment, PhysicalOrigin, ip};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    resolve::Guest,
};

/// Moves the device into the guest under the guest ifname (one request), then addresses it.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    device: &str,
) -> Result<Attachment> {
    let link = host.link_get(device)?.ok_or_else(|| Error::NotFound {
        op: Op::Attach,
        object: format!(
            "device {device} in {} (is it already in another namespace?)",
            host.namespace()
        ),
    })?;
    if link.is_bridge() || link.link_type == 772 {
        return Err(Error::Conflict {
            op: Op::Attach,
            object: format!("host interface {device}"),
            reason: "a bridge or the loopback device cannot move to another namespace".into(),
        });
    }
    if guest_handle.link_get(plan.guest_ifname.as_str())?.is_some() {
        return Err(Error::AlreadyExists {
            op: Op::Attach,
            object: format!("interface {} in {guest}", plan.guest_ifname),
            hint: "choose another guest interface name (-i)".into(),
        });
    }
    let origin =
        PhysicalOrigin { name: link.name.clone(), mtu: link.mtu, mac: link.mac, up: link.is_up() };
    log::info!("moving {device} into the guest as {}", plan.guest_ifname);
    host.link_set_namespace(link.index, &guest.namespace, &plan.guest_ifname, plan.mtu, plan.mac)?;
    let made = guest_handle.link(plan.guest_ifname.as_str()).and_then(|guest_link| {
        let setup = ip::setup(guest_handle, guest, &guest_link, plan)?;
        let mut attachment =
            Attachment::created(plan, host, guest, Some(&link), &guest_link, setup);
        attachment.physical = Some(origin.clone());
        Ok(attachment)
    });
    made.map_err(|err| {
        err.rolled_back(give_back(host, guest_handle, plan.guest_ifname.as_str().into(), &origin))
    })
}

/// Moves the device back to the host under its original name, MTU, MAC and state.
pub(super) fn detach(attachment: &Attachment, host: &Handle, guest: Option<&Handle>) -> Result<()> {
    let Some(origin) = &attachment.physical else {
        return Ok(());
    };
    // Without the guest's namespace the kernel has already given the device back
    // (to the machine's initial namespace) when that namespace was destroyed.
    let Some(guest) = guest else {
        return Ok(());
    };
    match guest.link_get(attachment.guest_ifindex)? {
        Some(link) if link.name == attachment.plan.guest_ifname => {
            give_back(host, guest, link.index.into(), origin)
        }
        _ => Ok(()),
    }
}

fn give_back(
    host: &Handle,
    guest: &Handle,
    link: crate::link::LinkRef,
    origin: &PhysicalOrigin,
) -> Result<()> {
    let index = match link {
        crate::link::LinkRef::Index(index) => index,
        crate::link::LinkRef::Name(name) => guest.link(name)?.index,
    };
    // Down first: a moved device keeps its flags, and the original state is restored after.
    guest.link_set_down(index)?;
    guest.link_set_namespace(
        index,
        host.namespace(),
        &origin.name,
        Some(origin.mtu),
        origin.mac,
    )?;
    if origin.up {
        host.link_set_up(origin.name.as_str())?;
    }
    Ok(())
}
