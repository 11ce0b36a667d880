//! The network configuration on stdin: the spec's keys and pipework's own.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

use super::{CniError, CniResult, code};
use crate::{
    attach::{AttachPlan, HostChoice, choose_host},
    handle::Handle,
    link::{MacvlanMode, validate_vlan_id},
    mac::MacAddr,
};

/// The configuration versions accepted, oldest first; results are written in the config's.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.4.0", "1.0.0", "1.1.0"];

/// One gateway or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(IpAddr),
    Many(Vec<IpAddr>),
}

/// A container's attachment named in `cni.dev/valid-attachments` (GC).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ValidAttachment {
    /// Its `CNI_CONTAINERID`.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Its `CNI_IFNAME`.
    pub ifname: String,
}

/// The network configuration of the plugin (`{"type": "pipework", "host": "br1", ...}`).
#[derive(Debug, Clone, Deserialize)]
pub struct NetConf {
    /// The spec version of the configuration.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The network's name.
    pub name: String,
    /// The plugin's name (`pipework`).
    #[serde(rename = "type")]
    pub plugin: String,
    /// What the command's host argument means: a bridge (created if missing), a macvlan parent,
    /// an OVS bridge, with `@VLAN` optionally.
    pub host: Option<String>,
    /// The macvlan mode (`bridge`, `private`, `vepa`, `passthru`).
    pub mode: Option<String>,
    /// The VLAN id (like `@VLAN` in `host`).
    pub vlan: Option<u16>,
    /// The MTU of the container's interface.
    pub mtu: Option<u32>,
    /// The MAC of the container's interface.
    pub mac: Option<String>,
    /// pipework's own static addresses (CIDR), used with or without IPAM.
    #[serde(default)]
    addresses: Vec<IpNet>,
    /// pipework's own default gateway(s).
    gateway: Option<OneOrMany>,
    /// The IPAM plugin's configuration (`{"type": "host-local", ...}`).
    pub ipam: Option<Value>,
    /// The result of the plugins before this one in a chain.
    #[serde(rename = "prevResult")]
    pub prev_result: Option<CniResult>,
    /// GC: the attachments to keep.
    #[serde(rename = "cni.dev/valid-attachments", default)]
    pub valid_attachments: Vec<ValidAttachment>,
}

/// The `cniVersion` the input declares, for the error JSON; the newest when unreadable.
pub(super) fn declared_version(stdin: &[u8]) -> String {
    serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|value| value.get("cniVersion")?.as_str().map(str::to_string))
        .filter(|version| SUPPORTED_VERSIONS.contains(&version.as_str()))
        .unwrap_or_else(|| SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.len() - 1].to_string())
}

impl NetConf {
    /// Reads the configuration: malformed JSON is error 6, a bad key 4, a version outside
    /// 0.4.0 to 1.1.0 is error 1.
    pub fn parse(stdin: &[u8]) -> Result<Self, CniError> {
        let conf: NetConf = serde_json::from_slice(stdin).map_err(|err| {
            let code = if err.is_data() { code::INVALID_CONFIG } else { code::DECODE_FAILURE };
            CniError::new(code, "invalid network configuration on stdin", err.to_string())
        })?;
        if !SUPPORTED_VERSIONS.contains(&conf.cni_version.as_str()) {
            return Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                "incompatible CNI versions",
                format!(
                    "config is {:?}, pipework supports {}",
                    conf.cni_version,
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        if let Some(ipam) = &conf.ipam
            && ipam.get("type").and_then(Value::as_str).is_none_or(str::is_empty)
        {
            return Err(CniError::new(code::INVALID_CONFIG, "ipam: \"type\" is required", ""));
        }
        Ok(conf)
    }

    /// The IPAM plugin's name, when one is configured.
    pub fn ipam_type(&self) -> Option<&str> {
        self.ipam.as_ref()?.get("type")?.as_str()
    }

    /// The attach plan for interface `ifname` in `host`: the host argument as the command reads
    /// it (through [`choose_host`]), then the mode, VLAN, MTU, MAC, addresses and gateways.
    pub fn plan(&self, host: &Handle, ifname: &str) -> Result<AttachPlan, CniError> {
        let invalid = |key: &str, why: String| {
            CniError::new(code::INVALID_CONFIG, format!("{key}: {why}"), "")
        };
        let argument = self.host.as_deref().ok_or_else(|| {
            invalid("host", "is required (a bridge, a macvlan parent or an OVS bridge)".into())
        })?;
        let (name, at_vlan) = match argument.split_once('@') {
            Some((name, vlan)) => {
                let id = vlan
                    .parse::<u16>()
                    .map_err(|_| invalid("host", format!("{vlan:?} after @ is not a VLAN id")))?;
                (name, Some(id))
            }
            None => (argument, None),
        };
        let vlan = match (at_vlan, self.vlan) {
            (Some(a), Some(b)) if a != b => {
                return Err(invalid("vlan", format!("{b} differs from @{a} in host")));
            }
            (a, b) => a.or(b),
        };
        if let Some(id) = vlan {
            validate_vlan_id("vlan", id)?;
        }
        let macvlan_mode = match &self.mode {
            Some(mode) => Some(mode.parse::<MacvlanMode>()?),
            None => None,
        };
        let choice = HostChoice { macvlan_mode, ..Default::default() };
        let side = choose_host(host, name, &choice)?.side;
        let mut plan = AttachPlan::new(side).guest_ifname(ifname);
        plan.vlan = vlan;
        plan.mtu = self.mtu;
        if let Some(mac) = &self.mac {
            plan = plan.mac(MacAddr::parse(mac)?);
        }
        plan.addresses.extend(self.addresses.iter().copied());
        plan.gateways.extend(match &self.gateway {
            Some(OneOrMany::One(ip)) => vec![*ip],
            Some(OneOrMany::Many(ips)) => ips.clone(),
            None => Vec::new(),
        });
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_outside_the_range_are_refused_with_code_1() {
        let err =
            NetConf::parse(br#"{"cniVersion":"0.3.1","name":"n","type":"pipework"}"#).unwrap_err();
        assert_eq!(err.code, code::INCOMPATIBLE_VERSION);
        for version in SUPPORTED_VERSIONS {
            let text = format!(r#"{{"cniVersion":"{version}","name":"n","type":"pipework"}}"#);
            assert!(NetConf::parse(text.as_bytes()).is_ok(), "{version}");
        }
    }

    #[test]
    fn malformed_json_is_code_6_and_a_bad_key_code_4() {
        assert_eq!(NetConf::parse(b"{").unwrap_err().code, code::DECODE_FAILURE);
        let bad = br#"{"cniVersion":"1.0.0","name":"n","type":"pipework","mtu":"big"}"#;
        assert_eq!(NetConf::parse(bad).unwrap_err().code, code::INVALID_CONFIG);
        let no_type = br#"{"cniVersion":"1.0.0","name":"n","type":"pipework","ipam":{}}"#;
        assert_eq!(NetConf::parse(no_type).unwrap_err().code, code::INVALID_CONFIG);
    }

    #[test]
    fn gateways_and_addresses_are_pipeworks_own_keys() {
        let conf = NetConf::parse(
            br#"{"cniVersion":"1.1.0","name":"n","type":"pipework","host":"br1",
                 "addresses":["10.0.0.2/24"],"gateway":"10.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(conf.addresses, vec!["10.0.0.2/24".parse::<IpNet>().unwrap()]);
        assert!(matches!(conf.gateway, Some(OneOrMany::One(_))));
        assert_eq!(declared_version(b"{\"cniVersion\":\"0.4.0\"}"), "0.4.0");
        assert_eq!(declared_version(b"nonsense"), "1.1.0");
    }
}
