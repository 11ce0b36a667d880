//! Any link kind the library does not model: its kind name, its IFLA_INFO_DATA and extra
//! attributes given as raw netlink attributes, with the birth settings every kind has.

use rtnetlink::{
    LinkMessageBuilder, LinkUnspec,
    packet_core::DefaultNla,
    packet_route::link::{InfoData, InfoKind, LinkAttribute},
};

use super::{Birth, Link, LinkRef, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Result},
    handle::Handle,
};

/// A link of kind `kind` (as `ip link add ... type KIND` names it) that has no type of its own
/// here: the kind's own settings are netlink attributes the caller encodes.
#[derive(Debug, Clone)]
pub struct GenericLink<'a> {
    name: String,
    kind: String,
    parent: Option<LinkRef>,
    /// IFLA_INFO_DATA: the kind's attributes, already encoded.
    info_data: Vec<u8>,
    /// Further IFLA_* attributes: (type, payload).
    attributes: Vec<(u16, Vec<u8>)>,
    birth: Birth<'a>,
}

impl<'a> GenericLink<'a> {
    /// A link named `name` of kind `kind` (`ifb`, `vrf`, `geneve`...); both are checked.
    pub fn new(name: &str, kind: &str) -> Result<Self> {
        validate_ifname("link name", name)?;
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid(
                "link kind",
                kind,
                "a kind is a word like ifb or vrf (ip link add NAME type KIND)",
            ));
        }
        Ok(GenericLink {
            name: name.to_string(),
            kind: kind.to_string(),
            parent: None,
            info_data: Vec::new(),
            attributes: Vec::new(),
            birth: Birth::default(),
        })
    }

    /// The lower device (IFLA_LINK), in the handle's namespace.
    pub fn parent(mut self, parent: impl Into<LinkRef>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// Adds one attribute of type `kind` with `payload` (in the kernel's byte order) to the
    /// kind's settings (IFLA_INFO_DATA), such as IFLA_VRF_TABLE for a vrf.
    pub fn info_attribute(mut self, kind: u16, payload: &[u8]) -> Self {
        encode_attribute(&mut self.info_data, kind, payload);
        self
    }

    /// Adds one top-level IFLA_* attribute of type `kind` with `payload`, such as
    /// IFLA_TXQLEN (13).
    pub fn attribute(mut self, kind: u16, payload: &[u8]) -> Self {
        self.attributes.push((kind, payload.to_vec()));
        self
    }

    birth_setters!(mac);

    /// Creates the link in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add [link PARENT] NAME [address MAC] [mtu M] [up] type KIND ...`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let index = |link: &LinkRef| index_in(handle, link);
        let mut message = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Other(
            self.kind.clone(),
        ))
        .name(self.name.clone());
        if let Some(parent) = &self.parent {
            message = message.link(index(parent)?);
        }
        if !self.info_data.is_empty() {
            message = message.set_info_data(InfoData::Other(self.info_data.clone()));
        }
        for (kind, payload) in &self.attributes {
            let attribute = LinkAttribute::Other(DefaultNla::new(*kind, payload.clone()));
            message = message.append_extra_attribute(attribute);
        }
        let message = self.birth.apply(message, &index)?.build();
        let what = format_args!("{} {}", self.kind, self.name);
        self.birth.create(handle, message, &self.name, &what)
    }
}

/// Appends one netlink attribute (length, type, payload, padding to 4 bytes) to `buffer`.
fn encode_attribute(buffer: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let length = 4 + payload.len();
    buffer.extend_from_slice(&(length as u16).to_ne_bytes());
    buffer.extend_from_slice(&kind.to_ne_bytes());
    buffer.extend_from_slice(payload);
    buffer.resize(buffer.len() + (4 - length % 4) % 4, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_encoded_with_length_type_and_padding() {
        let mut buffer = Vec::new();
        encode_attribute(&mut buffer, 1, &[7, 0, 0, 0]);
        encode_attribute(&mut buffer, 2, &[9]);
        let expected = [8u16.to_ne_bytes(), 1u16.to_ne_bytes()].concat();
        assert_eq!(&buffer[..4], expected.as_slice());
        assert_eq!(&buffer[4..8], &[7, 0, 0, 0]);
        assert_eq!(&buffer[8..10], &5u16.to_ne_bytes());
        assert_eq!(&buffer[12..], &[9, 0, 0, 0], "padded to 4 bytes");
    }

    #[test]
    fn a_kind_is_one_word() {
        assert!(GenericLink::new("vrf0", "vrf").is_ok());
        for bad in ["", "two words"] {
            let err = GenericLink::new("x0", bad).unwrap_err().to_string();
            assert!(err.contains("invalid link kind"), "{err}");
        }
    }
}
