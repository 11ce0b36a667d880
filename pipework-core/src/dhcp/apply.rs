//! Applying a lease to the guest over netlink, refreshing it on renewal, and undoing it.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use nix::errno::Errno;

use super::lease::LeaseRecord;
use crate::{
    error::{Error, Result},
    handle::Handle,
    route::Route,
};

/// The smallest MTU IPv4 allows (RFC 791); a smaller option is ignored.
const MIN_IPV4_MTU: u16 = 68;

/// Installs the lease: the address with the lease's lifetime, the routes, the MTU.
///
/// Equivalent to: `ip addr replace A/P dev IF valid_lft L preferred_lft L;
/// [ip link set IF mtu M;] [ip route add R/32 dev IF;] ip route add default via R`.
/// A default route already in the guest is replaced only when `replace_default` is set;
/// otherwise it stays and the lease's router is not installed, so there are never two.
/// On failure, whatever this call changed is undone.
pub(super) fn apply(guest: &Handle, record: &mut LeaseRecord, replace_default: bool) -> Result<()> {
    apply_steps(guest, record, replace_default)
        .map_err(|err| err.rolled_back(unapply(guest, record)))
}

fn apply_steps(guest: &Handle, record: &mut LeaseRecord, replace_default: bool) -> Result<()> {
    set_address(guest, record)?;
    if let Some(mtu) = record.mtu.filter(|mtu| *mtu >= MIN_IPV4_MTU) {
        let link = guest.link(record.ifindex)?;
        if link.mtu != u32::from(mtu) {
            guest.link_set_mtu(record.ifindex, mtu.into())?;
            record.applied.previous_mtu = Some(link.mtu);
        }
    }
    for (destination, next_hop) in lease_routes(record) {
        if destination.prefix_len() == 0 {
            add_default(guest, record, next_hop, replace_default)?;
        } else {
            let route = Route {
                destination: destination.into(),
                gateway: (!next_hop.is_unspecified()).then_some(IpAddr::V4(next_hop)),
                oif: Some(record.ifindex),
                metric: None,
                table: None,
            };
            add_route(guest, record, route)?;
        }
    }
    Ok(())
}

/// Brings the address's lifetimes back to the lease time after a renewal; a different
/// address (or subnet) replaces the old one with everything that depended on it.
pub(super) fn refresh(
    guest: &Handle,
    record: &mut LeaseRecord,
    previous: &LeaseRecord,
    replace_default: bool,
) -> Result<()> {
    let same = previous.address == record.address
        && previous.router == record.router
        && previous.static_routes == record.static_routes
        && previous.mtu == record.mtu;
    if same {
        record.applied = previous.applied.clone();
        return set_address(guest, record);
    }
    unapply(guest, previous)?;
    record.applied = Default::default();
    record.applied.brought_up = previous.applied.brought_up;
    record.applied.resolv_conf = previous.applied.resolv_conf.clone();
    apply(guest, record, replace_default)
}

/// Removes what [`apply`] installed and puts back what it replaced; the link itself stays.
///
/// Equivalent to: `ip route del ...; ip addr del A/P dev IF; ip route add <replaced>;
/// ip link set IF mtu <previous>`. Things already gone (with the interface) are fine.
pub(super) fn unapply(guest: &Handle, record: &LeaseRecord) -> Result<()> {
    let applied = &record.applied;
    for route in applied.routes_added.iter().rev() {
        ignore_gone(guest.route_del(route))?;
    }
    ignore_gone(guest.addr_del(record.ifindex, IpNet::V4(record.address)))?;
    for route in &applied.routes_replaced {
        match guest.route_add(route) {
            Err(err) if matches!(err.errno(), Errno::EEXIST | Errno::ENETUNREACH) => {}
            other => ignore_gone(other)?,
        }
    }
    if let Some(mtu) = applied.previous_mtu {
        ignore_gone(guest.link_set_mtu(record.ifindex, mtu))?;
    }
    Ok(())
}

/// Brings the link down again when the lease's acquisition brought it up.
pub(super) fn restore_link_state(guest: &Handle, record: &LeaseRecord) -> Result<()> {
    if record.applied.brought_up {
        ignore_gone(guest.link_set_down(record.ifindex))?;
    }
    Ok(())
}

fn set_address(guest: &Handle, record: &LeaseRecord) -> Result<()> {
    let lifetime = record.lease_secs.unwrap_or(u32::MAX);
    guest.addr_replace_with_lifetimes(record.ifindex, IpNet::V4(record.address), lifetime, lifetime)
}

/// The routes a lease asks for: its classless routes (RFC 3442 says the router option is
/// then ignored), or a default route via its router.
fn lease_routes(record: &LeaseRecord) -> Vec<(Ipv4Net, Ipv4Addr)> {
    if !record.static_routes.is_empty() {
        return record.static_routes.clone();
    }
    record.router.map(|router| (Ipv4Net::default(), router)).into_iter().collect()
}

fn add_default(
    guest: &Handle,
    record: &mut LeaseRecord,
    router: Ipv4Addr,
    replace: bool,
) -> Result<()> {
    let existing: Vec<Route> = guest.routes(false)?.into_iter().filter(Route::is_default).collect();
    if let Some(kept) = existing.first().filter(|_| !replace) {
        record.applied.default_route_kept = Some(kept.clone());
        return Ok(());
    }
    for route in &existing {
        ignore_gone(guest.route_del(route))?;
        record.applied.routes_replaced.push(route.clone());
    }
    if !record.address.contains(&router) {
        // An off-subnet router is reachable only once the kernel knows it is on this link.
        add_route(guest, record, Route::on_link_host(IpAddr::V4(router), record.ifindex))?;
    }
    add_route(guest, record, Route::default_via(IpAddr::V4(router), record.ifindex))
}

fn add_route(guest: &Handle, record: &mut LeaseRecord, route: Route) -> Result<()> {
    match guest.route_add(&route) {
        // The same route is already there (a renewal, a second lease on the subnet).
        Err(err) if err.errno() == Errno::EEXIST => Ok(()),
        Err(err) => Err(err),
        Ok(()) => {
            record.applied.routes_added.push(route);
            Ok(())
        }
    }
}

/// Treats "no such device/address/route" as done: the thing left with its interface.
fn ignore_gone(result: Result<()>) -> Result<()> {
    match result {
        Err(Error::Kernel {
            errno: Errno::ENODEV | Errno::ESRCH | Errno::EADDRNOTAVAIL | Errno::ENOENT,
            ..
        }) => Ok(()),
        Err(Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}
