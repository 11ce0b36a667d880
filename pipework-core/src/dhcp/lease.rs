//! [`LeaseRecord`]: what a server leased and what pipework changed to apply it, serialisable.

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use ipnet::Ipv4Net;
use mozim::DhcpV4Lease;
use serde::{Deserialize, Serialize};

use crate::{mac::MacAddr, netns::NamespaceId, route::Route};

/// A DHCPv4 lease as held by a guest interface, and what applying it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The guest interface that holds the lease.
    pub ifname: String,
    /// Its index in the guest namespace.
    pub ifindex: u32,
    /// Its hardware address (the client identifier is derived from it); `None` for a
    /// link without an Ethernet address (possible with an external client only).
    pub mac: Option<MacAddr>,
    /// The guest namespace.
    pub namespace: NamespaceId,
    /// The leased address with the prefix of the offered subnet mask.
    pub address: Ipv4Net,
    /// The default router (option 3), unless classless routes replace it.
    pub router: Option<Ipv4Addr>,
    /// Classless static routes (option 121): destination and next hop (`0.0.0.0` = on-link).
    pub static_routes: Vec<(Ipv4Net, Ipv4Addr)>,
    /// DNS servers (option 6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// The domain name (option 15).
    pub domain: Option<String>,
    /// The domain search list (option 119).
    pub search: Vec<String>,
    /// The interface MTU the server offered (option 26).
    pub mtu: Option<u16>,
    /// The host name sent to the server.
    pub hostname: Option<String>,
    /// The server that granted the lease (option 54); unknown for some external clients.
    pub server: Option<Ipv4Addr>,
    /// The lease time in seconds; unknown for some external clients.
    pub lease_secs: Option<u32>,
    /// When the client starts renewing (T1), in seconds after `obtained_at`.
    pub renew_secs: Option<u32>,
    /// When the client starts rebinding (T2), in seconds after `obtained_at`.
    pub rebind_secs: Option<u32>,
    /// When the lease was granted or last renewed, in seconds since the Unix epoch.
    pub obtained_at: u64,
    /// The raw value of each extra option requested and sent by the server.
    pub options: BTreeMap<u8, Vec<u8>>,
    /// What pipework changed in the guest to apply the lease.
    pub applied: Applied,
}

/// What applying a lease changed in the guest, so releasing it undoes exactly that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The interface was down and pipework brought it up.
    pub brought_up: bool,
    /// Routes pipework added (the default route, on-link routes, classless routes).
    pub routes_added: Vec<Route>,
    /// Default routes that were in place and got replaced (only when asked).
    pub routes_replaced: Vec<Route>,
    /// A default route already in place that was left alone, so the lease's router is not
    /// installed (ask for `replace_default_route` to use the lease's).
    pub default_route_kept: Option<Route>,
    /// The interface MTU before the lease's MTU option was applied.
    pub previous_mtu: Option<u32>,
    /// The resolv.conf written for the guest, when asked.
    pub resolv_conf: Option<ResolvConfWrite>,
}

/// A resolv.conf pipework wrote for a guest, and what it held before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvConfWrite {
    /// The file, as seen from the host.
    pub path: PathBuf,
    /// Its content before, or `None` when pipework created it.
    pub previous: Option<String>,
    /// Whether pipework also created the directory holding it.
    pub created_dir: bool,
}

/// The seconds since the Unix epoch now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl LeaseRecord {
    /// The time left before the lease runs out, when its length is known.
    pub fn remaining(&self) -> Option<Duration> {
        let lease = u64::from(self.lease_secs?);
        let elapsed = unix_now().saturating_sub(self.obtained_at);
        Some(Duration::from_secs(lease.saturating_sub(elapsed)))
    }

    /// Fills in the lease facts from a server's DHCPACK.
    pub(crate) fn set_facts(&mut self, lease: &DhcpV4Lease, extra_options: &[u8]) {
        self.address = Ipv4Net::new(lease.yiaddr, lease.prefix_length())
            .unwrap_or_else(|_| Ipv4Net::from(lease.yiaddr));
        self.router = lease.gateways.as_ref().and_then(|g| g.first().copied());
        self.static_routes = lease
            .classless_routes
            .iter()
            .flatten()
            .filter_map(|r| Some((Ipv4Net::new(r.destination, r.prefix_length).ok()?, r.router)))
            .collect();
        self.dns_servers = lease.dns_srvs.clone().unwrap_or_default();
        self.domain = lease.domain_name.clone();
        self.search = lease.domain_search.clone().unwrap_or_default();
        self.mtu = lease.mtu;
        self.server = Some(lease.srv_id).filter(|s| !s.is_unspecified());
        self.lease_secs = Some(lease.lease_time_sec);
        self.renew_secs = Some(lease.t1_sec);
        self.rebind_secs = Some(lease.t2_sec);
        self.obtained_at = unix_now();
        self.options = extra_options
            .iter()
            .filter_map(|code| {
                // mozim keeps the code and length in front of the value.
                let raw = lease.get_option_raw(*code)?;
                Some((*code, raw.get(2..).unwrap_or_default().to_vec()))
            })
            .collect();
    }

    /// The lease as mozim needs it to renew or release it, its timers counted from now.
    ///
    /// `None` when the lease has run out (or its times are unknown).
    pub(crate) fn to_client_lease(&self) -> Option<DhcpV4Lease> {
        let (t1, t2, lease) = remaining_times(
            self.renew_secs?,
            self.rebind_secs?,
            self.lease_secs?,
            unix_now().saturating_sub(self.obtained_at),
        )?;
        let mut client_lease = DhcpV4Lease::default();
        client_lease.yiaddr = self.address.addr();
        client_lease.subnet_mask = self.address.netmask();
        client_lease.srv_id = self.server?;
        client_lease.siaddr = self.server?;
        client_lease.t1_sec = t1;
        client_lease.t2_sec = t2;
        client_lease.lease_time_sec = lease;
        client_lease.gateways = self.router.map(|r| vec![r]);
        client_lease.dns_srvs = Some(self.dns_servers.clone()).filter(|d| !d.is_empty());
        client_lease.mtu = self.mtu;
        Some(client_lease)
    }
}

/// T1, T2 and the lease time left after `elapsed` seconds, kept in the order RFC 2131
/// requires (0 < T1 < T2 < lease); `None` when less than three seconds are left.
fn remaining_times(t1: u32, t2: u32, lease: u32, elapsed: u64) -> Option<(u32, u32, u32)> {
    let left = |t: u32| u64::from(t).saturating_sub(elapsed) as u32;
    let lease_left = left(lease);
    if lease_left < 3 {
        return None;
    }
    let t2_left = left(t2).clamp(2, lease_left - 1);
    let t1_left = left(t1).clamp(1, t2_left - 1);
    Some((t1_left, t2_left, lease_left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_counted_from_now_and_stay_ordered() {
        assert_eq!(remaining_times(60, 105, 120, 0), Some((60, 105, 120)));
        assert_eq!(remaining_times(60, 105, 120, 10), Some((50, 95, 110)));
        // Past T1: renew at once; past T2: rebind at once.
        assert_eq!(remaining_times(60, 105, 120, 70), Some((1, 35, 50)));
        assert_eq!(remaining_times(60, 105, 120, 110), Some((1, 2, 10)));
        assert_eq!(remaining_times(60, 105, 120, 118), None);
        assert_eq!(remaining_times(60, 105, 120, 500), None);
    }
}
