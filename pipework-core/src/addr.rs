//! IP addresses on links (IPv4 and IPv6, several per interface).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use rtnetlink::{
    AddressMessageBuilder,
    packet_route::{
        RouteNetlinkMessage,
        address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, CacheInfo},
    },
};

use crate::{
    error::{Error, Op, Result},
    handle::{BatchRequest, Create, Handle},
};

/// Parses `ADDRESS/PREFIX` for argument `argument`, suggesting the fix for common mistakes.
///
/// The original script's messages are kept: an address without a prefix gets
/// "Maybe you meant ADDRESS/24 ?" (or /64 for IPv6). An IPv4 netmask in dotted form
/// (`10.0.0.2/255.255.255.0`, which `ip addr add` takes too) is read as its prefix length;
/// a non-contiguous one is refused.
pub fn parse_cidr(argument: &str, text: &str) -> Result<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    let invalid = |reason: String| Error::invalid(argument, text, reason);
    if let Some((address, mask)) = text.split_once('/')
        && let (Ok(address), Ok(mask)) = (address.parse::<Ipv4Addr>(), mask.parse::<Ipv4Addr>())
    {
        let bits = u32::from(mask);
        let prefix = bits.leading_ones();
        if bits.checked_shl(prefix).unwrap_or(0) != 0 {
            return Err(invalid(format!(
                "netmask {mask} is not contiguous (its one bits must all lead, like 255.255.255.0)"
            )));
        }
        let net = Ipv4Net::new(address, prefix as u8).expect("a prefix of at most 32");
        return Ok(IpNet::V4(net));
    }
    match text.split_once('/') {
        None => match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => Err(invalid(format!(
                "the address needs a prefix length. Maybe you meant {text}/24?"
            ))),
            Ok(IpAddr::V6(_)) => Err(invalid(format!(
                "the address needs a prefix length. Maybe you meant {text}/64?"
            ))),
            Err(_) => Err(invalid("not an IPv4 or IPv6 address".into())),
        },
        Some((address, prefix)) => match address.parse::<IpAddr>() {
            Err(_) => Err(invalid(format!("{address:?} is not an IPv4 or IPv6 address"))),
            Ok(ip) => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                Err(invalid(format!("prefix length {prefix:?} is not a number from 0 to {max}")))
            }
        },
    }
}

/// Parses a plain IPv4 or IPv6 address (a gateway, a ping target) for argument `argument`.
pub fn parse_ip(argument: &str, text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>().map_err(|_| {
        let reason = if text.contains('/') {
            "expected an address without a prefix length"
        } else {
            "not an IPv4 or IPv6 address"
        };
        Error::invalid(argument, text, reason)
    })
}

/// An address as the kernel reports it on a link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    /// Index of the link that carries it.
    pub index: u32,
    /// The address and its prefix length.
    pub net: IpNet,
    /// Duplicate address detection has not passed (or failed): the kernel does not use the
    /// address yet (`tentative` in `ip addr`).
    pub tentative: bool,
}

impl Handle {
    /// Adds an address to link `index` (IPv4 gets the broadcast address of its subnet).
    ///
    /// Equivalent to: `ip addr add ADDRESS/PREFIX [brd +] dev DEV`.
    pub fn addr_add(&self, index: u32, net: IpNet) -> Result<()> {
        let request = add_request(index, net);
        self.change(request.message, request.create, request.op, &request.object)
    }

    /// Adds an address that the kernel removes after `valid` seconds (deprecated after
    /// `preferred`), or updates the lifetimes of the one in place: a DHCP lease.
    ///
    /// Equivalent to: `ip addr replace ADDRESS/PREFIX dev DEV valid_lft V preferred_lft P`.
    pub fn addr_replace_with_lifetimes(
        &self,
        index: u32,
        net: IpNet,
        valid: u32,
        preferred: u32,
    ) -> Result<()> {
        let mut message = address_message(index, net);
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_preferred = preferred.min(valid);
        lifetimes.ifa_valid = valid;
        message.attributes.push(AddressAttribute::CacheInfo(lifetimes));
        self.change(
            RouteNetlinkMessage::NewAddress(message),
            Create::Replace,
            Op::AddrAdd,
            &format_args!("{net} on link #{index} (valid_lft {valid})"),
        )
    }

    /// Removes an address from link `index`.
    ///
    /// Equivalent to: `ip addr del ADDRESS/PREFIX dev DEV`.
    pub fn addr_del(&self, index: u32, net: IpNet) -> Result<()> {
        self.change(
            RouteNetlinkMessage::DelAddress(address_message(index, net)),
            Create::No,
            Op::AddrDel,
            &format_args!("{net} on link #{index}"),
        )
    }

    /// Lists the addresses of link `index` (every link when `None`).
    ///
    /// Equivalent to: `ip addr show [dev DEV]`.
    pub fn addresses(&self, index: Option<u32>) -> Result<Vec<Address>> {
        let answers = self.dump(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            Op::AddrGet,
            &format_args!("link #{}", index.unwrap_or(0)),
        )?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewAddress(message) => read_address(message),
                _ => None,
            })
            .filter(|address| index.is_none_or(|i| address.index == i))
            .collect())
    }
}

/// The request that adds `net` to link `index`, for batches.
pub(crate) fn add_request(index: u32, net: IpNet) -> BatchRequest {
    BatchRequest {
        message: RouteNetlinkMessage::NewAddress(address_message(index, net)),
        create: Create::Exclusive,
        op: Op::AddrAdd,
        object: format!("{net} on link #{index}"),
    }
}

fn address_message(index: u32, net: IpNet) -> AddressMessage {
    match net {
        IpNet::V4(v4) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
            .index(index)
            .address(v4.addr(), v4.prefix_len())
            .build(),
        IpNet::V6(v6) => AddressMessageBuilder::<std::net::Ipv6Addr>::new()
            .index(index)
            .address(v6.addr(), v6.prefix_len())
            .build(),
    }
}

fn read_address(message: &AddressMessage) -> Option<Address> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
    let local = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let address = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) => Some(*ip),
        _ => None,
    });
    let ip = local.or(address)?;
    // IFA_FLAGS carries all 32 flag bits when present; the header holds the low eight.
    let tentative = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Flags(flags) => Some(flags.contains(AddressFlags::Tentative)),
        _ => None,
    });
    let tentative =
        tentative.unwrap_or_else(|| message.header.flags.contains(AddressHeaderFlags::Tentative));
    IpNet::new(ip, message.header.prefix_len).ok().map(|net| Address {
        index: message.header.index,
        net,
        tentative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_in_both_families() {
        assert_eq!(parse_cidr("address", "192.168.1.1/24").unwrap().to_string(), "192.168.1.1/24");
        assert_eq!(parse_cidr("address", "2001:db8::1/64").unwrap().to_string(), "2001:db8::1/64");
    }

    #[test]
    fn dotted_netmasks_become_prefix_lengths() {
        for (text, expected) in [
            ("10.0.0.2/255.255.255.0", "10.0.0.2/24"),
            ("192.168.4.25/255.255.240.0", "192.168.4.25/20"),
            ("10.0.0.2/255.255.255.255", "10.0.0.2/32"),
            ("10.0.0.2/0.0.0.0", "10.0.0.2/0"),
        ] {
            assert_eq!(parse_cidr("address", text).unwrap().to_string(), expected, "{text}");
        }
        let err = parse_cidr("address", "10.0.0.2/255.0.255.0").unwrap_err().to_string();
        assert!(
            err.contains("invalid address \"10.0.0.2/255.0.255.0\"")
                && err.contains("netmask 255.0.255.0 is not contiguous"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_prefix_suggests_one_like_the_original() {
        let err = parse_cidr("address", "10.0.0.2").unwrap_err().to_string();
        assert!(err.contains("Maybe you meant 10.0.0.2/24?"), "{err}");
        let err = parse_cidr("address", "2001:db8::2").unwrap_err().to_string();
        assert!(err.contains("Maybe you meant 2001:db8::2/64?"), "{err}");
    }

    #[test]
    fn bad_prefixes_and_addresses_are_named() {
        let err = parse_cidr("address", "10.0.0.2/33").unwrap_err().to_string();
        assert!(err.contains("prefix length \"33\"") && err.contains("0 to 32"), "{err}");
        let err = parse_cidr("address", "10.0.0.2/x").unwrap_err().to_string();
        assert!(err.contains("prefix length"), "{err}");
        let err = parse_cidr("address", "10.0.300.2/24").unwrap_err().to_string();
        assert!(err.contains("not an IPv4 or IPv6 address"), "{err}");
        let err = parse_cidr("address", "fe80::1/129").unwrap_err().to_string();
        assert!(err.contains("0 to 128"), "{err}");
    }

    #[test]
    fn plain_addresses_parse_and_prefixes_are_refused() {
        assert_eq!(parse_ip("gateway", "10.0.0.1").unwrap().to_string(), "10.0.0.1");
        assert!(parse_ip("gateway", "2001:db8::1").unwrap().is_ipv6());
        let err = parse_ip("gateway", "10.0.0.1/24").unwrap_err().to_string();
        assert!(err.starts_with("invalid gateway") && err.contains("without a prefix"), "{err}");
        let err = parse_ip("gateway", "router").unwrap_err().to_string();
        assert!(err.contains("not an IPv4 or IPv6 address"), "{err}");
    }
}
