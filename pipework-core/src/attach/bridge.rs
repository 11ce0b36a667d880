//! A guest on a Linux bridge through a veth pair whose peer is born inside the guest.

use nix::errno::Errno;

use super::{AttachPlan, AttachStatus, Attachment, bridge_vlan, ip, overlay};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    ifname,
    link::{Bridge, Link, Veth},
    resolve::Guest,
};

/// Creates (or finds) the bridge, the veth pair and the guest's IP configuration.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    bridge_name: &str,
) -> Result<Attachment> {
    let bridge = match plan.vlan {
        Some(_) => bridge_vlan::prepare(host, bridge_name)?,
        None => Bridge::new(bridge_name)?.ensure(host)?,
    };
    // Another attach may have joined the bridge since this call created it: it goes only if
    // no port is left on it.
    let bridge_undo = || match bridge.created {
        true => Bridge::new(bridge_name)?.delete_if_unused(host).map(drop),
        false => Ok(()),
    };
    let joined = match &plan.vxlan {
        Some(uplink) => match overlay::join(host, &bridge.link, uplink) {
            Ok(joined) => Some(joined),
            Err(err) => return Err(err.rolled_back(bridge_undo())),
        },
        None => None,
    };
    let undo_bridge = || {
        let mut undo = super::rollback(plan);
        if let Some(joined) = &joined {
            undo.run(overlay::undo(host, joined));
        }
        undo.run(bridge_undo());
        undo.finish()
    };
    let host_ifname = host_veth_name(plan, guest);
    // Inside an overlay, the tunnel's MTU (the underlay's less the encapsulation).
    let tunnel_mtu = joined.as_ref().map(|joined| joined.device.mtu);
    let mtu = plan.mtu.or(tunnel_mtu).unwrap_or(bridge.link.mtu);
    let veth = match guest_veth(plan, guest, &host_ifname, mtu) {
        Ok(veth) => veth.master(bridge.link.index),
        Err(err) => return Err(err.rolled_back(undo_bridge())),
    };
    log::info!(
        "creating veth {host_ifname} on bridge {bridge_name} (#{}, created now: {}), peer {} in the guest, mtu {mtu}",
        bridge.link.index,
        bridge.created,
        plan.guest_ifname
    );
    let host_link = match veth.add(host) {
        Ok(link) => link,
        Err(err) => {
            if err.errno() != Errno::EEXIST {
                return Err(err.rolled_back(undo_bridge()));
            }
            undo_bridge()?;
            let (host_link, guest_link) =
                existing_pair(host, guest_handle, plan, &host_ifname, &bridge.link, guest)?;
            if let Some(vid) = plan.vlan {
                bridge_vlan::check_access_port(host, &host_link, vid)?;
            }
            let mut attachment = Attachment::created(
                plan,
                host,
                guest,
                Some(&host_link),
                &guest_link,
                Default::default(),
            );
            attachment.status = AttachStatus::AlreadyAttached;
            return Ok(attachment);
        }
    };
    let configured = guest_handle.link(plan.guest_ifname.as_str()).and_then(|guest_link| {
        if let Some(vid) = plan.vlan {
            bridge_vlan::make_access_port(host, bridge.link.index, host_link.index, vid)?;
        }
        let setup = ip::setup(guest_handle, guest, &guest_link, plan)?;
        Ok((guest_link, setup))
    });
    match configured {
        Ok((guest_link, setup)) => {
            let mut attachment =
                Attachment::created(plan, host, guest, Some(&host_link), &guest_link, setup);
            attachment.bridge_created = bridge.created;
            Ok(attachment)
        }
        Err(err) => {
            // Deleting the host end removes the peer, its addresses and its routes.
            let mut undo = super::rollback(plan);
            undo.run(host.link_del(host_link.index));
            undo.run(undo_bridge());
            Err(err.rolled_back(undo.finish()))
        }
    }
}

/// The guest's veth pair: host end `host_ifname` up, peer born in the guest with the plan's
/// name and MAC, both with `mtu`.
pub(super) fn guest_veth<'a>(
    plan: &AttachPlan,
    guest: &'a Guest,
    host_ifname: &str,
    mtu: u32,
) -> Result<Veth<'a>> {
    let veth =
        Veth::new(host_ifname, &plan.guest_ifname)?.peer_namespace(&guest.namespace).mtu(mtu).up();
    Ok(match plan.mac {
        Some(mac) => veth.peer_mac(mac),
        None => veth,
    })
}

/// The host end of a guest's veth: `-l` when given, else the original's name (made to fit).
pub(super) fn host_veth_name(plan: &AttachPlan, guest: &Guest) -> String {
    plan.host_ifname
        .clone()
        .unwrap_or_else(|| ifname::host_veth_name(&plan.guest_ifname, &guest.naming_key()))
}

/// After EEXIST: the same attachment already in place (a veth pair whose host end is a port of
/// `bridge`), or an error naming what is in the way.
pub(super) fn existing_pair(
    host: &Handle,
    guest_handle: &Handle,
    plan: &AttachPlan,
    host_ifname: &str,
    bridge: &Link,
    guest: &Guest,
) -> Result<(Link, Link)> {
    let host_link = host.link_get(host_ifname)?;
    let guest_link = guest_handle.link_get(plan.guest_ifname.as_str())?;
    match (host_link, guest_link) {
        (Some(h), Some(g))
            if h.kind.as_deref() == Some("veth")
                && g.kind.as_deref() == Some("veth")
                && h.master == Some(bridge.index)
                && h.parent == Some(g.index)
                && g.parent == Some(h.index) =>
        {
            let have: Vec<_> =
                guest_handle.addresses(Some(g.index))?.into_iter().map(|a| a.net).collect();
            let missing: Vec<String> = plan
                .addresses
                .iter()
                .filter(|net| !have.contains(net))
                .map(|net| net.to_string())
                .collect();
            let mac_differs = plan.mac.is_some_and(|mac| g.mac != Some(mac));
            if missing.is_empty() && !mac_differs {
                return Ok((h, g));
            }
            Err(Error::Conflict {
                op: Op::Attach,
                object: format!("{} in {guest}", plan.guest_ifname),
                reason: format!(
                    "it is already attached to {} through {host_ifname} but {}",
                    bridge.name,
                    if missing.is_empty() {
                        format!("with MAC {}", g.mac.map(|m| m.to_string()).unwrap_or_default())
                    } else {
                        format!("without {}", missing.join(", "))
                    }
                ),
            })
        }
        (_, Some(_)) => Err(Error::AlreadyExists {
            op: Op::Attach,
            object: format!("interface {} in {guest}", plan.guest_ifname),
            hint: "choose another guest interface name (-i)".into(),
        }),
        (Some(h), None) => Err(Error::AlreadyExists {
            op: Op::Attach,
            object: format!(
                "host interface {host_ifname} ({}, {})",
                h.kind.as_deref().unwrap_or("physical"),
                if h.is_up() { "up" } else { "down" }
            ),
            hint: "choose another host interface name (-l) or delete it first".into(),
        }),
        (None, None) => {
            Err(Error::kernel(Op::LinkAdd, format!("veth {host_ifname}"), Errno::EEXIST))
        }
    }
}

/// Deletes the host end (the kernel removes the guest end with it) and a bridge we created.
pub(super) fn detach(
    attachment: &Attachment,
    host: &Handle,
    bridge_name: &str,
    steps: &mut Failures,
) {
    steps.run(delete_host_end(attachment, host));
    if let Some(uplink) = &attachment.plan.vxlan {
        steps.run(overlay::release(host, bridge_name, uplink));
    }
    steps.run(Bridge::new(bridge_name).and_then(|bridge| bridge.delete_if_unused(host)));
}

/// Deletes the host end of the guest's veth when it is still the one pipework created.
pub(super) fn delete_host_end(attachment: &Attachment, host: &Handle) -> Result<()> {
    match host.link_get(attachment.host_ifindex)? {
        Some(link) if link.name == attachment.host_ifname => match host.link_del(link.index) {
            // Gone with the guest's namespace since the look-up.
            Err(err) if err.errno() == Errno::ENODEV => {}
            deleted => deleted?,
        },
        Some(link) => {
            return Err(Error::Conflict {
                op: Op::Detach,
                object: attachment.host_ifname.clone(),
                reason: format!(
                    "interface #{} is now {}, not the one pipework created; leaving it alone",
                    link.index, link.name
                ),
            });
        }
        // Gone with the guest's namespace already.
        None => {}
    }
    Ok(())
}
