//! IPoIB child interfaces: a partition (P_Key) of an InfiniBand port, as its own IP interface.
//!
//! Built to the kernel's interface (`IFLA_IPOIB_*`); not run against InfiniBand hardware.

use rtnetlink::{
    LinkIpoib,
    packet_route::link::{IpoibMode as KernelIpoibMode, LinkMessage},
};
use serde::{Deserialize, Serialize};

use super::{Birth, Link, LinkRef, Resolve, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Result},
    handle::Handle,
    ifname,
};

/// How an IPoIB interface carries IP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpoibMode {
    /// Unreliable datagrams, MTU bounded by the InfiniBand MTU (the usual default).
    Datagram,
    /// Reliable connected queue pairs, MTU up to 65520.
    Connected,
}

impl From<IpoibMode> for KernelIpoibMode {
    fn from(mode: IpoibMode) -> Self {
        match mode {
            IpoibMode::Datagram => KernelIpoibMode::Datagram,
            IpoibMode::Connected => KernelIpoibMode::Connected,
        }
    }
}

/// Checks a partition key: 0x0000 and 0x8000 are invalid in InfiniBand and the kernel refuses them.
pub fn validate_pkey(argument: &str, pkey: u16) -> Result<()> {
    if pkey & 0x7fff == 0 {
        return Err(Error::invalid(
            argument,
            format!("{pkey:#06x}"),
            "0x0000 and 0x8000 are not valid partition keys",
        ));
    }
    Ok(())
}

/// Reads a partition key written in hex like iproute2's `pkey` (`8001`, `0x8001`), naming `argument`.
pub fn parse_pkey(argument: &str, text: &str) -> Result<u16> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    let pkey = u16::from_str_radix(digits, 16).map_err(|_| {
        Error::invalid(argument, text, "a partition key is up to 4 hex digits, like 8001 or 0x8001")
    })?;
    validate_pkey(argument, pkey)?;
    Ok(pkey)
}

/// The host-side name of a guest's IPoIB child, as the original names it when that fits in 15
/// characters: `<parent>.<key>` or `<parent>.<pkey>.<key>` (`key` is the guest's PID or namespace
/// inode, the P_Key in four hex digits); otherwise `ib` and a digest of the three (deterministic).
pub fn ipoib_child_name(parent: &str, pkey: Option<u16>, key: &str) -> String {
    match pkey {
        Some(pkey) => {
            let pkey = format!("{pkey:04x}");
            ifname::fitted(format!("{parent}.{pkey}.{key}"), "ib", &[parent, &pkey, key])
        }
        None => ifname::fitted(format!("{parent}.{key}"), "ib", &[parent, "", key]),
    }
}

/// An IPoIB child interface to create on an InfiniBand parent.
///
/// There is no MAC setter: an IPoIB hardware address (20 bytes, with the port's GID) is given by
/// the InfiniBand fabric and the kernel refuses to change it.
#[derive(Debug, Clone)]
pub struct IpoibChild<'a> {
    name: String,
    parent: LinkRef,
    pkey: Option<u16>,
    mode: Option<IpoibMode>,
    umcast: Option<bool>,
    birth: Birth<'a>,
}

impl<'a> IpoibChild<'a> {
    /// A child named `name` of IPoIB link `parent`; the name is checked.
    pub fn new(name: &str, parent: impl Into<LinkRef>) -> Result<Self> {
        validate_ifname("ipoib ifname", name)?;
        Ok(IpoibChild {
            name: name.to_string(),
            parent: parent.into(),
            pkey: None,
            mode: None,
            umcast: None,
            birth: Birth::default(),
        })
    }

    /// The partition key (the parent's when not set); 0x0000 and 0x8000 are refused.
    pub fn pkey(mut self, pkey: u16) -> Result<Self> {
        validate_pkey("pkey", pkey)?;
        self.pkey = Some(pkey);
        Ok(self)
    }

    /// The transport mode (the kernel's default when not set).
    pub fn mode(mut self, mode: IpoibMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Whether user-space multicast groups may be joined (`umcast`).
    pub fn umcast(mut self, on: bool) -> Self {
        self.umcast = Some(on);
        self
    }

    birth_setters!();

    /// The RTM_NEWLINK request that creates this child.
    fn message(&self, index: Resolve<'_>) -> Result<LinkMessage> {
        let mut message = LinkIpoib::new(&self.name).link(index(&self.parent)?);
        if let Some(pkey) = self.pkey {
            message = message.pkey(pkey);
        }
        if let Some(mode) = self.mode {
            message = message.mode(mode.into());
        }
        if let Some(umcast) = self.umcast {
            message = message.umcast(umcast.into());
        }
        Ok(self.birth.apply(message, index)?.build())
    }

    /// Creates the child in one request and returns it as the kernel made it.
    ///
    /// The kernel answers ENODEV when the parent is not an IPoIB device and EOPNOTSUPP when it
    /// has no IPoIB support (module `ib_ipoib`).
    /// Equivalent to: `ip link add link PARENT name NAME type ipoib [pkey P] [mode M] [umcast U]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let message = self.message(&|link| index_in(handle, link))?;
        let what = format_args!(
            "ipoib {} on {} (needs an InfiniBand parent and the ib_ipoib module)",
            self.name, self.parent
        );
        self.birth.create(handle, message, &self.name, &what)
    }
}

#[cfg(test)]
mod tests {
    use rtnetlink::packet_core::{Emitable, Parseable};
    use rtnetlink::packet_route::link::{InfoData, InfoIpoib, InfoKind, LinkAttribute, LinkInfo};

    use super::*;

    fn emitted(message: &LinkMessage) -> Vec<u8> {
        let mut bytes = vec![0; message.buffer_len()];
        message.emit(&mut bytes);
        bytes
    }

    #[test]
    fn the_request_has_exactly_name_parent_kind_pkey_mode_and_umcast() {
        let child = IpoibChild::new("ib0.8001", 5)
            .unwrap()
            .pkey(0x8001)
            .unwrap()
            .mode(IpoibMode::Connected)
            .umcast(true);
        let message = child.message(&super::super::by_index).unwrap();
        assert_eq!(
            message.attributes,
            vec![
                LinkAttribute::IfName("ib0.8001".into()),
                LinkAttribute::Link(5),
                LinkAttribute::LinkInfo(vec![
                    LinkInfo::Kind(InfoKind::Ipoib),
                    LinkInfo::Data(InfoData::Ipoib(vec![
                        InfoIpoib::Pkey(0x8001),
                        InfoIpoib::Mode(KernelIpoibMode::Connected),
                        InfoIpoib::UmCast(1),
                    ])),
                ]),
            ]
        );
        let bytes = emitted(&message);
        // After the 16-byte ifinfomsg: IFLA_IFNAME (3), IFLA_LINK (5) = 5, then IFLA_LINKINFO (18)
        // holding IFLA_INFO_KIND (1) "ipoib" and IFLA_INFO_DATA (2) with IFLA_IPOIB_PKEY (1),
        // IFLA_IPOIB_MODE (2) and IFLA_IPOIB_UMCAST (3) as u16 in host byte order, as the
        // kernel's ipoib_netlink.c reads them.
        #[rustfmt::skip]
        let expected_tail: &[u8] = &[
            13, 0, 3, 0, b'i', b'b', b'0', b'.', b'8', b'0', b'0', b'1', 0, 0, 0, 0,
            8, 0, 5, 0, 5, 0, 0, 0,
            44, 0, 18, 0,
                10, 0, 1, 0, b'i', b'p', b'o', b'i', b'b', 0, 0, 0,
                28, 0, 2, 0,
                    6, 0, 1, 0, 0x01, 0x80, 0, 0,
                    6, 0, 2, 0, 1, 0, 0, 0,
                    6, 0, 3, 0, 1, 0, 0, 0,
        ];
        assert_eq!(&bytes[16..], expected_tail);
        // And the kernel's side of the wire parses back to the same message.
        let parsed = LinkMessage::parse(&bytes[..]).unwrap();
        assert_eq!(parsed, message);
    }

    #[test]
    fn unset_options_are_left_to_the_kernel() {
        let message =
            IpoibChild::new("ib0.42", 2).unwrap().message(&super::super::by_index).unwrap();
        let bytes = emitted(&message);
        // Only IFLA_INFO_KIND inside IFLA_LINKINFO: no IFLA_INFO_DATA nest at all.
        assert_eq!(
            &bytes[bytes.len() - 16..],
            &[16, 0, 18, 0, 10, 0, 1, 0, b'i', b'p', b'o', b'i', b'b', 0, 0, 0]
        );
    }

    #[test]
    fn pkeys_read_as_hex_like_iproute2() {
        assert_eq!(parse_pkey("pkey", "8001").unwrap(), 0x8001);
        assert_eq!(parse_pkey("pkey", "0x7fff").unwrap(), 0x7fff);
        for bad in ["", "12345", "zz", "8000", "0"] {
            let err = parse_pkey("--pkey", bad).unwrap_err().to_string();
            assert!(err.contains("invalid --pkey"), "{bad}: {err}");
        }
    }

    #[test]
    fn invalid_pkeys_are_refused() {
        for bad in [0x0000, 0x8000] {
            let err = IpoibChild::new("ib0.x", 2).unwrap().pkey(bad).unwrap_err().to_string();
            assert!(
                err.contains("invalid pkey") && err.contains("not valid partition keys"),
                "{err}"
            );
        }
        assert!(validate_pkey("pkey", 0x7fff).is_ok() && validate_pkey("pkey", 0xffff).is_ok());
    }

    #[test]
    fn names_follow_the_original_and_fit_15_characters() {
        assert_eq!(ipoib_child_name("ib0", None, "4242"), "ib0.4242");
        assert_eq!(ipoib_child_name("ib0", Some(0x8001), "4242"), "ib0.8001.4242");
        // The original would make "ib0.8001.1234567" (16 characters) here.
        let long = ipoib_child_name("ib0", Some(0x8001), "1234567");
        assert_eq!(long.len(), 15);
        assert!(long.starts_with("ib"));
        assert_eq!(long, ipoib_child_name("ib0", Some(0x8001), "1234567"));
        assert_ne!(long, ipoib_child_name("ib0", Some(0x8002), "1234567"));
        assert_ne!(
            ipoib_child_name("ib0", None, "4026532182"),
            ipoib_child_name("ib1", None, "4026532182")
        );
    }
}
