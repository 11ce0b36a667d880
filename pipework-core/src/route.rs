//! Routes: default gateways (with an on-link host route when off-subnet) and plain routes.

use std::net::IpAddr;

use ipnet::IpNet;
use rtnetlink::packet_route::{
    AddressFamily, RouteNetlinkMessage,
    route::{
        RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
        RouteType,
    },
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Op, Result},
    handle::{BatchRequest, Create, Handle},
};

/// A unicast route in the main table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix (`0.0.0.0/0` or `::/0` for a default route).
    pub destination: IpNet,
    /// Next hop, or `None` for a route straight out of the interface.
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Metric, when set.
    pub metric: Option<u32>,
    /// Routing table; `None` is the main table.
    #[serde(default)]
    pub table: Option<u32>,
}

impl Route {
    /// A default route via `gateway` out of link `oif`.
    pub fn default_via(gateway: IpAddr, oif: u32) -> Self {
        let destination = match gateway {
            IpAddr::V4(_) => IpNet::V4(Default::default()),
            IpAddr::V6(_) => IpNet::V6(Default::default()),
        };
        Route { destination, gateway: Some(gateway), oif: Some(oif), metric: None, table: None }
    }

    /// A host route to `address` straight out of link `oif` (scope link, no gateway).
    pub fn on_link_host(address: IpAddr, oif: u32) -> Self {
        Route {
            destination: IpNet::from(address),
            gateway: None,
            oif: Some(oif),
            metric: None,
            table: None,
        }
    }

    /// The request that adds this route (failing if it exists), for batches.
    pub(crate) fn add_request(&self) -> BatchRequest {
        BatchRequest {
            message: RouteNetlinkMessage::NewRoute(self.message()),
            create: Create::Exclusive,
            op: Op::RouteAdd,
            object: self.to_string(),
        }
    }

    /// Whether this is a default route.
    pub fn is_default(&self) -> bool {
        self.destination.prefix_len() == 0
    }

    fn message(&self) -> RouteMessage {
        let mut message = RouteMessage::default();
        message.header.address_family = match self.destination {
            IpNet::V4(_) => AddressFamily::Inet,
            IpNet::V6(_) => AddressFamily::Inet6,
        };
        message.header.destination_prefix_length = self.destination.prefix_len();
        match self.table {
            None => message.header.table = RouteHeader::RT_TABLE_MAIN,
            Some(table) if table < 256 => message.header.table = table as u8,
            Some(table) => {
                message.header.table = RouteHeader::RT_TABLE_UNSPEC;
                message.attributes.push(RouteAttribute::Table(table));
            }
        }
        message.header.protocol = RouteProtocol::Boot;
        message.header.kind = RouteType::Unicast;
        message.header.scope =
            if self.gateway.is_some() { RouteScope::Universe } else { RouteScope::Link };
        if self.destination.prefix_len() > 0 {
            message
                .attributes
                .push(RouteAttribute::Destination(RouteAddress::from(self.destination.network())));
        }
        if let Some(gateway) = self.gateway {
            message.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        }
        if let Some(oif) = self.oif {
            message.attributes.push(RouteAttribute::Oif(oif));
        }
        if let Some(metric) = self.metric {
            message.attributes.push(RouteAttribute::Priority(metric));
        }
        message
    }

    fn from_message(message: &RouteMessage) -> Option<Self> {
        if message.header.kind != RouteType::Unicast {
            return None;
        }
        let mut destination = None;
        let mut route = Route {
            destination: IpNet::V4(Default::default()),
            gateway: None,
            oif: None,
            metric: None,
            table: (message.header.table != RouteHeader::RT_TABLE_MAIN)
                .then_some(u32::from(message.header.table)),
        };
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Destination(address) => destination = ip_of(address),
                RouteAttribute::Gateway(address) => route.gateway = ip_of(address),
                RouteAttribute::Oif(oif) => route.oif = Some(*oif),
                RouteAttribute::Priority(metric) => route.metric = Some(*metric),
                RouteAttribute::Table(table) => {
                    route.table =
                        (*table != u32::from(RouteHeader::RT_TABLE_MAIN)).then_some(*table)
                }
                _ => {}
            }
        }
        let prefix = message.header.destination_prefix_length;
        route.destination = match (destination, message.header.address_family) {
            (Some(ip), _) => IpNet::new(ip, prefix).ok()?,
            (None, AddressFamily::Inet) => IpNet::V4(Default::default()),
            (None, AddressFamily::Inet6) => IpNet::V6(Default::default()),
            _ => return None,
        };
        Some(route)
    }
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_default() {
            f.write_str("default")?;
        } else {
            write!(f, "{}", self.destination)?;
        }
        if let Some(gateway) = self.gateway {
            write!(f, " via {gateway}")?;
        }
        if let Some(oif) = self.oif {
            write!(f, " dev #{oif}")?;
        }
        if let Some(table) = self.table {
            write!(f, " table {table}")?;
        }
        Ok(())
    }
}

impl Handle {
    /// Adds a route; fails if an identical one exists.
    ///
    /// Equivalent to: `ip route add DEST [via GW] dev DEV`.
    pub fn route_add(&self, route: &Route) -> Result<()> {
        let request = route.add_request();
        self.change(request.message, request.create, request.op, &request.object)
    }

    /// Adds a route, replacing the one with the same destination and metric.
    ///
    /// Equivalent to: `ip route replace DEST [via GW] dev DEV`.
    pub fn route_replace(&self, route: &Route) -> Result<()> {
        self.change(
            RouteNetlinkMessage::NewRoute(route.message()),
            Create::Replace,
            Op::RouteAdd,
            route,
        )
    }

    /// Deletes a route.
    ///
    /// Equivalent to: `ip route del DEST [via GW] [dev DEV]`.
    pub fn route_del(&self, route: &Route) -> Result<()> {
        self.change(RouteNetlinkMessage::DelRoute(route.message()), Create::No, Op::RouteDel, route)
    }

    /// Lists the unicast routes of the main table in one family.
    ///
    /// Equivalent to: `ip [-6] route show`.
    pub fn routes(&self, ipv6: bool) -> Result<Vec<Route>> {
        Ok(self.all_routes(ipv6)?.into_iter().filter(|r| r.table.is_none()).collect())
    }

    /// Lists the unicast routes of every table in one family.
    ///
    /// Equivalent to: `ip [-6] route show table all`.
    pub fn all_routes(&self, ipv6: bool) -> Result<Vec<Route>> {
        let mut request = RouteMessage::default();
        request.header.address_family =
            if ipv6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        let answers =
            self.dump(RouteNetlinkMessage::GetRoute(request), Op::RouteGet, &"main table")?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewRoute(message) => Route::from_message(message),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_host_routes_are_built_in_the_gateway_family() {
        let route = Route::default_via("10.0.0.1".parse().unwrap(), 3);
        assert!(route.is_default());
        assert_eq!(route.to_string(), "default via 10.0.0.1 dev #3");
        let message = route.message();
        assert_eq!(message.header.address_family, AddressFamily::Inet);
        assert_eq!(message.header.destination_prefix_length, 0);
        let host = Route::on_link_host("2001:db8::1".parse().unwrap(), 3);
        let message = host.message();
        assert_eq!(message.header.destination_prefix_length, 128);
        assert_eq!(message.header.scope, RouteScope::Link);
        assert_eq!(Route::from_message(&message), Some(host));
    }
}
