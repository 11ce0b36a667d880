//! macvlan and macvtap children of a parent device, created directly inside their namespace.

use std::{
    fmt,
    os::fd::{AsFd, AsRawFd},
    str::FromStr,
};

use rtnetlink::{
    LinkMacVlan, LinkMacVtap, LinkMessageBuilder,
    packet_route::{RouteNetlinkMessage, link::MacVlanMode as KernelMode},
};
use serde::{Deserialize, Serialize};

use super::validate_ifname;
use crate::{
    error::{Error, Op, Result},
    handle::{Create, Handle},
    mac::MacAddr,
    netns::Namespace,
};

/// How a macvlan child shares its parent with its siblings (`ip link ... type macvlan mode M`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacvlanMode {
    /// Children reach each other directly (the original script's only mode).
    #[default]
    Bridge,
    /// Children never reach each other, even through an external switch.
    Private,
    /// All traffic goes out to the external switch, which must hairpin it back.
    Vepa,
    /// One child takes over the parent (and its MAC); no other child is allowed.
    Passthru,
    /// The child only receives frames from a list of source MACs.
    Source,
}

impl MacvlanMode {
    fn kernel(self) -> KernelMode {
        match self {
            MacvlanMode::Bridge => KernelMode::Bridge,
            MacvlanMode::Private => KernelMode::Private,
            MacvlanMode::Vepa => KernelMode::Vepa,
            MacvlanMode::Passthru => KernelMode::Passthrough,
            MacvlanMode::Source => KernelMode::Source,
        }
    }
}

impl fmt::Display for MacvlanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MacvlanMode::Bridge => "bridge",
            MacvlanMode::Private => "private",
            MacvlanMode::Vepa => "vepa",
            MacvlanMode::Passthru => "passthru",
            MacvlanMode::Source => "source",
        })
    }
}

impl FromStr for MacvlanMode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Ok(match text {
            "bridge" => MacvlanMode::Bridge,
            "private" => MacvlanMode::Private,
            "vepa" => MacvlanMode::Vepa,
            "passthru" => MacvlanMode::Passthru,
            "source" => MacvlanMode::Source,
            _ => {
                return Err(Error::invalid(
                    "macvlan mode",
                    text,
                    "expected bridge, private, vepa, passthru or source",
                ));
            }
        })
    }
}

/// A macvlan (or macvtap) child of `parent`, possibly born inside another namespace.
#[derive(Debug)]
pub struct Macvlan<'a> {
    name: String,
    parent: u32,
    mode: MacvlanMode,
    tap: bool,
    namespace: Option<&'a Namespace>,
    mac: Option<MacAddr>,
    mtu: Option<u32>,
}

impl<'a> Macvlan<'a> {
    /// A macvlan named `name` on the parent with index `parent` (in the handle's namespace).
    pub fn new(name: &str, parent: u32, mode: MacvlanMode) -> Result<Self> {
        validate_ifname("guest ifname", name)?;
        Ok(Macvlan {
            name: name.to_string(),
            parent,
            mode,
            tap: false,
            namespace: None,
            mac: None,
            mtu: None,
        })
    }

    /// Makes it a macvtap (a macvlan with a `/dev/tapN` character device).
    pub fn tap(mut self) -> Self {
        self.tap = true;
        self
    }

    /// Creates it directly inside `namespace`, with its final name.
    pub fn namespace(mut self, namespace: &'a Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// Its hardware address (random when not given).
    pub fn mac(mut self, mac: MacAddr) -> Self {
        self.mac = Some(mac);
        self
    }

    /// Its MTU (the kernel inherits the parent's when not given).
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Creates it in one request.
    ///
    /// Equivalent to: `ip link add link PARENT name NAME [netns NS] [address MAC] [mtu M] type macvlan mode MODE`.
    pub fn add(&self, handle: &Handle) -> Result<()> {
        let message = if self.tap {
            self.common(LinkMacVtap::new(&self.name, self.parent, self.mode.kernel()))
        } else {
            self.common(LinkMacVlan::new(&self.name, self.parent, self.mode.kernel()))
        };
        handle.change(
            RouteNetlinkMessage::NewLink(message),
            Create::Exclusive,
            Op::LinkAdd,
            &format_args!(
                "{} {} on link #{}",
                if self.tap { "macvtap" } else { "macvlan" },
                self.name,
                self.parent
            ),
        )
    }

    fn common<T>(
        &self,
        mut builder: LinkMessageBuilder<T>,
    ) -> rtnetlink::packet_route::link::LinkMessage {
        if let Some(namespace) = self.namespace {
            builder = builder.setns_by_fd(namespace.as_fd().as_raw_fd());
        }
        if let Some(mac) = self.mac {
            builder = builder.address(mac.octets().to_vec());
        }
        if let Some(mtu) = self.mtu {
            builder = builder.mtu(mtu);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_like_iproute2() {
        for mode in ["bridge", "private", "vepa", "passthru", "source"] {
            assert_eq!(mode.parse::<MacvlanMode>().unwrap().to_string(), mode);
        }
        let err = "hairpin".parse::<MacvlanMode>().unwrap_err().to_string();
        assert!(err.contains("macvlan mode") && err.contains("expected bridge"), "{err}");
        assert_eq!(MacvlanMode::default(), MacvlanMode::Bridge);
    }
}
