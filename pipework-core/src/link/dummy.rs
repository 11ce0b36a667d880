//! Dummy interfaces: a link with no wire behind it, for addresses a guest owns on its own.

use rtnetlink::{LinkDummy, packet_route::link::LinkMessage};

use super::{Birth, birth_setters, create, validate_ifname};
use crate::{error::Result, handle::Handle, mac::MacAddr};

/// A dummy interface to create.
#[derive(Debug, Clone)]
pub struct Dummy<'a> {
    name: String,
    mac: Option<MacAddr>,
    birth: Birth<'a>,
}

impl<'a> Dummy<'a> {
    /// A dummy named `name`; the name is checked.
    pub fn new(name: &str) -> Result<Self> {
        validate_ifname("dummy ifname", name)?;
        Ok(Dummy { name: name.to_string(), mac: None, birth: Birth::default() })
    }

    /// The hardware address (a random one when not set).
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    birth_setters!();

    /// The RTM_NEWLINK request that creates this dummy.
    pub(crate) fn message(&self) -> LinkMessage {
        let mut message = LinkDummy::new(&self.name);
        if let Some(mac) = self.mac {
            message = message.address(mac.octets().to_vec());
        }
        self.birth.apply(message).build()
    }

    /// Creates the dummy in one request.
    ///
    /// Equivalent to: `ip link add NAME [address MAC] [mtu M] [up] type dummy`.
    pub fn add(&self, handle: &Handle) -> Result<()> {
        create(handle, self.message(), &format_args!("dummy {}", self.name))
    }
}
