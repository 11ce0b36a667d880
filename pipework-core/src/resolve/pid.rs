//! Targets that are process IDs.

use super::{Guest, Resolution, Resolver};
use crate::{error::Result, netns::Namespace};

/// Resolves a decimal PID to the network namespace of that process.
#[derive(Debug, Default, Clone, Copy)]
pub struct PidResolver;

impl Resolver for PidResolver {
    fn name(&self) -> &str {
        "pid"
    }

    fn resolve(&self, target: &str) -> Result<Resolution> {
        let Ok(pid) = target.parse::<u32>() else {
            return Ok(Resolution::NotMine("not a decimal process ID".into()));
        };
        Ok(Resolution::Found(Guest::from_namespace(Namespace::from_pid(pid)?)))
    }
}
