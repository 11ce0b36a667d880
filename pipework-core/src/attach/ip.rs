//! Addressing the guest interface: addresses, link up, default gateways; shared by every host side.

use nix::errno::Errno;

use super::AttachPlan;
use crate::{
    addr, announce,
    dhcp::{self, DhcpRecord},
    error::{Error, Failures, Op, Result},
    handle::{BatchRequest, Handle},
    link::{self, Link},
    resolve::Guest,
    route::Route,
};

/// What setting up the guest interface did, beyond what vanishes with the interface.
#[derive(Debug, Default)]
pub(super) struct GuestSetup {
    /// Routes added and replaced.
    pub(super) routes: RouteChanges,
    /// What did not work but does not fail the attach.
    pub(super) warnings: Vec<String>,
    /// The DHCP lease, when the plan asks for DHCP.
    pub(super) dhcp: Option<DhcpRecord>,
}

/// Configures the guest interface `link` as the plan says, with the kernel announcing its
/// addresses (see [`crate::announce`]); a failed announcement is a warning.
pub(super) fn setup(
    guest_handle: &Handle,
    guest: &Guest,
    link: &Link,
    plan: &AttachPlan,
) -> Result<GuestSetup> {
    let mut warnings = Vec::new();
    let announce_v4 = plan.announce && plan.addresses.iter().any(|net| net.addr().is_ipv4());
    if plan.announce && plan.addresses.iter().any(|net| net.addr().is_ipv6()) {
        log::info!("asking the kernel to announce the IPv6 addresses of {} after DAD", link.name);
        if let Err(err) = announce::enable_ndisc_notify(&guest.namespace, &link.name) {
            warnings.push(format!("IPv6 addresses not announced: {err}"));
        }
    }
    let routes = configure(guest_handle, link.index, plan, announce_v4, &mut warnings)?;
    let dhcp = match &plan.dhcp {
        Some(spec) => match dhcp::obtain(guest, &link.name, spec) {
            Ok(record) => Some(record),
            Err(err) => return Err(err.rolled_back(restore_routes(guest_handle, &routes.replaced))),
        },
        None => None,
    };
    if let Some(record) =
        dhcp.as_ref().filter(|record| plan.announce && record.client.announces_lease())
    {
        announce_lease(guest, record, &mut warnings);
    }
    Ok(GuestSetup { routes, warnings, dhcp })
}

/// Announces a leased address: it was added to an interface already up, which the kernel's
/// `arp_notify` does not announce, and the DHCP exchange taught only the server.
fn announce_lease(guest: &Guest, record: &DhcpRecord, warnings: &mut Vec<String>) {
    let lease = &record.lease;
    let Some(mac) = lease.mac else { return };
    log::info!("announcing the leased {} of {}", lease.address, lease.ifname);
    if let Err(err) =
        announce::send_arp_announcement(&guest.namespace, lease.ifindex, mac, lease.address.addr())
    {
        warnings.push(format!("leased address not announced: {err}"));
    }
}

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
/// Equivalent to: `ip addr add ...; [sysctl arp_notify=1;] ip link set up; [ip route add GW dev IF;] ip route add default via GW`,
/// sent as one batch that the kernel handles in order. A default route that already
/// exists is then replaced, and remembered so detach can put it back; on failure, default
/// routes already replaced are put back (what was added to the interface goes with it).
fn configure(
    guest: &Handle,
    index: u32,
    plan: &AttachPlan,
    announce_v4: bool,
    warnings: &mut Vec<String>,
) -> Result<RouteChanges> {
    log::info!(
        "link #{index}: adding {:?}, bringing it up, gateways {:?}",
        plan.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        plan.gateways
    );
    let mut changes = RouteChanges::default();
    let mut batch: Vec<BatchRequest> =
        plan.addresses.iter().map(|net| addr::add_request(index, *net)).collect();
    let arp_notify = announce_v4.then(|| {
        batch.push(announce::arp_notify_request(index));
        batch.len() - 1
    });
    batch.push(link::up_request(index));
    let mut defaults = Vec::new();
    for gateway in &plan.gateways {
        if !plan.addresses.iter().any(|net| net.contains(gateway)) {
            // An off-subnet gateway is only reachable once the kernel knows it is on this link.
            let host_route = Route::on_link_host(*gateway, index);
            batch.push(host_route.add_request());
            changes.added.push(host_route);
        }
        let default = Route::default_via(*gateway, index);
        batch.push(default.add_request());
        defaults.push((batch.len() - 1, default));
    }
    let mut to_replace = Vec::new();
    for (position, outcome) in guest.change_batch(batch).into_iter().enumerate() {
        match (outcome, defaults.iter().find(|(p, _)| *p == position)) {
            (Ok(()), _) => {}
            (Err(err), _) if Some(position) == arp_notify => {
                warnings.push(format!("IPv4 addresses not announced: {err}"));
            }
            (Err(err), Some((_, default))) if err.errno() == Errno::EEXIST => {
                to_replace.push(default.clone());
            }
            (Err(err), _) => return Err(err),
        }
    }
    for default in to_replace {
        if let Err(err) = replace_default(guest, &default, &mut changes) {
            return Err(err.rolled_back(restore_routes(guest, &changes.replaced)));
        }
    }
    Ok(changes)
}

/// Replaces the default route of `default`'s family, remembering the ones it replaces.
fn replace_default(guest: &Handle, default: &Route, changes: &mut RouteChanges) -> Result<()> {
    let ipv6 = default.destination.addr().is_ipv6();
    let previous: Vec<Route> = guest
        .routes(ipv6)?
        .into_iter()
        .filter(|route| route.is_default() && route.metric.is_none_or(|m| m == 0 || m == 1024))
        .filter(|route| route != default)
        .collect();
    guest.route_replace(default)?;
    changes.replaced.extend(previous);
    Ok(())
}

/// Puts back default routes that an attach replaced, skipping those whose interface is gone;
/// one that cannot be put back does not stop the others.
pub(super) fn restore_routes(guest: &Handle, routes: &[Route]) -> Result<()> {
    let mut steps = Failures::new(Op::RouteAdd, format!("default routes in {}", guest.namespace()));
    for route in routes {
        match guest.route_add(route) {
            Err(Error::Kernel {
                errno: Errno::EEXIST | Errno::ENODEV | Errno::ENETUNREACH,
                ..
            }) => {}
            other => steps.run(other).unwrap_or(()),
        }
    }
    steps.finish()
}
