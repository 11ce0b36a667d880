//! Addressing the guest interface: addresses, link up, default gateways; shared by every host side.

use std::net::IpAddr;

use nix::errno::Errno;

use super::AttachPlan;
use crate::{
    error::{Error, Result},
    handle::Handle,
    route::Route,
};

/// The routes an IP configuration added and replaced.
#[derive(Debug, Default)]
pub(super) struct RouteChanges {
    /// On-link host routes to off-subnet gateways.
    pub(super) added: Vec<Route>,
    /// Default routes that were in place and got replaced.
    pub(super) replaced: Vec<Route>,
}

/// Adds the plan's addresses to link `index`, brings it up and installs the gateways.
///
/// Equivalent to: `ip addr add ...; ip link set up; [ip route add GW dev IF;] ip route replace default via GW`.
/// On failure, default routes that were already replaced are put back (what was added
/// to the interface goes away with it).
pub(super) fn configure(guest: &Handle, index: u32, plan: &AttachPlan) -> Result<RouteChanges> {
    for net in &plan.addresses {
        guest.addr_add(index, *net)?;
    }
    guest.link_set_up(index)?;
    let mut changes = RouteChanges::default();
    for gateway in &plan.gateways {
        if let Err(err) = add_gateway(guest, index, plan, *gateway, &mut changes) {
            restore_routes(guest, &changes.replaced)?;
            return Err(err);
        }
    }
    Ok(changes)
}

fn add_gateway(
    guest: &Handle,
    index: u32,
    plan: &AttachPlan,
    gateway: IpAddr,
    changes: &mut RouteChanges,
) -> Result<()> {
    let on_subnet = plan.addresses.iter().any(|net| net.contains(&gateway));
    if !on_subnet {
        // An off-subnet gateway is only reachable once the kernel knows it is on this link.
        let host_route = Route::on_link_host(gateway, index);
        guest.route_add(&host_route)?;
        changes.added.push(host_route);
    }
    let default = Route::default_via(gateway, index);
    // The common case (no default route yet) costs one request; otherwise remember what we replace.
    match guest.route_add(&default) {
        Err(err) if err.errno() == Errno::EEXIST => {
            let previous: Vec<Route> = guest
                .routes(gateway.is_ipv6())?
                .into_iter()
                .filter(|route| {
                    route.is_default() && route.metric.is_none_or(|m| m == 0 || m == 1024)
                })
                .collect();
            guest.route_replace(&default)?;
            changes.replaced.extend(previous.into_iter().filter(|r| *r != default));
            Ok(())
        }
        other => other,
    }
}

/// Puts back default routes that an attach replaced, skipping those whose interface is gone.
pub(super) fn restore_routes(guest: &Handle, routes: &[Route]) -> Result<()> {
    for route in routes {
        match guest.route_add(route) {
            Ok(()) => {}
            Err(Error::Kernel {
                errno: Errno::EEXIST | Errno::ENODEV | Errno::ENETUNREACH,
                ..
            }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
