//! IPAM delegation: the IPAM plugin named by `ipam.type`, found on `CNI_PATH`, run with the
//! same configuration and environment, as the spec's delegation says.

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

use serde_json::Value;

use super::{CniError, CniResult, Env, code};

/// Finds plugin `name` in the directories of `CNI_PATH`; absent is error 50.
pub(super) fn find(env: &Env, name: &str) -> Result<PathBuf, CniError> {
    if name.contains('/') {
        return Err(CniError::new(
            code::INVALID_CONFIG,
            format!("ipam type {name:?} is not a plugin name"),
            "",
        ));
    }
    let path = env.require("CNI_PATH")?;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            CniError::new(
                code::NOT_AVAILABLE,
                format!("IPAM plugin {name:?} not found"),
                format!("CNI_PATH is {path}"),
            )
        })
}

/// Runs IPAM plugin `name` for `command` on configuration `stdin`, in the version `version`,
/// with `overrides` on top of the plugin's own environment; its error JSON is passed on as is.
pub(super) fn exec(
    env: &Env,
    name: &str,
    command: &str,
    stdin: &Value,
    overrides: &[(&str, &str)],
) -> Result<Option<CniResult>, CniError> {
    let program = find(env, name)?;
    let mut child = Command::new(&program)
        .env_clear()
        .envs(env.vars())
        .env("CNI_COMMAND", command)
        .envs(overrides.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            CniError::new(
                code::IO_FAILURE,
                format!("cannot run IPAM plugin {}", program.display()),
                err.to_string(),
            )
        })?;
    let input = serde_json::to_vec(stdin).expect("a JSON value serialises");
    // A plugin that exits without reading its input is judged by its answer, not by EPIPE.
    let _ = child.stdin.take().expect("piped stdin").write_all(&input);
    let output = child.wait_with_output().map_err(|err| {
        CniError::new(code::IO_FAILURE, format!("IPAM plugin {name} failed"), err.to_string())
    })?;
    if !output.status.success() {
        return Err(serde_json::from_slice::<CniError>(&output.stdout).unwrap_or_else(|_| {
            CniError::new(
                code::PIPEWORK_FAILURE,
                format!("IPAM plugin {name} {command} failed ({})", output.status),
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            )
        }));
    }
    if command != "ADD" || output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&output.stdout).map(Some).map_err(|err| {
        CniError::new(
            code::DECODE_FAILURE,
            format!("IPAM plugin {name} answered no CNI result"),
            err.to_string(),
        )
    })
}

/// The version to speak to IPAM plugin `name` for a config of `version`: the config's, unless
/// the plugin does not speak it (Debian's 1.1.1 plugins stop at 1.0.0), then its newest.
pub(super) fn version_for(env: &Env, name: &str, version: &str) -> Result<String, CniError> {
    if version != "1.1.0" {
        return Ok(version.to_string());
    }
    let program = find(env, name)?;
    let output = Command::new(&program)
        .env_clear()
        .envs(env.vars())
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            CniError::new(
                code::IO_FAILURE,
                format!("cannot run IPAM plugin {}", program.display()),
                err.to_string(),
            )
        })?;
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let speaks = |v: &str| {
        answer["supportedVersions"].as_array().is_some_and(|all| all.iter().any(|s| s == v))
    };
    Ok(if speaks("1.1.0") { "1.1.0" } else { "1.0.0" }.to_string())
}
