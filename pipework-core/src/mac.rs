//! Ethernet hardware addresses, including pipework's `U:<string>` derivation.

use std::{fmt, str::FromStr};

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A unicast Ethernet hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// The address made of these six bytes (not checked; see [`MacAddr::parse`]).
    pub const fn new(octets: [u8; 6]) -> Self {
        MacAddr(octets)
    }

    /// The six bytes of the address.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (any case, `:` or `-`), refusing multicast and all-zero addresses.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::invalid("mac", text, reason);
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
            return Err(invalid("expected six two-digit hex bytes like 02:42:ac:11:00:02"));
        }
        let mut octets = [0u8; 6];
        for (octet, part) in octets.iter_mut().zip(&parts) {
            *octet = u8::from_str_radix(part, 16)
                .map_err(|_| invalid("expected hex digits (0-9, a-f)"))?;
        }
        let mac = MacAddr(octets);
        if mac.is_multicast() {
            return Err(invalid(
                "is a multicast address (lowest bit of the first byte set); an interface needs a unicast one",
            ));
        }
        if octets == [0; 6] {
            return Err(invalid("is all zeros"));
        }
        Ok(mac)
    }

    /// Parses the original script's MAC argument: a MAC, or `U:<string>` for a stable derived one.
    pub fn parse_pipework(text: &str) -> Result<Self> {
        match text.strip_prefix("U:") {
            Some(unique) => Ok(Self::from_unique_string(unique)),
            None => Self::parse(text),
        }
    }

    /// pipework's `U:<string>` MAC: `02:` and the first five bytes of the MD5 of `<string>\n`.
    ///
    /// Bit-compatible with `echo $string | md5sum` in the original script, including the
    /// way the unquoted `echo` folds runs of white space into one space.
    pub fn from_unique_string(unique: &str) -> Self {
        let echoed = unique.split_whitespace().collect::<Vec<_>>().join(" ") + "\n";
        let digest = Md5::digest(echoed.as_bytes());
        MacAddr([0x02, digest[0], digest[1], digest[2], digest[3], digest[4]])
    }

    /// The `--mac stable` address of interface `ifname` of `guest`: the `U:` derivation of
    /// `<identity>/<ifname>` (see [`crate::Guest::identity`]), so the same container gets the
    /// same locally administered unicast MAC on every attach, and each interface its own.
    pub fn stable(guest: &crate::Guest, ifname: &str) -> Self {
        Self::from_unique_string(&format!("{}/{ifname}", guest.identity()))
    }

    /// A random locally administered unicast address, from the kernel's random source.
    ///
    /// Equivalent to: the kernel's `eth_random_addr`.
    pub fn random_local() -> Result<Self> {
        let mut octets = [0u8; 6];
        // SAFETY: the buffer is six writable bytes; getrandom writes at most that many.
        let got = unsafe { libc::getrandom(octets.as_mut_ptr().cast(), octets.len(), 0) };
        if got != octets.len() as isize {
            let errno = nix::errno::Errno::last();
            return Err(crate::Error::kernel(crate::error::Op::LinkAdd, "a random MAC", errno));
        }
        octets[0] = (octets[0] & 0xfc) | 0x02;
        Ok(MacAddr(octets))
    }

    /// Reads an address from a netlink attribute (`None` unless it is six bytes).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }

    /// Whether the address is multicast (or broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether the address is locally administered (second-lowest bit of the first byte).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // Read back whatever the kernel reported, multicast or not.
        let parts: Vec<u8> = text
            .split(':')
            .map(|p| u8::from_str_radix(p, 16))
            .collect::<std::result::Result<_, _>>()
            .map_err(serde::de::Error::custom)?;
        Self::from_bytes(&parts).ok_or_else(|| serde::de::Error::custom("expected six bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_local_addresses_are_local_unicast_and_differ() {
        let (a, b) = (MacAddr::random_local().unwrap(), MacAddr::random_local().unwrap());
        assert!(a.is_local() && !a.is_multicast(), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn unique_string_matches_the_original_script() {
        // echo myhost.foo.com | md5sum = 726ccd9b8d...; the original README shows 02:72:6c:cd:9b:8d.
        let mac = MacAddr::parse_pipework("U:myhost.foo.com").unwrap();
        assert_eq!(mac.to_string(), "02:72:6c:cd:9b:8d");
        assert!(mac.is_local() && !mac.is_multicast());
        // The unquoted echo folds white space.
        assert_eq!(MacAddr::from_unique_string("a  b"), MacAddr::from_unique_string("a b"));
    }

    #[test]
    fn parsing_is_case_insensitive_and_prints_lowercase() {
        let mac: MacAddr = "02:AB:cd:EF:01:23".parse().unwrap();
        assert_eq!(mac.to_string(), "02:ab:cd:ef:01:23");
        assert_eq!(MacAddr::parse("02-ab-cd-ef-01-23").unwrap(), mac);
    }

    #[test]
    fn bad_macs_are_refused_with_the_reason() {
        for (text, why) in [
            ("01:00:5e:00:00:01", "multicast"),
            ("ff:ff:ff:ff:ff:ff", "multicast"),
            ("00:00:00:00:00:00", "all zeros"),
            ("02:00:00:00:00", "six two-digit"),
            ("02:00:00:00:00:zz", "hex digits"),
            ("hello", "six two-digit"),
        ] {
            let err = MacAddr::parse(text).unwrap_err().to_string();
            assert!(err.contains("invalid mac") && err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let mac = MacAddr::new([2, 0, 0, 0, 0, 1]);
        let json = serde_json::to_string(&mac).unwrap();
        assert_eq!(json, "\"02:00:00:00:00:01\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&json).unwrap(), mac);
    }
}
