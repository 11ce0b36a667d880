//! Targets that are namespace names (/run/netns) or namespace file paths.

use std::path::Path;

use nix::errno::Errno;

use super::{Guest, Resolution, Resolver};
use crate::{
    error::{Error, Op, Result},
    netns::{NETNS_RUN_DIR, Namespace},
};

/// Resolves a path (anything containing `/`) or a name in /run/netns.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetnsResolver;

impl Resolver for NetnsResolver {
    fn name(&self) -> &str {
        "netns"
    }

    fn resolve(&self, target: &str) -> Result<Resolution> {
        if target.contains('/') {
            return match Namespace::from_path(target) {
                Ok(namespace) => Ok(Resolution::Found(Guest::from_namespace(namespace))),
                Err(err) if err.errno() == Errno::ENOENT => Ok(Resolution::NotMine(err)),
                Err(err) => Err(err),
            };
        }
        if !Path::new(NETNS_RUN_DIR).join(target).exists() {
            return Ok(Resolution::NotMine(Error::NotFound {
                op: Op::Resolve,
                object: format!("network namespace {target:?} in {NETNS_RUN_DIR}"),
            }));
        }
        match Namespace::from_name(target) {
            Ok(namespace) => Ok(Resolution::Found(Guest::from_namespace(namespace))),
            Err(err @ Error::InvalidArgument { .. }) => Ok(Resolution::NotMine(err)),
            Err(err) => Err(err),
        }
    }
}
