//! macvlan and macvtap children of a parent device, created directly inside their namespace.

use std::{fmt, str::FromStr};

use rtnetlink::{LinkMacVlan, LinkMacVtap, packet_route::link::MacVlanMode as KernelMode};
use serde::{Deserialize, Serialize};

use super::{Birth, Link, LinkRef, birth_setters, index_in, validate_ifname};
use crate::{
    error::{Error, Result},
    handle::Handle,
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

/// A macvlan (or macvtap) child of a parent, possibly born inside another namespace.
#[derive(Debug, Clone)]
pub struct Macvlan<'a> {
    name: String,
    parent: LinkRef,
    mode: MacvlanMode,
    tap: bool,
    birth: Birth<'a>,
}

impl<'a> Macvlan<'a> {
    /// A macvlan named `name` (its name wherever it is born) on link `parent` of the handle's
    /// namespace; the name is checked.
    pub fn new(name: &str, parent: impl Into<LinkRef>, mode: MacvlanMode) -> Result<Self> {
        validate_ifname("macvlan ifname", name)?;
        Ok(Macvlan {
            name: name.to_string(),
            parent: parent.into(),
            mode,
            tap: false,
            birth: Birth::default(),
        })
    }

    /// Makes it a macvtap (a macvlan with a `/dev/tapN` character device).
    pub fn tap(mut self) -> Self {
        self.tap = true;
        self
    }

    birth_setters!(mac);

    /// Creates it in one request and returns it as the kernel made it.
    ///
    /// Equivalent to: `ip link add link PARENT name NAME [netns NS] [address MAC] [mtu M] type macvlan mode MODE`.
    pub fn add(&self, handle: &Handle) -> Result<Link> {
        let index = |link: &LinkRef| index_in(handle, link);
        let parent = index(&self.parent)?;
        let message = if self.tap {
            self.birth
                .apply(LinkMacVtap::new(&self.name, parent, self.mode.kernel()), &index)?
                .build()
        } else {
            self.birth
                .apply(LinkMacVlan::new(&self.name, parent, self.mode.kernel()), &index)?
                .build()
        };
        let kind = if self.tap { "macvtap" } else { "macvlan" };
        let what = format_args!("{kind} {} on {}", self.name, self.parent);
        self.birth.create(handle, message, &self.name, &what)
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
