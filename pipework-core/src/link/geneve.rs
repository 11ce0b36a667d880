//! Geneve tunnel devices: a point-to-point overlay port to one other host.

use std::net::IpAddr;

use rtnetlink::LinkGeneve;

use super::{Birth, Link, birth_setters, index_in, validate_ifname, vxlan::validate_vni};
use crate::{
    error::{Error, Result},
    handle::Handle,
};

/// A Geneve device to create: the kernel's geneve sends every frame to its one remote (it
/// has no forwarding database to flood to several).
#[derive(Debug, Clone)]
pub struct Geneve<'a> {
    name: String,
    vni: u32,
    remote: IpAddr,
    port: Option<u16>,
    birth: Birth<'a>,
}

impl<'a> Geneve<'a> {
    /// A Geneve device `name` with network identifier `vni` (1 to 16777215) to `remote`.
    pub fn new(name: &str, vni: u32, remote: IpAddr) -> Result<Self> {
        validate_ifname("geneve name", name)?;
        validate_vni(vni)?;
        if remote.is_multicast() || remote.is_unspecified() {
            return Err(Error::invalid(
                "geneve remote",
                remote.to_string(),
                "is not a unicast address",
            ));
        }
        Ok(Geneve { name: name.to_string(), vni, remote, port: None, birth: Birth::default() })
    }

    /// The UDP destination port (`dstport`; IANA's and the kernel's default is 6081).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    birth_setters!(mac);

    /// Creates the device in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add NAME [address MAC] [mtu M] type geneve id VNI remote IP [dstport P]`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let mut message = LinkGeneve::new(&self.name, self.vni);
        message = match self.remote {
            IpAddr::V4(v4) => message.remote(v4),
            IpAddr::V6(v6) => message.remote6(v6),
        };
        if let Some(port) = self.port {
            message = message.port(port);
        }
        let index = |link: &super::LinkRef| index_in(handle, link);
        let message = self.birth.apply(message, &index)?.build();
        let what = format_args!("geneve {} (vni {})", self.name, self.vni);
        self.birth.create(handle, message, &self.name, &what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vni_and_remote_are_checked() {
        let remote: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(Geneve::new("gnv1", 1, remote).is_ok());
        let err = Geneve::new("gnv0", 0, remote).unwrap_err().to_string();
        assert!(err.contains("invalid vni") && err.contains("16777215"), "{err}");
        let err = Geneve::new("gnv1", 1, "239.0.0.1".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("is not a unicast address"), "{err}");
    }
}
