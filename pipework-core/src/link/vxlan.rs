//! VXLAN tunnel devices: the building block of overlays between hosts.

use std::net::IpAddr;

use rtnetlink::LinkVxlan;

use super::{Birth, Link, LinkRef, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Result},
    handle::Handle,
};

/// The largest VXLAN (and Geneve) network identifier (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// Checks that `vni` is a VXLAN or Geneve network identifier: 1 to 16777215.
pub fn validate_vni(vni: u32) -> Result<()> {
    if !(1..=MAX_VNI).contains(&vni) {
        return Err(Error::invalid(
            "vni",
            vni.to_string(),
            format!("must be from 1 to {MAX_VNI} (24 bits)"),
        ));
    }
    Ok(())
}

/// A VXLAN device to create.
#[derive(Debug, Clone)]
pub struct Vxlan<'a> {
    name: String,
    vni: u32,
    remote: Option<IpAddr>,
    group: Option<IpAddr>,
    local: Option<IpAddr>,
    port: Option<u16>,
    parent: Option<LinkRef>,
    birth: Birth<'a>,
}

impl<'a> Vxlan<'a> {
    /// A VXLAN device `name` with network identifier `vni` (1 to 16777215).
    pub fn new(name: &str, vni: u32) -> Result<Self> {
        validate_ifname("vxlan name", name)?;
        validate_vni(vni)?;
        Ok(Vxlan {
            name: name.to_string(),
            vni,
            remote: None,
            group: None,
            local: None,
            port: None,
            parent: None,
            birth: Birth::default(),
        })
    }

    /// The unicast peer to send to (`remote`); exclusive with `group`.
    pub fn remote(mut self, remote: IpAddr) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The multicast group to join (`group`); exclusive with `remote`.
    pub fn group(mut self, group: IpAddr) -> Self {
        self.group = Some(group);
        self
    }

    /// The local source address (`local`).
    pub fn local(mut self, local: IpAddr) -> Self {
        self.local = Some(local);
        self
    }

    /// The UDP destination port (`dstport`; the kernel's default is 8472, IANA's is 4789).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The device the tunnel's packets leave through (`dev`), in the handle's namespace.
    pub fn parent(mut self, parent: impl Into<LinkRef>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    birth_setters!(mac);

    /// Creates the device in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [address MAC] [mtu M] type vxlan id VNI [remote IP|group IP] [local IP] [dstport P] [dev DEV]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let family = |ip: &IpAddr| if ip.is_ipv4() { 4 } else { 6 };
        if self.remote.is_some() && self.group.is_some() {
            return Err(Error::invalid(
                "vxlan remote",
                self.name.clone(),
                "give a remote or a group, not both",
            ));
        }
        if let Some(group) = self.group
            && !group.is_multicast()
        {
            return Err(Error::invalid(
                "vxlan group",
                group.to_string(),
                "is not a multicast address",
            ));
        }
        if let (Some(peer), Some(local)) = (self.remote.or(self.group), self.local)
            && family(&peer) != family(&local)
        {
            return Err(Error::invalid(
                "vxlan local",
                local.to_string(),
                "is not in the family of the remote or group",
            ));
        }
        let index = |link: &LinkRef| index_in(handle, link);
        let mut message = LinkVxlan::new(&self.name, self.vni);
        message = match self.remote {
            Some(IpAddr::V4(v4)) => message.remote(v4),
            Some(IpAddr::V6(v6)) => message.remote6(v6),
            None => message,
        };
        message = match self.group {
            Some(IpAddr::V4(v4)) => message.group(v4),
            Some(IpAddr::V6(v6)) => message.group6(v6),
            None => message,
        };
        message = match self.local {
            Some(IpAddr::V4(v4)) => message.local(v4),
            Some(IpAddr::V6(v6)) => message.local6(v6),
            None => message,
        };
        if let Some(port) = self.port {
            message = message.port(port);
        }
        if let Some(parent) = &self.parent {
            message = message.dev(index(parent)?);
        }
        let message = self.birth.apply(message, &index)?.build();
        let what = format_args!("vxlan {} (vni {})", self.name, self.vni);
        self.birth.create(handle, message, &self.name, &what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_must_fit_24_bits() {
        assert!(Vxlan::new("vx0", 1).is_ok());
        assert!(Vxlan::new("vx0", MAX_VNI).is_ok());
        for bad in [0, MAX_VNI + 1] {
            let err = Vxlan::new("vx0", bad).unwrap_err().to_string();
            assert!(err.contains("invalid vni") && err.contains("16777215"), "{err}");
        }
    }
}
