//! Targets that are process IDs.

use super::{Engine, Guest, Resolution, Resolver, process::Process};
use crate::error::{Error, Result};

/// Resolves a decimal PID to the network namespace of that process.
#[derive(Debug, Default, Clone, Copy)]
pub struct PidResolver;

impl Resolver for PidResolver {
    fn name(&self) -> &str {
        "pid"
    }

    fn resolve(&self, target: &str) -> Result<Resolution> {
        let Ok(pid) = target.parse::<u32>() else {
            return Ok(Resolution::NotMine(Error::invalid(
                "pid",
                target,
                "is not a decimal process ID",
            )));
        };
        let opened = Process::of(pid).and_then(|process| Ok((process, process.open_namespace()?)));
        match opened {
            Ok((process, namespace)) => Ok(Resolution::Found(Guest::from_process(
                namespace,
                process,
                Engine::Pid,
                None,
                None,
            ))),
            Err(err @ (Error::NotFound { .. } | Error::InvalidArgument { .. })) => {
                Ok(Resolution::NotMine(err))
            }
            Err(err) => Err(err),
        }
    }
}
