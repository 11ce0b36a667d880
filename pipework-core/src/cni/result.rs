//! The spec's result and error JSON.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::code;
use crate::error::{Category, Error};

/// A success result of ADD (and the `prevResult` of a chain).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CniResult {
    /// The version of the result's format.
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    /// Interfaces created or used, host ones without a sandbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Addresses given, each with the index of its interface in `interfaces`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes added in the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteEntry>,
    /// DNS settings as the IPAM plugin gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Value>,
}

/// One interface of a result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Its MTU (spec 1.1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The container's netns path for an interface inside it; none for a host interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Anything else a plugin before us wrote (kept as is).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One address of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpConfig {
    /// `"4"` or `"6"`, only in results of 0.4.0 and older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The address with its prefix length.
    pub address: IpNet,
    /// The gateway of its subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// The index in `interfaces` of the interface that carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// One route of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteEntry {
    /// The destination.
    pub dst: IpNet,
    /// The next hop; the IPAM result's gateway of the family when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    /// The spec 1.1.0 fields (mtu, advmss, priority, table, scope), kept as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl CniResult {
    /// This result in the format of `version`: 0.4.0 and older carry `version` in each address.
    pub fn to_json(&self, version: &str) -> String {
        let mut result = self.clone();
        result.cni_version = version.to_string();
        let old = version.starts_with("0.");
        for ip in &mut result.ips {
            ip.version = old.then(|| if ip.address.addr().is_ipv4() { "4" } else { "6" }.into());
        }
        serde_json::to_string(&result).expect("a CNI result serialises")
    }

    /// The interfaces of `other` after ours, with its address and interface indices moved.
    pub fn append(&mut self, other: CniResult) {
        let offset = self.interfaces.len();
        self.interfaces.extend(other.interfaces);
        self.ips.extend(other.ips.into_iter().map(|mut ip| {
            ip.interface = ip.interface.map(|index| index + offset);
            ip
        }));
        self.routes.extend(other.routes);
        if other.dns.is_some() {
            self.dns = other.dns;
        }
    }
}

/// An error result: the spec's code, a message and details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniError {
    /// The spec's error code (1 to 99), or 100 and above for pipework's own.
    pub code: u32,
    /// A short message.
    pub msg: String,
    /// A longer explanation.
    #[serde(default)]
    pub details: String,
}

impl CniError {
    /// An error with `code`, message `msg` and `details`.
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError { code, msg: msg.into(), details: details.into() }
    }

    /// The error JSON of the spec, in the config's `version`.
    pub fn to_json(&self, version: &str) -> String {
        serde_json::json!({
            "cniVersion": version,
            "code": self.code,
            "msg": self.msg,
            "details": self.details,
        })
        .to_string()
    }
}

impl std::fmt::Display for CniError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CNI error {}: {}", self.code, self.msg)?;
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

/// A core error in CNI terms: bad arguments are an invalid configuration (4), a busy kernel
/// says try again (11), the rest is pipework's own code 100 with the full message.
impl From<Error> for CniError {
    fn from(err: Error) -> Self {
        let errno = err.errno();
        let code = match err.category() {
            Category::InvalidArgument => code::INVALID_CONFIG,
            _ if matches!(errno, nix::errno::Errno::EAGAIN | nix::errno::Errno::EBUSY) => {
                code::TRY_AGAIN
            }
            _ => code::PIPEWORK_FAILURE,
        };
        let details = err.failures().iter().skip(1).map(ToString::to_string).collect::<Vec<_>>();
        CniError::new(code, err.to_string(), details.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CniResult {
        serde_json::from_str(
            r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/a"}],
                "ips":[{"address":"10.1.0.2/24","gateway":"10.1.0.1","interface":0}],
                "routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.1.0.1"]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn results_of_0_4_0_carry_the_address_version_and_1_x_do_not() {
        let old: Value = serde_json::from_str(&sample().to_json("0.4.0")).unwrap();
        assert_eq!(old["ips"][0]["version"], "4");
        assert_eq!(old["cniVersion"], "0.4.0");
        let new: Value = serde_json::from_str(&sample().to_json("1.1.0")).unwrap();
        assert!(new["ips"][0].get("version").is_none());
        assert_eq!(new["dns"]["nameservers"][0], "10.1.0.1");
    }

    #[test]
    fn appending_moves_interface_indices_after_those_before() {
        let mut first = sample();
        first.append(sample());
        assert_eq!(first.interfaces.len(), 2);
        assert_eq!(first.ips[1].interface, Some(1));
    }

    #[test]
    fn errors_have_the_spec_shape_and_codes() {
        let err: CniError = Error::invalid("mtu", "5", "too small").into();
        assert_eq!(err.code, code::INVALID_CONFIG);
        let json: Value = serde_json::from_str(&err.to_json("1.1.0")).unwrap();
        assert_eq!(json["code"], 4);
        assert!(json["msg"].as_str().unwrap().contains("mtu"));
        assert_eq!(json["cniVersion"], "1.1.0");
    }
}
