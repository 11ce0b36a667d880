//! A bridge's VXLAN port to other hosts: made (or found) by the attach of a guest that asks for
//! the overlay, removed with the bridge's last guest.

use super::VxlanUplink;
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    link::{FLOOD, FdbEntry, Link, PIPEWORK_ALIAS, Vxlan},
};

/// What joining the overlay made, for a rollback to undo.
pub(super) struct Joined {
    /// The tunnel device.
    pub(super) device: Link,
    /// True when this call created it.
    created: bool,
    /// The flood entries this call appended to a device that was there.
    appended: Vec<FdbEntry>,
}

/// Gives `bridge` its tunnel port `vx<VNI>` flooding to every remote: created (MTU: the
/// underlay's less the encapsulation) when missing, its missing flood entries appended when
/// it is there.
///
/// Equivalent to: `ip link add vxVNI mtu M master BRIDGE up type vxlan id VNI remote R1
/// dstport P [dev DEV]; bridge fdb append 00:00:00:00:00:00 dev vxVNI dst R2 self permanent`.
pub(super) fn join(host: &Handle, bridge: &Link, uplink: &VxlanUplink) -> Result<Joined> {
    let name = uplink.device_name();
    let joined = match host.link_get(name.as_str())? {
        Some(device) => {
            if device.kind.as_deref() != Some("vxlan") || device.master != Some(bridge.index) {
                return Err(Error::Conflict {
                    op: Op::Attach,
                    object: format!("interface {name}"),
                    reason: format!(
                        "it is a {} {}, not the VXLAN port of bridge {} this overlay needs",
                        device.kind.as_deref().unwrap_or("physical device"),
                        device.master.map_or("on no bridge".to_string(), |m| format!("on #{m}")),
                        bridge.name
                    ),
                });
            }
            Joined { device, created: false, appended: Vec::new() }
        }
        None => {
            Joined { device: create(host, bridge, uplink)?, created: true, appended: Vec::new() }
        }
    };
    flood_to_every_remote(host, joined, uplink)
}

/// Creates the tunnel device on `bridge`, marked as pipework's.
fn create(host: &Handle, bridge: &Link, uplink: &VxlanUplink) -> Result<Link> {
    let underlay_mtu = match &uplink.underlay {
        Some(dev) => host.link(dev.as_str())?.mtu,
        None => 1500,
    };
    let mut device = Vxlan::new(&uplink.device_name(), uplink.vni)?
        .remote(uplink.remotes[0])
        .port(uplink.port)
        .mtu(underlay_mtu.saturating_sub(uplink.overhead()))
        .master(bridge.index)
        .up();
    if let Some(dev) = &uplink.underlay {
        device = device.parent(dev.as_str());
    }
    log::info!(
        "creating vxlan {} (vni {}) on bridge {}",
        uplink.device_name(),
        uplink.vni,
        bridge.name
    );
    let link = device.add(host)?;
    match host.link_set_alias(link.index, PIPEWORK_ALIAS) {
        Ok(()) => Ok(link),
        Err(err) => Err(err.rolled_back(host.link_del(link.index))),
    }
}

/// Appends the flood entries the device lacks; on failure, what this call made is undone.
fn flood_to_every_remote(
    host: &Handle,
    mut joined: Joined,
    uplink: &VxlanUplink,
) -> Result<Joined> {
    let appended = host.fdb_entries(joined.device.index).and_then(|have| {
        for &dst in &uplink.remotes {
            let entry = FdbEntry { mac: FLOOD, dst };
            if !have.contains(&entry) {
                host.fdb_append(joined.device.index, entry)?;
                joined.appended.push(entry);
            }
        }
        Ok(())
    });
    match appended {
        Ok(()) => Ok(joined),
        Err(err) => Err(err.rolled_back(undo(host, &joined))),
    }
}

/// Undoes a join: the device when this call created it, else the entries it appended.
pub(super) fn undo(host: &Handle, joined: &Joined) -> Result<()> {
    if joined.created {
        return host.link_del(joined.device.index);
    }
    let mut steps =
        Failures::new(Op::Detach, format!("the flood entries of {}", joined.device.name));
    for entry in &joined.appended {
        steps.run(host.fdb_del(joined.device.index, *entry));
    }
    steps.finish()
}

/// After a guest left `bridge_name`: the tunnel device goes (its entries with it) when it is
/// pipework's and the bridge's last port, so the bridge can go too.
///
/// Equivalent to: `ip link del vxVNI`.
pub(super) fn release(host: &Handle, bridge_name: &str, uplink: &VxlanUplink) -> Result<()> {
    let Some(bridge) = host.link_get(bridge_name)? else { return Ok(()) };
    let ports = host.ports(bridge.index)?;
    match ports.as_slice() {
        [device]
            if device.name == uplink.device_name()
                && device.alias.as_deref() == Some(PIPEWORK_ALIAS) =>
        {
            log::info!("deleting vxlan {}, the last port of {bridge_name}", device.name);
            host.link_del(device.index)
        }
        _ => Ok(()),
    }
}
