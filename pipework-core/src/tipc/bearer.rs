//! What a TIPC bearer is made of: its medium and name (`eth:eth0`, `udp:...`) and link properties.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use serde::{Deserialize, Serialize};

use super::codec::PropAttr;
use crate::{
    error::{Error, Result},
    link::validate_ifname,
};

/// The UDP port TIPC uses when none is given (`tipc bearer enable media udp`).
pub const DEFAULT_UDP_PORT: u16 = 6118;

/// Where a UDP bearer takes its local address from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UdpLocal {
    /// This address and port.
    Address(SocketAddr),
    /// The first address of this interface in the node's namespace (IPv4 first), on `port`.
    Interface {
        /// The interface whose address is used.
        ifname: String,
        /// The UDP port.
        port: u16,
    },
}

/// A bearer to enable: TIPC over an Ethernet interface, or over UDP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "media")]
pub enum BearerSpec {
    /// `eth:<ifname>`: TIPC frames directly on an Ethernet-like interface (veth, bridge port...).
    Eth {
        /// The interface in the node's namespace.
        ifname: String,
    },
    /// `udp:<name>`: TIPC in UDP datagrams between IP addresses.
    Udp {
        /// The bearer's name after `udp:`.
        name: String,
        /// The local address and port.
        local: UdpLocal,
        /// The first peer (unicast) or a multicast group; `None` for the multicast group
        /// iproute2 derives from the network id (`228.0.<id / 256>.<id % 256>`).
        remote: Option<SocketAddr>,
    },
}

impl BearerSpec {
    /// An Ethernet bearer on `ifname`.
    pub fn eth(ifname: &str) -> Self {
        BearerSpec::Eth { ifname: ifname.to_string() }
    }

    /// The bearer's name as the kernel knows it (`eth:eth0`, `udp:net1`).
    pub fn name(&self) -> String {
        match self {
            BearerSpec::Eth { ifname } => format!("eth:{ifname}"),
            BearerSpec::Udp { name, .. } => format!("udp:{name}"),
        }
    }

    /// Checks names and addresses; an error names the argument and why.
    pub fn validate(&self) -> Result<()> {
        match self {
            BearerSpec::Eth { ifname } => validate_ifname("bearer interface", ifname),
            BearerSpec::Udp { name, local, remote } => {
                // TIPC_MAX_BEARER_NAME is 32 with its NUL, "udp:" included.
                if name.is_empty() || name.len() > 27 || name.contains(':') {
                    return Err(Error::invalid(
                        "bearer name",
                        name,
                        "a UDP bearer name has 1 to 27 characters and no ':'",
                    ));
                }
                let local_ip = match local {
                    UdpLocal::Address(addr) => Some(addr.ip()),
                    UdpLocal::Interface { ifname, .. } => {
                        validate_ifname("bearer interface", ifname)?;
                        None
                    }
                };
                if let (Some(local), Some(remote)) = (local_ip, remote)
                    && local.is_ipv4() != remote.is_ipv4()
                {
                    return Err(Error::invalid(
                        "remote",
                        remote.to_string(),
                        format!("is not of the same IP family as the local address {local}"),
                    ));
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for BearerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerSpec::Eth { ifname } => write!(f, "eth:{ifname}"),
            BearerSpec::Udp { name, local, remote } => {
                match local {
                    UdpLocal::Address(addr) => write!(f, "udp:{name},local={addr}")?,
                    UdpLocal::Interface { ifname, port } if ifname == name => {
                        write!(f, "udp:{name}")?;
                        if *port != DEFAULT_UDP_PORT {
                            write!(f, ",port={port}")?;
                        }
                    }
                    UdpLocal::Interface { ifname, port } => {
                        write!(f, "udp:{name},dev={ifname},port={port}")?
                    }
                }
                match remote {
                    Some(remote) => write!(f, ",remote={remote}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Parses `IP[:PORT]` or `[IPv6]:PORT`, with `port` when none is given.
fn parse_endpoint(argument: &str, text: &str, port: u16) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| Error::invalid(argument, text, "expected IP, IP:PORT or [IPv6]:PORT"))
}

impl FromStr for BearerSpec {
    type Err = Error;

    /// Parses `eth:IFNAME`, or `udp:NAME[,local=IP[:PORT]][,dev=IFNAME][,port=PORT][,remote=IP[:PORT]]`.
    ///
    /// Without `local=`, a UDP bearer takes its local address from interface `dev`, which
    /// defaults to NAME (`udp:eth0` uses eth0's address on port 6118).
    fn from_str(text: &str) -> Result<Self> {
        let syntax = "expected eth:IFNAME or udp:NAME[,local=IP[:PORT]][,dev=IFNAME][,port=PORT][,remote=IP[:PORT]]";
        let spec = match text.split_once(':') {
            Some(("eth", ifname)) => BearerSpec::eth(ifname),
            Some(("udp", rest)) => {
                let mut parts = rest.split(',');
                let name = parts.next().unwrap_or_default().to_string();
                let (mut local, mut dev, mut port, mut remote) = (None, None, None, None);
                for option in parts {
                    match option.split_once('=') {
                        Some(("local", value)) => {
                            local = Some(parse_endpoint("local", value, DEFAULT_UDP_PORT)?)
                        }
                        Some(("dev", value)) => dev = Some(value.to_string()),
                        Some(("port", value)) => {
                            port = Some(value.parse::<u16>().map_err(|_| {
                                Error::invalid("port", value, "is not a UDP port (0-65535)")
                            })?)
                        }
                        Some(("remote", value)) => {
                            remote = Some(parse_endpoint("remote", value, DEFAULT_UDP_PORT)?)
                        }
                        _ => return Err(Error::invalid("bearer", text, syntax)),
                    }
                }
                let local = match (local, dev, port) {
                    (Some(addr), None, None) => UdpLocal::Address(addr),
                    (None, dev, port) => UdpLocal::Interface {
                        ifname: dev.unwrap_or_else(|| name.clone()),
                        port: port.unwrap_or(DEFAULT_UDP_PORT),
                    },
                    _ => {
                        return Err(Error::invalid(
                            "bearer",
                            text,
                            "give either local=IP[:PORT] or dev=/port=, not both",
                        ));
                    }
                };
                BearerSpec::Udp { name, local, remote }
            }
            _ => return Err(Error::invalid("bearer", text, syntax)),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Link properties of a bearer; `None` keeps the kernel's (or the medium's) default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerProps {
    /// Link priority, 0 to 31 (the medium's default is 10).
    pub priority: Option<u32>,
    /// Link tolerance in ms, 50 to 30000 (default 1500): how long a silent peer stays up.
    pub tolerance: Option<u32>,
    /// Link window in packets, 50 to 8191 (default 50).
    pub window: Option<u32>,
}

impl BearerProps {
    /// Checks the ranges the kernel accepts; an error names the property.
    pub fn validate(&self) -> Result<()> {
        let check = |argument: &str, value: Option<u32>, min: u32, max: u32, unit: &str| match value
        {
            Some(value) if !(min..=max).contains(&value) => Err(Error::invalid(
                argument,
                value.to_string(),
                format!("must be from {min} to {max}{unit}"),
            )),
            _ => Ok(()),
        };
        check("priority", self.priority, 0, 31, "")?;
        check("tolerance", self.tolerance, 50, 30_000, " ms")?;
        check("window", self.window, 50, 8191, " packets")
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == BearerProps::default()
    }

    /// The properties as a `TIPC_NLA_BEARER_PROP` nest.
    pub(crate) fn attrs(&self) -> Vec<PropAttr> {
        [
            self.priority.map(PropAttr::Priority),
            self.tolerance.map(PropAttr::Tolerance),
            self.window.map(PropAttr::Window),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The properties from a `*_PROP` nest.
    pub(crate) fn from_attrs(attrs: &[PropAttr]) -> Self {
        let mut props = BearerProps::default();
        for attr in attrs {
            match attr {
                PropAttr::Priority(value) => props.priority = Some(*value),
                PropAttr::Tolerance(value) => props.tolerance = Some(*value),
                PropAttr::Window(value) => props.window = Some(*value),
                _ => {}
            }
        }
        props
    }

    /// Whether every property set here has the same value in `actual`.
    pub fn satisfied_by(&self, actual: &BearerProps) -> bool {
        [
            (self.priority, actual.priority),
            (self.tolerance, actual.tolerance),
            (self.window, actual.window),
        ]
        .iter()
        .all(|(wanted, actual)| wanted.is_none() || wanted == actual)
    }
}

/// The UDP multicast group iproute2 uses for a network id when no remote is given.
///
/// IPv4: `228.0.<id / 256>.<id % 256>`; IPv6: `ff02::<id>`, the decimal id written as hex digits.
pub fn default_udp_group(net_id: u32, ipv6: bool) -> IpAddr {
    if ipv6 {
        let group = u16::from_str_radix(&net_id.to_string(), 16).unwrap_or(net_id as u16);
        IpAddr::V6(std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, group))
    } else {
        IpAddr::V4(std::net::Ipv4Addr::new(228, 0, (net_id >> 8) as u8, net_id as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_specs_parse_and_print() {
        assert_eq!("eth:eth0".parse::<BearerSpec>().unwrap(), BearerSpec::eth("eth0"));
        assert_eq!(BearerSpec::eth("eth0").name(), "eth:eth0");
        let udp: BearerSpec = "udp:net1,local=10.0.0.1,remote=10.0.0.2:7000".parse().unwrap();
        assert_eq!(
            udp,
            BearerSpec::Udp {
                name: "net1".into(),
                local: UdpLocal::Address("10.0.0.1:6118".parse().unwrap()),
                remote: Some("10.0.0.2:7000".parse().unwrap()),
            }
        );
        assert_eq!(udp.name(), "udp:net1");
        assert_eq!(udp.to_string(), "udp:net1,local=10.0.0.1:6118,remote=10.0.0.2:7000");
        let by_interface: BearerSpec = "udp:eth1".parse().unwrap();
        assert_eq!(
            by_interface,
            BearerSpec::Udp {
                name: "eth1".into(),
                local: UdpLocal::Interface { ifname: "eth1".into(), port: DEFAULT_UDP_PORT },
                remote: None,
            }
        );
        assert_eq!(by_interface.to_string(), "udp:eth1");
        let v6: BearerSpec = "udp:n6,local=[fd00::1]:7000".parse().unwrap();
        assert_eq!(v6.to_string(), "udp:n6,local=[fd00::1]:7000");
    }

    #[test]
    fn bad_bearer_specs_name_the_argument() {
        for (bad, argument) in [
            ("eth0", "bearer"),
            ("ib:ib0", "bearer"),
            ("eth:averyveryverylongname", "bearer interface"),
            ("udp:n,local=10.0.0.1,remote=fd00::2", "remote"),
            ("udp:n,local=nothere", "local"),
            ("udp:n,port=70000", "port"),
            ("udp:n,local=10.0.0.1,port=1", "bearer"),
            ("udp:,local=10.0.0.1", "bearer name"),
            ("udp:n,colour=blue", "bearer"),
        ] {
            let err = bad.parse::<BearerSpec>().unwrap_err().to_string();
            assert!(err.starts_with(&format!("invalid {argument} ")), "{bad}: {err}");
        }
    }

    #[test]
    fn props_are_range_checked() {
        assert!(
            BearerProps { priority: Some(31), tolerance: Some(50), window: Some(8191) }
                .validate()
                .is_ok()
        );
        let err = BearerProps { tolerance: Some(10), ..Default::default() }.validate().unwrap_err();
        assert!(err.to_string().contains("tolerance"), "{err}");
        assert!(BearerProps { priority: Some(32), ..Default::default() }.validate().is_err());
        assert!(BearerProps { window: Some(49), ..Default::default() }.validate().is_err());
    }

    #[test]
    fn props_compare_only_what_is_asked() {
        let wanted = BearerProps { priority: Some(12), ..Default::default() };
        let actual = BearerProps { priority: Some(12), tolerance: Some(1500), window: Some(50) };
        assert!(wanted.satisfied_by(&actual));
        assert!(!BearerProps { window: Some(100), ..wanted }.satisfied_by(&actual));
        assert_eq!(BearerProps::from_attrs(&actual.attrs()), actual);
    }

    #[test]
    fn the_default_group_follows_iproute2() {
        assert_eq!(default_udp_group(4711, false).to_string(), "228.0.18.103");
        assert_eq!(default_udp_group(4711, true).to_string(), "ff02::4711");
    }
}
