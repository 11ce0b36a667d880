//! Dummy interfaces: a link with no wire behind it, for addresses a guest owns on its own.

use rtnetlink::{LinkDummy, packet_route::link::LinkMessage};

use super::{Birth, Link, Resolve, birth_setters, index_in, validate_ifname};
use crate::{error::Result, handle::Handle};

/// A dummy interface to create.
#[derive(Debug, Clone)]
pub struct Dummy<'a> {
    name: String,
    birth: Birth<'a>,
}

impl<'a> Dummy<'a> {
    /// A dummy named `name`; the name is checked.
    pub fn new(name: &str) -> Result<Self> {
        validate_ifname("dummy ifname", name)?;
        Ok(Dummy { name: name.to_string(), birth: Birth::default() })
    }

    birth_setters!(mac);

    /// The RTM_NEWLINK request that creates this dummy.
    fn message(&self, index: Resolve<'_>) -> Result<LinkMessage> {
        Ok(self.birth.apply(LinkDummy::new(&self.name), index)?.build())
    }

    /// Creates the dummy in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [address MAC] [mtu M] [master BR] [up] type dummy`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let message = self.message(&|link| index_in(handle, link))?;
        self.birth.create(handle, message, &self.name, &format_args!("dummy {}", self.name))
    }
}
