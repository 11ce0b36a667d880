//! The original's `@VLAN` on a physical parent: a VLAN sub-interface `<parent>.<vid>` that the
//! macvlan or ipvlan guest sits on, created or found again (and checked to be that very VLAN,
//! which the original's pre-check never did), and removed once nothing uses it if pipework made it.

use super::{AttachPlan, Attachment, VlanUse};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::{PIPEWORK_ALIAS, Vlan, vlan_ifname},
    resolve::Guest,
};

/// Runs `attach_on` on `parent`, or, when the plan has a VLAN, on the VLAN sub-interface of
/// `parent` (created if missing); a sub-interface created here is removed again on failure.
pub(super) fn beneath(
    host: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    parent: &str,
    attach_on: impl FnOnce(&str) -> Result<Attachment>,
) -> Result<Attachment> {
    let Some(id) = plan.vlan else {
        return attach_on(parent);
    };
    let vlan = ensure(host, guest, plan, parent, id)?;
    match attach_on(&vlan.name) {
        Ok(mut attachment) => {
            attachment.vlan_link = Some(vlan);
            Ok(attachment)
        }
        Err(err) if vlan.created => Err(err.rolled_back(host.link_del(vlan.index))),
        Err(err) => Err(err),
    }
}

/// Creates or finds VLAN `id` on `parent`, both up, and gives the guest's namespace an id here
/// so that [`release`] can see the guest's interface stacked on the VLAN.
///
/// Equivalent to: `ip link add link PARENT name PARENT.VID type vlan id VID; ip link set PARENT up`.
fn ensure(
    host: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    parent: &str,
    id: u16,
) -> Result<VlanUse> {
    let parent = host.link_get(parent)?.ok_or_else(|| Error::NotFound {
        op: Op::Attach,
        object: format!("parent interface {parent} of VLAN {id} in {}", host.namespace()),
    })?;
    let name = vlan_ifname(&parent.name, id);
    log::info!("VLAN {id} ({}) on {}: {name}", plan.vlan_protocol, parent.name);
    let ensured =
        Vlan::new(&name, parent.index, id)?.protocol(plan.vlan_protocol).up().ensure(host)?;
    let made = (|| {
        if ensured.created {
            host.link_set_alias(ensured.link.index, PIPEWORK_ALIAS)?;
        } else if !ensured.link.is_up() {
            host.link_set_up(ensured.link.index)?;
        }
        if !parent.is_up() {
            host.link_set_up(parent.index)?;
        }
        host.nsid_ensure(&guest.namespace)
    })();
    match made {
        Err(err) if ensured.created => {
            return Err(err.rolled_back(host.link_del(ensured.link.index)));
        }
        Err(err) => return Err(err),
        Ok(_) => {}
    }
    Ok(VlanUse { name, index: ensured.link.index, created: ensured.created })
}

/// Removes the VLAN sub-interface if pipework created it and nothing is stacked on it any more.
///
/// Returns whether it was removed.
pub(super) fn release(host: &Handle, vlan: &VlanUse) -> Result<bool> {
    let Some(link) = host.link_get(vlan.index)? else {
        return Ok(false);
    };
    if link.name != vlan.name || link.alias.as_deref() != Some(PIPEWORK_ALIAS) {
        return Ok(false);
    }
    let uppers = host.link_uppers(link.index)?;
    if !uppers.is_empty() {
        log::info!("keeping VLAN {}: still used by {}", vlan.name, uppers.join(", "));
        return Ok(false);
    }
    host.link_del(link.index)?;
    Ok(true)
}
