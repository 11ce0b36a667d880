//! Linux bridges: created when missing, brought up, deleted.

use rtnetlink::LinkBridge;

use super::{Birth, Link, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    mac::MacAddr,
};

/// The alias pipework gives the bridges it creates, so any later detach knows it may remove them.
pub const PIPEWORK_ALIAS: &str = "created by pipework";

/// A Linux bridge by name, with the settings it is created with.
#[derive(Debug, Clone)]
pub struct Bridge<'a> {
    name: String,
    vlan_filtering: bool,
    birth: Birth<'a>,
}

/// The bridge after [`Bridge::ensure`]: what the kernel reports and whether it was created now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredBridge {
    /// The bridge as the kernel reports it after the call.
    pub link: Link,
    /// True when this call created it.
    pub created: bool,
}

impl<'a> Bridge<'a> {
    /// A bridge named `name`; the name is checked against the kernel's rules.
    pub fn new(name: &str) -> Result<Self> {
        validate_ifname("bridge name", name)?;
        Ok(Bridge { name: name.to_string(), vlan_filtering: false, birth: Birth::default() })
    }

    /// Creates the bridge with VLAN filtering on (an existing bridge is left as it is).
    pub fn vlan_filtering(mut self) -> Self {
        self.vlan_filtering = true;
        self
    }

    // An existing bridge found by `ensure` keeps its own.
    birth_setters!(mac);

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the bridge in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [address MAC] [mtu M] [up] type bridge [vlan_filtering 1]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let mut message = LinkBridge::new(&self.name);
        if self.vlan_filtering {
            message = message.vlan_filtering(true);
        }
        let message = self.birth.apply(message, &|link| index_in(handle, link))?.build();
        self.birth.create(handle, message, &self.name, &format_args!("bridge {}", self.name))
    }

    /// Creates the bridge (up) if it is missing, or brings the existing one up; an existing
    /// non-bridge is an error. It looks in the handle's namespace.
    ///
    /// A bridge created here carries the alias [`PIPEWORK_ALIAS`].
    /// Equivalent to: `ip link add NAME up type bridge [vlan_filtering 1]; ip link set NAME alias "created by pipework"`.
    pub fn ensure(&self, handle: &Handle) -> Result<EnsuredBridge> {
        self.birth.check_ensure(handle, &self.name)?;
        if let Some(link) = handle.link_get(self.name.as_str())? {
            return self.adopt(handle, link);
        }
        let mut wanted = self.clone().up();
        // A MAC of its own, or the kernel would make the bridge take its lowest port's and
        // fall to 00:00:00:00:00:00 once its last port leaves.
        if wanted.birth.mac.is_none() {
            wanted.birth.mac = Some(MacAddr::random_local()?);
        }
        match wanted.add(handle) {
            Ok(mut link) => {
                // The kernel ignores IFLA_IFALIAS when it creates a link; without its alias
                // the bridge would not be known as pipework's, so it goes again.
                if let Err(err) = handle.link_set_alias(link.index, PIPEWORK_ALIAS) {
                    return Err(err.rolled_back(handle.link_del(link.index)));
                }
                link.alias = Some(PIPEWORK_ALIAS.to_string());
                Ok(EnsuredBridge { link, created: true })
            }
            // Someone else created it between our lookup and our request.
            Err(err) if err.errno() == nix::errno::Errno::EEXIST => {
                self.adopt(handle, handle.link(self.name.as_str())?)
            }
            Err(err) => Err(err),
        }
    }

    /// Deletes the bridge; its ports stay, detached.
    ///
    /// Equivalent to: `ip link del NAME type bridge`.
    pub fn delete(&self, handle: &Handle) -> Result<()> {
        let link = handle.link(self.name.as_str())?;
        if !link.is_bridge() {
            return Err(self.not_a_bridge(&link, Op::LinkDel, handle));
        }
        handle.link_del(link.index)
    }

    /// Deletes the bridge if pipework created it and no port is left on it.
    ///
    /// Returns whether it was deleted.
    pub fn delete_if_unused(&self, handle: &Handle) -> Result<bool> {
        let Some(link) = handle.link_get(self.name.as_str())? else {
            return Ok(false);
        };
        if !link.is_bridge()
            || link.alias.as_deref() != Some(PIPEWORK_ALIAS)
            || !handle.ports(link.index)?.is_empty()
        {
            return Ok(false);
        }
        match handle.link_del(link.index) {
            Ok(()) => Ok(true),
            // Another detach removed it between our check and our request.
            Err(err) if err.errno() == nix::errno::Errno::ENODEV => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn adopt(&self, handle: &Handle, link: Link) -> Result<EnsuredBridge> {
        if !link.is_bridge() {
            return Err(self.not_a_bridge(&link, Op::Attach, handle));
        }
        let link = if link.is_up() {
            link
        } else {
            handle.link_set_up(link.index)?;
            handle.link(link.index)?
        };
        Ok(EnsuredBridge { link, created: false })
    }

    fn not_a_bridge(&self, link: &Link, op: Op, handle: &Handle) -> Error {
        Error::Conflict {
            op,
            object: format!("bridge {} in {}", self.name, handle.namespace()),
            reason: format!(
                "an interface of that name exists and is a {}, not a bridge",
                link.kind.as_deref().unwrap_or("physical device")
            ),
        }
    }
}
