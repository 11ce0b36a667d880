//! A guest on a macvlan (or macvtap) child of a physical parent, and the host-side shim.

use super::{AttachPlan, Attachment, Shim, finish_in_guest};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    ifname,
    link::{Link, Macvlan, MacvlanMode},
    resolve::Guest,
    route::Route,
};

/// ARPHRD_LOOPBACK.
const ARPHRD_LOOPBACK: u16 = 772;

/// Creates the child with its final name and MAC inside the guest, then addresses it.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    parent_name: &str,
    mode: MacvlanMode,
    tap: bool,
) -> Result<Attachment> {
    let parent = usable_parent(host, parent_name)?;
    let mut child = Macvlan::new(&plan.guest_ifname, parent.index, mode)?
        .namespace_of(guest_handle)
        .mtu(plan.mtu.unwrap_or(parent.mtu));
    if tap {
        child = child.tap();
    }
    if let Some(mac) = plan.mac {
        child = child.mac(mac);
    }
    log::info!(
        "creating {} {} on {parent_name} (mode {mode}) in the guest",
        if tap { "macvtap" } else { "macvlan" },
        plan.guest_ifname
    );
    let added = child.add(host);
    let kinds: &[&str] = &["macvlan", "macvtap"];
    finish_in_guest(host, guest_handle, guest, plan, (Some(&parent), kinds), added, |attachment| {
        if let Some(address) = plan.host_shim {
            attachment.shim = Some(add_shim(host, guest, plan, &parent, address)?);
        }
        Ok(())
    })
}

/// The parent of a macvlan or ipvlan child, brought up like the original did (children need
/// it up); refused when it is missing, a bridge or the loopback device.
pub(super) fn usable_parent(host: &Handle, name: &str) -> Result<Link> {
    let parent = host.link_get(name)?.ok_or_else(|| Error::NotFound {
        op: Op::Attach,
        object: format!("parent interface {name} in {}", host.namespace()),
    })?;
    let reason = if parent.is_bridge() {
        "it is a bridge; attach to the bridge itself (a veth port) instead of a macvlan on it"
    } else if parent.link_type == ARPHRD_LOOPBACK {
        "it is the loopback device, which cannot carry a macvlan"
    } else {
        if !parent.is_up() {
            host.link_set_up(parent.index)?;
        }
        return Ok(parent);
    };
    Err(Error::Conflict {
        op: Op::Attach,
        object: format!("parent interface {name}"),
        reason: reason.into(),
    })
}

/// A macvlan on the same parent in the host, with `address` and host routes to the guest.
///
/// Equivalent to the original README's manual procedure:
/// `ip link add link PARENT NAME type macvlan mode bridge; ip addr add ADDRESS dev NAME;
/// ip link set NAME up; ip route add GUEST_IP dev NAME`.
fn add_shim(
    host: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    parent: &Link,
    address: ipnet::IpNet,
) -> Result<Shim> {
    let name = ifname::hashed("pws", &[&parent.name, &plan.guest_ifname, &guest.naming_key()]);
    log::info!("creating host shim {name} on {} with {address}", parent.name);
    let link = Macvlan::new(&name, parent.index, MacvlanMode::Bridge)?.add(host)?;
    let built = (|| -> Result<Shim> {
        host.addr_add(link.index, address)?;
        host.link_set_up(link.index)?;
        let mut routes = Vec::new();
        for net in &plan.addresses {
            let route = Route::on_link_host(net.addr(), link.index);
            host.route_add(&route)?;
            routes.push(route);
        }
        Ok(Shim { name: name.clone(), index: link.index, address, routes })
    })();
    built.map_err(|err| err.rolled_back(host.link_del(link.index)))
}

/// Deletes the guest's child (when the guest still exists) and the shim, each even when the
/// other fails.
pub(super) fn detach(
    attachment: &Attachment,
    host: &Handle,
    guest: Option<&Handle>,
    steps: &mut Failures,
) {
    steps.run(super::delete_guest_end(attachment, guest));
    if let Some(shim) = &attachment.shim {
        steps.run(delete_shim(host, shim));
    }
}

/// Deletes the shim when it is still the one pipework made (same index and name).
fn delete_shim(host: &Handle, shim: &Shim) -> Result<()> {
    match host.link_get(shim.index)? {
        Some(link) if link.name == shim.name => host.link_del(link.index),
        _ => Ok(()),
    }
}
