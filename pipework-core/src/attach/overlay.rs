//! A bridge's VXLAN (or Geneve) port to other hosts: made (or found) by the attach of a guest
//! that asks for the overlay, removed with the bridge's last guest; made and removed with a
//! lab by a topology's `tunnels`.

use super::VxlanUplink;
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    link::{FLOOD, FdbEntry, Geneve, Link, PIPEWORK_ALIAS, Vxlan},
};

use super::Encapsulation;

/// What joining the overlay made, for a rollback to undo.
pub(super) struct Joined {
    /// The tunnel device.
    pub(super) device: Link,
    /// True when this call created it.
    created: bool,
    /// The flood entries this call appended to a device that was there.
    appended: Vec<FdbEntry>,
}

/// Gives `bridge` its tunnel port `vx<VNI>` flooding to every remote (or `gnv<VNI>` to its
/// one remote): created (MTU: the underlay's less the encapsulation) when missing, its missing
/// flood entries appended when it is there.
///
/// Equivalent to: `ip link add vxVNI mtu M master BRIDGE up type vxlan id VNI remote R1
/// dstport P [dev DEV]; bridge fdb append 00:00:00:00:00:00 dev vxVNI dst R2 self permanent`
/// (`ip link add gnvVNI mtu M master BRIDGE up type geneve id VNI remote R dstport P`).
pub(super) fn join(host: &Handle, bridge: &Link, uplink: &VxlanUplink) -> Result<Joined> {
    let name = uplink.device_name();
    let joined = match host.link_get(name.as_str())? {
        Some(device) => {
            if device.kind.as_deref() != Some(uplink.device_kind())
                || device.master != Some(bridge.index)
            {
                return Err(Error::Conflict {
                    op: Op::Attach,
                    object: format!("interface {name}"),
                    reason: format!(
                        "it is a {} {}, not the {} port of bridge {} this overlay needs",
                        device.kind.as_deref().unwrap_or("physical device"),
                        device.master.map_or("on no bridge".to_string(), |m| format!("on #{m}")),
                        uplink.device_kind(),
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

/// Creates `bridge`'s tunnel port, flooding to every remote, marked as pipework's; on failure
/// it goes again.
///
/// Equivalent to: [`join`] where the port does not exist.
pub(crate) fn create_flooding(host: &Handle, bridge: &Link, uplink: &VxlanUplink) -> Result<Link> {
    let joined =
        Joined { device: create(host, bridge, uplink)?, created: true, appended: Vec::new() };
    flood_to_every_remote(host, joined, uplink).map(|joined| joined.device)
}

/// The MTU inside the overlay: its underlay's (1500 without one) less the encapsulation.
pub(crate) fn overlay_mtu(host: &Handle, uplink: &VxlanUplink) -> Result<u32> {
    let underlay = match &uplink.underlay {
        Some(dev) => host.link(dev.as_str())?.mtu,
        None => 1500,
    };
    Ok(underlay.saturating_sub(uplink.overhead()))
}

/// Creates the tunnel device on `bridge`, marked as pipework's.
fn create(host: &Handle, bridge: &Link, uplink: &VxlanUplink) -> Result<Link> {
    let mtu = overlay_mtu(host, uplink)?;
    let name = uplink.device_name();
    log::info!(
        "creating {} {name} (vni {}) on bridge {}",
        uplink.device_kind(),
        uplink.vni,
        bridge.name
    );
    let link = match uplink.encapsulation {
        Encapsulation::Vxlan => {
            let mut device = Vxlan::new(&name, uplink.vni)?
                .remote(uplink.remotes[0])
                .port(uplink.port)
                .mtu(mtu)
                .master(bridge.index)
                .up();
            if let Some(dev) = &uplink.underlay {
                device = device.parent(dev.as_str());
            }
            device.add(host)?
        }
        // The kernel's geneve has no underlay device: the route to the remote picks it.
        Encapsulation::Geneve => Geneve::new(&name, uplink.vni, uplink.remotes[0])?
            .port(uplink.port)
            .mtu(mtu)
            .master(bridge.index)
            .up()
            .add(host)?,
    };
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
    // A Geneve device sends to its one remote, and has no forwarding database.
    if uplink.encapsulation == Encapsulation::Geneve {
        return Ok(joined);
    }
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
/// Equivalent to: `ip link del vxVNI` (`gnvVNI`).
pub(super) fn release(host: &Handle, bridge_name: &str, uplink: &VxlanUplink) -> Result<()> {
    let Some(bridge) = host.link_get(bridge_name)? else { return Ok(()) };
    let ports = host.ports(bridge.index)?;
    match ports.as_slice() {
        [device]
            if device.name == uplink.device_name()
                && device.alias.as_deref() == Some(PIPEWORK_ALIAS) =>
        {
            log::info!("deleting {}, the last port of {bridge_name}", device.name);
            host.link_del(device.index)
        }
        _ => Ok(()),
    }
}
