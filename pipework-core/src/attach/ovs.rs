//! A guest on an Open vSwitch bridge: a veth pair whose peer is born in the guest and whose host
//! end becomes a port of the bridge (an access port of the plan's VLAN), with external ids that
//! record the attachment as the original's did; detach removes the port (the original left it).

use std::collections::BTreeMap;

use nix::errno::Errno;

use super::{AttachPlan, AttachStatus, Attachment, bridge, ip};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    ovs::{Ovs, OvsPort},
    resolve::Guest,
};

/// The external-ids key naming the interface pipework attached, its mark on the port.
const INTERFACE_KEY: &str = "pipework.interface";

/// A session with ovsdb-server, once it is sure that ovs-vswitchd opens ports in `host`'s
/// namespace, where pipework makes them; `bridge` names the bridge in the error.
pub(crate) fn connect_for(host: &Handle, bridge: &str) -> Result<Ovs> {
    let ovs = Ovs::connect()?;
    if let Some(vswitchd) = ovs.vswitchd_namespace()
        && vswitchd != host.namespace_id()
    {
        return Err(Error::Conflict {
            op: Op::Attach,
            object: format!("OVS bridge {bridge}"),
            reason: format!(
                "ovs-vswitchd runs in {vswitchd} and opens ports there, but the host handle is for {}",
                host.namespace()
            ),
        });
    }
    Ok(ovs)
}

/// Creates (or finds) the OVS bridge, the veth pair, the port and the guest's IP configuration.
///
/// Equivalent to: `ovs-vsctl --may-exist add-br BRIDGE; ip link add HOSTIF up type veth peer
/// name IFNAME netns GUEST; ovs-vsctl add-port BRIDGE HOSTIF [tag=VLAN] -- set Interface HOSTIF
/// external-ids:pipework.interface=HOSTIF ...`, then the addressing.
pub(super) fn attach(
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    bridge_name: &str,
) -> Result<Attachment> {
    let ovs = connect_for(host, bridge_name)?;
    let created = ovs.bridge_ensure(bridge_name)?;
    // Another attach may have added a port since this call created the bridge: it goes only
    // if no port but its own is left on it.
    let undo_bridge = || match created {
        true => ovs.bridge_delete_if_unused(bridge_name).map(drop),
        false => Ok(()),
    };
    let host_ifname = bridge::host_veth_name(plan, guest);
    let mtu = match plan.mtu {
        Some(mtu) => mtu,
        None => {
            host.link(bridge_name).map(|link| link.mtu).map_err(|e| e.rolled_back(undo_bridge()))?
        }
    };
    let veth = bridge::guest_veth(plan, guest, &host_ifname, mtu)?;
    log::info!(
        "creating veth {host_ifname} for OVS bridge {bridge_name} (created now: {created}), peer {} in the guest",
        plan.guest_ifname
    );
    let host_link = match veth.add(host) {
        Ok(link) => link,
        Err(err) => {
            if err.errno() != Errno::EEXIST {
                return Err(err.rolled_back(undo_bridge()));
            }
            undo_bridge()?;
            return already_attached(
                &ovs,
                host,
                guest_handle,
                guest,
                plan,
                &host_ifname,
                bridge_name,
            );
        }
    };
    let port = OvsPort {
        name: host_ifname.clone(),
        tag: plan.vlan,
        external_ids: external_ids(&host_ifname, bridge_name, guest, plan.vlan),
    };
    let configured = ovs.port_add(bridge_name, &port).and_then(|()| {
        let guest_link = guest_handle.link(plan.guest_ifname.as_str())?;
        let setup = ip::setup(guest_handle, guest, &guest_link, plan)?;
        Ok((guest_link, setup))
    });
    match configured {
        Ok((guest_link, setup)) => {
            let mut attachment =
                Attachment::created(plan, host, guest, Some(&host_link), &guest_link, setup);
            attachment.bridge_created = created;
            Ok(attachment)
        }
        Err(err) => {
            let mut undo = super::rollback(plan);
            undo.run(ovs.port_del(&host_ifname));
            undo.run(host.link_del(host_link.index));
            undo.run(undo_bridge());
            Err(err.rolled_back(undo.finish()))
        }
    }
}

/// What the port records about the attachment, under the original's keys.
fn external_ids(
    host_ifname: &str,
    bridge_name: &str,
    guest: &Guest,
    vlan: Option<u16>,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::from([
        (INTERFACE_KEY.to_string(), host_ifname.to_string()),
        ("pipework.bridge".to_string(), bridge_name.to_string()),
    ]);
    let optional = [
        ("pipework.containerid", guest.id.clone()),
        ("pipework.containername", guest.name.clone()),
        ("pipework.nspid", guest.pid.map(|pid| pid.to_string())),
        ("pipework.vlan", vlan.map(|vlan| vlan.to_string())),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            ids.insert(key.to_string(), value);
        }
    }
    ids
}

/// After EEXIST: the same veth pair with its host end a port of this bridge with this tag, or an
/// error naming what is in the way.
fn already_attached(
    ovs: &Ovs,
    host: &Handle,
    guest_handle: &Handle,
    guest: &Guest,
    plan: &AttachPlan,
    host_ifname: &str,
    bridge_name: &str,
) -> Result<Attachment> {
    let port = ovs.port(host_ifname)?;
    let datapath = host.link_get(host_ifname)?.and_then(|link| link.master);
    let (Some(port), Some(datapath)) = (port, datapath) else {
        return Err(Error::AlreadyExists {
            op: Op::Attach,
            object: format!(
                "host interface {host_ifname} (not a port of OVS bridge {bridge_name})"
            ),
            hint: "choose another host interface name (-l) or delete it first".into(),
        });
    };
    if port.bridge != bridge_name || port.tag != plan.vlan {
        return Err(Error::Conflict {
            op: Op::Attach,
            object: format!("{} in {guest}", plan.guest_ifname),
            reason: format!(
                "its host end {host_ifname} is a port of OVS bridge {} with tag {:?}, not of {bridge_name} with tag {:?}",
                port.bridge, port.tag, plan.vlan
            ),
        });
    }
    let (host_link, guest_link) =
        bridge::existing_pair(host, guest_handle, plan, host_ifname, &host.link(datapath)?, guest)?;
    let mut attachment =
        Attachment::created(plan, host, guest, Some(&host_link), &guest_link, Default::default());
    attachment.status = AttachStatus::AlreadyAttached;
    Ok(attachment)
}

/// Removes the port (when it is still the one pipework added), the veth, and the bridge if
/// pipework created it and no other port is left.
///
/// Equivalent to: `ovs-vsctl --if-exists del-port HOSTIF; ip link del HOSTIF; [ovs-vsctl del-br BRIDGE]`.
pub(super) fn detach(
    attachment: &Attachment,
    host: &Handle,
    bridge_name: &str,
    steps: &mut Failures,
) {
    let ovs = steps.run(Ovs::connect());
    if let Some(ovs) = &ovs {
        steps.run(delete_port(ovs, &attachment.host_ifname));
    }
    steps.run(bridge::delete_host_end(attachment, host));
    if let Some(ovs) = &ovs {
        steps.run(ovs.bridge_delete_if_unused(bridge_name));
    }
}

/// Deletes port `name` when it is still the one pipework added (its external ids say so).
fn delete_port(ovs: &Ovs, name: &str) -> Result<()> {
    match ovs.port(name)? {
        Some(port) if port.external_ids.get(INTERFACE_KEY).map(String::as_str) == Some(name) => {
            ovs.port_del(name).map(drop)
        }
        _ => Ok(()),
    }
}
