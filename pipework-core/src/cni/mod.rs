//! A CNI plugin over the core (spec 1.1.0, accepting configs of 0.4.0 to 1.1.0): the
//! configuration on stdin and the `CNI_*` variables in, a result or error JSON out.
//!
//! `config.rs` reads the network configuration, `result.rs` holds the spec's result and error
//! JSON, `ipam.rs` runs the IPAM plugin found on `CNI_PATH`, `plugin.rs` carries out the
//! commands. The `pipework-cni` binary only hands its environment and stdin to [`run`].

mod config;
mod ipam;
mod plugin;
mod result;

use std::collections::BTreeMap;

pub use self::{
    config::{NetConf, SUPPORTED_VERSIONS},
    result::{CniError, CniResult, Interface, IpConfig, RouteEntry},
};

/// The spec's error codes used here.
pub mod code {
    /// Incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Unsupported field in the network configuration.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Container unknown or does not exist.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Invalid network configuration.
    pub const INVALID_CONFIG: u32 = 4;
    /// I/O failure.
    pub const IO_FAILURE: u32 = 5;
    /// Failed to decode content.
    pub const DECODE_FAILURE: u32 = 6;
    /// Invalid environment variables.
    pub const INVALID_ENVIRONMENT: u32 = 7;
    /// Try again later.
    pub const TRY_AGAIN: u32 = 11;
    /// The plugin is not available (STATUS).
    pub const NOT_AVAILABLE: u32 = 50;
    /// Any other failure of pipework (the spec leaves 100 and above to plugins).
    pub const PIPEWORK_FAILURE: u32 = 100;
}

/// The `CNI_*` variables (and everything else) of the plugin's environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The environment given as name/value pairs (`std::env::vars()` in the binary).
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Env { vars: vars.into_iter().collect() }
    }

    /// A variable, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }

    /// A variable the command needs; missing is the spec's error 7 naming it.
    pub fn require(&self, name: &str) -> Result<&str, CniError> {
        self.get(name).ok_or_else(|| {
            CniError::new(code::INVALID_ENVIRONMENT, format!("{name} is not set"), "")
        })
    }

    /// Every variable, for the IPAM plugin's environment.
    pub(crate) fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// What the binary prints on stdout and the status it exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The result or error JSON (empty for a DEL, STATUS or GC that succeeded).
    pub stdout: String,
    /// 0 on success, 1 with an error JSON.
    pub status: i32,
}

/// Runs the command `CNI_COMMAND` names with the configuration `stdin`, as the spec says.
pub fn run(env: &Env, stdin: &[u8]) -> Outcome {
    let version = config::declared_version(stdin);
    match plugin::dispatch(env, stdin) {
        Ok(Some(json)) => Outcome { stdout: json, status: 0 },
        Ok(None) => Outcome { stdout: String::new(), status: 0 },
        Err(err) => Outcome { stdout: err.to_json(&version), status: 1 },
    }
}
