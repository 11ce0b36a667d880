//! What a DHCP client asks for and how long it waits: [`DhcpConfig`], validated before anything changes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    resolve::Guest,
};

/// How long a client waits for a lease unless told otherwise (the original waited forever).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// DHCP options by the names busybox udhcpc's `-O` uses, with their codes (RFC 2132 and later).
pub const OPTION_NAMES: &[(&str, u8)] = &[
    ("subnet", 1),
    ("timezone", 2),
    ("router", 3),
    ("dns", 6),
    ("hostname", 12),
    ("bootsize", 13),
    ("domain", 15),
    ("swapsrv", 16),
    ("rootpath", 17),
    ("ipttl", 23),
    ("mtu", 26),
    ("broadcast", 28),
    ("routes", 33),
    ("nisdomain", 40),
    ("nissrv", 41),
    ("ntpsrv", 42),
    ("wins", 44),
    ("lease", 51),
    ("serverid", 54),
    ("message", 56),
    ("tftp", 66),
    ("bootfile", 67),
    ("search", 119),
    ("sipsrv", 120),
    ("staticroutes", 121),
    ("vlanid", 132),
    ("vlanpriority", 133),
    ("msstaticroutes", 249),
    ("wpad", 252),
];

/// The host name a client sends in option 12.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Hostname {
    /// The guest's name (container or namespace name), like the original's `-x hostname:NAME`.
    #[default]
    Guest,
    /// This name.
    Name(String),
    /// No host name option.
    None,
}

/// What a DHCP client asks for, and how its lease is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpConfig {
    /// The host name sent to the server.
    pub hostname: Hostname,
    /// How long to wait for a lease before giving up and undoing everything.
    pub timeout: Duration,
    /// Options requested besides the usual ones (subnet, router, DNS, domain, MTU, ...).
    pub request_options: Vec<u8>,
    /// Replace a default route that is already in the guest; without it a lease's router
    /// is not installed when another default route exists, so there are never two.
    pub replace_default_route: bool,
    /// Write the lease's DNS servers into the guest's own resolv.conf (never the host's).
    pub write_resolv_conf: bool,
}

impl Default for DhcpConfig {
    fn default() -> Self {
        DhcpConfig {
            hostname: Hostname::Guest,
            timeout: DEFAULT_TIMEOUT,
            request_options: Vec::new(),
            replace_default_route: false,
            write_resolv_conf: false,
        }
    }
}

impl DhcpConfig {
    /// Sends `name` as the host name.
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = Hostname::Name(name.to_string());
        self
    }

    /// Sends no host name.
    pub fn no_hostname(mut self) -> Self {
        self.hostname = Hostname::None;
        self
    }

    /// Waits at most `timeout` for a lease.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Also requests option `code` (see [`option_code`] for names).
    pub fn request_option(mut self, code: u8) -> Self {
        if !self.request_options.contains(&code) {
            self.request_options.push(code);
        }
        self
    }

    /// Replaces the guest's existing default route with the lease's router.
    pub fn replace_default_route(mut self, replace: bool) -> Self {
        self.replace_default_route = replace;
        self
    }

    /// Writes the lease's DNS servers into the guest's own resolv.conf.
    pub fn write_resolv_conf(mut self, write: bool) -> Self {
        self.write_resolv_conf = write;
        self
    }

    /// Checks every setting; an error names the setting and why, and nothing is changed.
    pub fn validate(&self) -> Result<()> {
        if self.timeout.is_zero() {
            return Err(Error::invalid(
                "dhcp timeout",
                "0s",
                "must be more than zero: a DHCP exchange takes at least one round trip \
                 (the original waited forever; pipework always gives up and cleans up)",
            ));
        }
        if self.timeout > Duration::from_secs(u32::MAX.into()) {
            return Err(Error::invalid(
                "dhcp timeout",
                format!("{}s", self.timeout.as_secs()),
                "is longer than 136 years",
            ));
        }
        if let Hostname::Name(name) = &self.hostname {
            validate_hostname(name)?;
        }
        for code in &self.request_options {
            validate_requestable(*code)?;
        }
        Ok(())
    }

    /// The host name to send for `guest`, if any.
    pub fn hostname_for(&self, guest: &Guest) -> Option<String> {
        match &self.hostname {
            Hostname::Guest => guest.name.as_deref().and_then(hostname_from_guest_name),
            Hostname::Name(name) => Some(name.clone()),
            Hostname::None => None,
        }
    }
}

/// The code of a DHCP option given by udhcpc name (`dns`, `mtu`, ...) or number (`1`-`254`).
pub fn option_code(text: &str) -> Result<u8> {
    if let Some((_, code)) = OPTION_NAMES.iter().find(|(name, _)| *name == text) {
        return Ok(*code);
    }
    match text.parse::<u8>() {
        Ok(code) => validate_requestable(code).map(|()| code),
        Err(_) => {
            let names: Vec<&str> = OPTION_NAMES.iter().map(|(name, _)| *name).collect();
            Err(Error::invalid(
                "dhcp option",
                text,
                format!(
                    "is not an option the DHCP client knows; give a number from 1 to 254 or one of: {}",
                    names.join(", ")
                ),
            ))
        }
    }
}

fn validate_requestable(code: u8) -> Result<()> {
    let reason = match code {
        0 => "is the pad option, not a value a server can send",
        255 => "is the end option, not a value a server can send",
        53 | 55 => "is part of the DHCP exchange itself and cannot be requested",
        _ => return Ok(()),
    };
    Err(Error::invalid("dhcp option", code.to_string(), reason))
}

/// Checks a host name by RFC 1123: dot-separated labels of letters, digits and `-`.
pub fn validate_hostname(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("is empty")
    } else if name.len() > 253 {
        Some("is longer than 253 characters")
    } else if name.split('.').any(|label| label.is_empty() || label.len() > 63) {
        Some("has an empty label or one longer than 63 characters")
    } else if name.split('.').any(|label| label.starts_with('-') || label.ends_with('-')) {
        Some("has a label that starts or ends with '-'")
    } else if name.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
        Some("may only contain letters, digits, '-' and '.'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::invalid("hostname", name, reason)),
        None => Ok(()),
    }
}

/// A host name made from a guest's name: its last path component, other characters as `-`.
fn hostname_from_guest_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(63)
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_timeout_is_refused_with_the_reason() {
        let err = DhcpConfig::default().timeout(Duration::ZERO).validate().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("invalid dhcp timeout \"0s\": must be more than zero"), "{text}");
        assert_eq!(err.errno(), nix::errno::Errno::EINVAL);
        assert!(DhcpConfig::default().timeout(Duration::from_millis(1)).validate().is_ok());
    }

    #[test]
    fn options_are_known_by_name_or_number() {
        assert_eq!(option_code("dns").unwrap(), 6);
        assert_eq!(option_code("staticroutes").unwrap(), 121);
        assert_eq!(option_code("252").unwrap(), 252);
        let err = option_code("nonsense").unwrap_err().to_string();
        assert!(err.contains("invalid dhcp option \"nonsense\"") && err.contains("mtu"), "{err}");
        for bad in ["0", "255", "53", "256", "-1"] {
            assert!(option_code(bad).is_err(), "{bad}");
        }
        let config = DhcpConfig::default().request_option(0);
        assert!(config.validate().unwrap_err().to_string().contains("pad option"));
    }

    #[test]
    fn hostnames_follow_rfc_1123() {
        for good in ["web", "web-1", "a.b.c", "x1"] {
            validate_hostname(good).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("-web", "starts or ends"),
            ("web_1", "letters, digits"),
            ("a..b", "empty label"),
            (&"a".repeat(64), "63"),
        ] {
            let err = validate_hostname(bad).unwrap_err().to_string();
            assert!(err.contains("invalid hostname") && err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn guest_names_become_hostnames() {
        assert_eq!(hostname_from_guest_name("web").as_deref(), Some("web"));
        assert_eq!(hostname_from_guest_name("my_app.1").as_deref(), Some("my-app-1"));
        assert_eq!(hostname_from_guest_name("/run/netns/blue").as_deref(), Some("blue"));
        assert_eq!(hostname_from_guest_name("___"), None);
        assert_eq!(hostname_from_guest_name(&"x".repeat(80)).unwrap().len(), 63);
    }
}
