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
    error::{Error, Op, Result},
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

/// What an `ip route` command does to its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteVerb {
    /// `ip route add`: fails if the route exists.
    Add,
    /// `ip route del`.
    Del,
    /// `ip route replace`: adds or replaces.
    Replace,
}

impl std::str::FromStr for RouteVerb {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "add" => Ok(RouteVerb::Add),
            "del" | "delete" => Ok(RouteVerb::Del),
            "replace" => Ok(RouteVerb::Replace),
            _ => Err(Error::invalid("route verb", text, "expected add, del or replace")),
        }
    }
}

/// `ip route add|del|replace default|PREFIX [via GW] [dev IF] [table N] [metric N]`, typed, to be
/// done with netlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCommand {
    /// What to do.
    pub verb: RouteVerb,
    /// The destination; `None` for `default`.
    pub destination: Option<IpNet>,
    /// The next hop (`via`).
    pub via: Option<IpAddr>,
    /// The output interface (`dev`), by name.
    pub dev: Option<String>,
    /// The table (`table`); the main table when `None`.
    pub table: Option<u32>,
    /// The metric (`metric`).
    pub metric: Option<u32>,
}

impl RouteCommand {
    /// The typed form of `ip route` arguments, or `None` when they need `ip route` itself
    /// (another verb such as `show`, another key such as `proto`, a bare `add default`).
    pub fn parse(args: &[impl AsRef<str>]) -> Option<Self> {
        let mut words = args.iter().map(AsRef::as_ref);
        let verb = words.next()?.parse().ok()?;
        let destination = match words.next()? {
            "default" => None,
            prefix => Some(
                prefix
                    .parse::<IpNet>()
                    .ok()
                    .or_else(|| prefix.parse::<IpAddr>().ok().map(IpNet::from))?,
            ),
        };
        let mut command =
            RouteCommand { verb, destination, via: None, dev: None, table: None, metric: None };
        while let Some(key) = words.next() {
            let value = words.next()?;
            match key {
                "via" => command.via = Some(value.parse().ok()?),
                "dev" => command.dev = Some(value.to_string()),
                "table" => command.table = Some(value.parse().ok()?),
                "metric" => command.metric = Some(value.parse().ok()?),
                _ => return None,
            }
        }
        if command.destination.is_none() && command.via.is_none() && command.dev.is_none() {
            return None;
        }
        Some(command)
    }

    /// Whether its addresses are IPv6 (`None` when it names none, like `add default dev IF`,
    /// which is then IPv4 as for `ip route`).
    pub fn is_ipv6(&self) -> Option<bool> {
        self.destination.map(|d| d.addr().is_ipv6()).or(self.via.map(|v| v.is_ipv6()))
    }

    /// Does it in the handle's namespace.
    ///
    /// Equivalent to: `ip route VERB ...` with the same words.
    pub fn run(&self, handle: &Handle) -> Result<()> {
        let oif = self.dev.as_deref().map(|dev| handle.link(dev).map(|l| l.index)).transpose()?;
        let ipv6 = self.is_ipv6().unwrap_or(false);
        let destination = self.destination.unwrap_or(if ipv6 {
            IpNet::V6(Default::default())
        } else {
            IpNet::V4(Default::default())
        });
        let route =
            Route { destination, gateway: self.via, oif, metric: self.metric, table: self.table };
        match self.verb {
            RouteVerb::Add => handle.route_add(&route),
            RouteVerb::Replace => handle.route_replace(&route),
            RouteVerb::Del => handle.route_del(&route),
        }
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

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn common_route_forms_are_typed_and_the_rest_passes_through() {
        let typed = RouteCommand::parse(&words("add 10.0.5.0/24 via 10.2.3.1 table 100")).unwrap();
        assert_eq!(typed.verb, RouteVerb::Add);
        assert_eq!(typed.destination, Some("10.0.5.0/24".parse().unwrap()));
        assert_eq!((typed.via, typed.table), (Some("10.2.3.1".parse().unwrap()), Some(100)));
        let default =
            RouteCommand::parse(&words("replace default via 2001:db8::1 dev eth1 metric 5"))
                .unwrap();
        assert_eq!(default.verb, RouteVerb::Replace);
        assert_eq!(
            (default.destination, default.dev.as_deref(), default.metric),
            (None, Some("eth1"), Some(5))
        );
        assert_eq!(RouteCommand::parse(&words("del 10.9.0.0/16")).unwrap().verb, RouteVerb::Del);
        for other in [
            "show",
            "add 10.0.0.0/8 via 1.2.3.4 proto static",
            "flush table 5",
            "add default",
            "get 1.1.1.1",
        ] {
            assert_eq!(RouteCommand::parse(&words(other)), None, "{other}");
        }
    }

    #[test]
    fn an_unknown_verb_is_an_error_never_a_delete() {
        let err = "flush".parse::<RouteVerb>().unwrap_err().to_string();
        assert!(
            err.contains("invalid route verb \"flush\": expected add, del or replace"),
            "{err}"
        );
    }

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
