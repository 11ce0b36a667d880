//! TIPC node identities (128-bit, string or hex) and legacy `Z.C.N` node addresses.

use std::{fmt, str::FromStr};

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// The length of a node identity in bytes (`TIPC_NODEID_LEN`).
pub const NODE_ID_LEN: usize = 16;

/// A node's 128-bit identity, shown as a string (`web-1`) or hex (`5254001a2b3c`) like `tipc node get identity`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; NODE_ID_LEN]);

/// Whether `c` may appear in an identity written as a name (the kernel's and iproute2's set).
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'@')
}

impl NodeId {
    /// An identity from its 16 raw bytes; all zeros means "no identity" and is refused.
    pub fn from_bytes(bytes: [u8; NODE_ID_LEN]) -> Result<Self> {
        if bytes == [0; NODE_ID_LEN] {
            return Err(Error::invalid(
                "node identity",
                "0",
                "an identity of all zeros means none",
            ));
        }
        Ok(NodeId(bytes))
    }

    /// An identity written as up to 32 hex digits, left-aligned (an odd last digit is a high nibble).
    ///
    /// Unlike [`NodeId::from_str`], short hex strings are read as hex, not as names.
    pub fn from_hex(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::invalid("node identity", text, reason);
        if text.is_empty() || text.len() > 2 * NODE_ID_LEN {
            return Err(invalid("a hex identity has 1 to 32 hex digits"));
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(invalid(&format!("{bad:?} is not a hex digit")));
        }
        let mut bytes = [0u8; NODE_ID_LEN];
        for (i, digit) in text.bytes().enumerate() {
            let nibble = (digit as char).to_digit(16).expect("checked above") as u8;
            bytes[i / 2] |= if i % 2 == 0 { nibble << 4 } else { nibble };
        }
        Self::from_bytes(bytes)
    }

    /// The identity pipework derives from a stable key (a container's name or ID).
    ///
    /// A key that is a valid identity name (1 to 16 of `[0-9A-Za-z-_.:@]`) is used as it is,
    /// so `tipc link list` shows container names; any other key becomes 16 bytes of its MD5
    /// digest, whose last nibble is forced non-zero so the kernel shows all 32 hex digits
    /// and the shown form parses back to the same identity.
    pub fn derive(key: &str) -> Self {
        if let Ok(id) = Self::from_name(key) {
            return id;
        }
        let mut bytes: [u8; NODE_ID_LEN] = Md5::new()
            .chain_update(b"pipework-tipc\0")
            .chain_update(key.as_bytes())
            .finalize()
            .into();
        bytes[NODE_ID_LEN - 1] |= 1;
        NodeId(bytes)
    }

    fn from_name(text: &str) -> Result<Self> {
        if text.is_empty() || text.len() > NODE_ID_LEN || !text.bytes().all(is_name_char) {
            return Err(Error::invalid(
                "node identity",
                text,
                "a name has 1 to 16 characters from [0-9A-Za-z-_.:@]",
            ));
        }
        let mut bytes = [0u8; NODE_ID_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(NodeId(bytes))
    }

    /// The 16 raw bytes.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.0
    }

    /// The 32-bit hash the kernel uses as the node's address unless it collides (`hash128to32`).
    pub fn hash32(&self) -> u32 {
        let fold = |op: fn(u8, u8) -> u8| {
            let mut word = [0u8; 4];
            for chunk in self.0.chunks(4) {
                for (w, b) in word.iter_mut().zip(chunk) {
                    *w = op(*w, *b);
                }
            }
            u32::from_be_bytes(word)
        };
        match fold(|a, b| a ^ b) {
            0 => fold(|a, b| a | b),
            hash => hash,
        }
    }

    /// The two native-endian words `TIPC_NLA_NET_NODEID` and `TIPC_NLA_NET_NODEID_W1` carry.
    pub(crate) fn words(&self) -> (u64, u64) {
        let (w0, w1) = self.0.split_at(8);
        (u64::from_ne_bytes(w0.try_into().unwrap()), u64::from_ne_bytes(w1.try_into().unwrap()))
    }

    /// The identity carried by the two words, or `None` when they are zero (no identity yet).
    pub(crate) fn from_words(w0: u64, w1: u64) -> Option<Self> {
        let mut bytes = [0u8; NODE_ID_LEN];
        bytes[..8].copy_from_slice(&w0.to_ne_bytes());
        bytes[8..].copy_from_slice(&w1.to_ne_bytes());
        Self::from_bytes(bytes).ok()
    }
}

impl FromStr for NodeId {
    type Err = Error;

    /// Parses an identity the way iproute2 does (`tipc node set identity`, `str2nodeid`).
    ///
    /// Up to 16 characters of `[0-9A-Za-z-_.:@]` are a name, copied byte for byte; anything
    /// else must be 17 to 32 hex digits. Use [`NodeId::from_hex`] for shorter hex.
    fn from_str(text: &str) -> Result<Self> {
        if text.len() <= NODE_ID_LEN && text.bytes().all(is_name_char) {
            return Self::from_name(text);
        }
        if text.len() > 2 * NODE_ID_LEN || !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "node identity",
                text,
                "give a name of 1 to 16 characters from [0-9A-Za-z-_.:@] or up to 32 hex digits",
            ));
        }
        Self::from_hex(text)
    }
}

impl fmt::Display for NodeId {
    /// Writes the identity as the kernel does (`tipc_nodeid2string`): the name when every byte
    /// is a name character or NUL, otherwise hex with trailing zero digits removed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.iter().all(|b| *b == 0 || is_name_char(*b)) {
            let end = self.0.iter().position(|b| *b == 0).unwrap_or(NODE_ID_LEN);
            return f.write_str(std::str::from_utf8(&self.0[..end]).expect("ASCII"));
        }
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_str(hex.trim_end_matches('0'))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A legacy TIPC node address `<Z.C.N>` (zone 0-255, cluster 0-4095, node 0-4095, not all zero).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TipcAddress {
    /// Zone.
    pub zone: u8,
    /// Cluster, 0 to 4095.
    pub cluster: u16,
    /// Node, 0 to 4095.
    pub node: u16,
}

impl TipcAddress {
    /// An address from its parts, checked like iproute2's `str2addr`.
    pub fn new(zone: u8, cluster: u16, node: u16) -> Result<Self> {
        let address = TipcAddress { zone, cluster, node };
        let reason = if cluster > 4095 || node > 4095 {
            "cluster and node range from 0 to 4095"
        } else if address.to_u32() == 0 {
            "0.0.0 is not a node address"
        } else {
            return Ok(address);
        };
        Err(Error::invalid("tipc address", address.to_string(), reason))
    }

    /// The 32-bit form the kernel uses: `zone << 24 | cluster << 12 | node`.
    pub fn to_u32(self) -> u32 {
        (u32::from(self.zone) << 24) | (u32::from(self.cluster) << 12) | u32::from(self.node)
    }

    /// The address a 32-bit node number stands for.
    pub fn from_u32(value: u32) -> Self {
        TipcAddress {
            zone: (value >> 24) as u8,
            cluster: ((value >> 12) & 0xfff) as u16,
            node: (value & 0xfff) as u16,
        }
    }
}

impl FromStr for TipcAddress {
    type Err = Error;

    /// Parses `Z.C.N` (`tipc node set address 1.1.3`).
    fn from_str(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        let numbers: Option<Vec<u32>> =
            if parts.len() == 3 { parts.iter().map(|p| p.parse().ok()).collect() } else { None };
        match numbers.as_deref() {
            Some(&[zone, cluster, node]) if zone <= 255 => {
                Self::new(zone as u8, cluster.min(4096) as u16, node.min(4096) as u16).map_err(
                    |_| {
                        Error::invalid(
                            "tipc address",
                            text,
                            "zone is 0-255, cluster and node 0-4095, not all zero",
                        )
                    },
                )
            }
            _ => Err(Error::invalid(
                "tipc address",
                text,
                "the syntax is Z.C.N (zone 0-255, cluster and node 0-4095)",
            )),
        }
    }
}

impl fmt::Display for TipcAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.zone, self.cluster, self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_raw_bytes_like_iproute2() {
        let id: NodeId = "web-1".parse().unwrap();
        assert_eq!(&id.as_bytes()[..5], b"web-1");
        assert!(id.as_bytes()[5..].iter().all(|b| *b == 0));
        assert_eq!(id.to_string(), "web-1");
        // Short hex is a name too, as in iproute2's str2nodeid.
        let abc: NodeId = "abc".parse().unwrap();
        assert_eq!(&abc.as_bytes()[..3], b"abc");
        let sixteen: NodeId = "node@zone:1.a_b-".parse().unwrap();
        assert_eq!(sixteen.to_string(), "node@zone:1.a_b-");
    }

    #[test]
    fn long_hex_is_left_aligned_bytes() {
        let id: NodeId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(id.as_bytes()[0], 0x01);
        assert_eq!(id.as_bytes()[15], 0xef);
        assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
        // 17 digits: the last one is a high nibble, and the kernel strips trailing zeros.
        let odd: NodeId = "525400123456789ab".parse().unwrap();
        assert_eq!(odd.as_bytes()[8], 0xb0);
        assert_eq!(odd.to_string(), "525400123456789ab");
        assert_eq!(NodeId::from_hex("5254001a2b3c").unwrap().to_string(), "5254001a2b3c");
        assert_eq!(NodeId::from_hex("5254001a2b3c").unwrap().as_bytes()[5], 0x3c);
    }

    #[test]
    fn bad_identities_name_the_argument() {
        for bad in ["", "has space", "0123456789abcdef0123456789abcdef0", "x".repeat(17).as_str()] {
            let err = bad.parse::<NodeId>().unwrap_err().to_string();
            assert!(err.contains("node identity"), "{bad:?}: {err}");
        }
        assert!(NodeId::from_hex("00").is_err(), "all zeros is no identity");
        assert!(NodeId::from_hex("xyz").unwrap_err().to_string().contains("not a hex digit"));
    }

    #[test]
    fn derived_identities_are_stable_and_round_trip() {
        assert_eq!(NodeId::derive("web").to_string(), "web");
        let long = NodeId::derive("/run/netns/a-very-long-container-name");
        assert_eq!(long, NodeId::derive("/run/netns/a-very-long-container-name"));
        assert_ne!(long, NodeId::derive("/run/netns/another-long-container-name"));
        let shown = long.to_string();
        assert_eq!(shown.len(), 32, "{shown}");
        assert_eq!(shown.parse::<NodeId>().unwrap(), long);
        let docker_id = "4f1e6a7c0d2b9e8f4f1e6a7c0d2b9e8f4f1e6a7c0d2b9e8f4f1e6a7c0d2b9e8f";
        assert_eq!(NodeId::derive(docker_id).to_string().len(), 32);
    }

    #[test]
    fn hash_matches_the_kernels_hash128to32() {
        // "web" = 77 65 62 00 | 0... : the XOR of the four big-endian words is 0x77656200.
        assert_eq!("web".parse::<NodeId>().unwrap().hash32(), 0x7765_6200);
        // Four equal words XOR to zero; the kernel then ORs them.
        let id = NodeId::from_hex("01020304010203040102030401020304").unwrap();
        assert_eq!(id.hash32(), 0x0102_0304);
    }

    #[test]
    fn words_round_trip() {
        let id: NodeId = "web".parse().unwrap();
        let (w0, w1) = id.words();
        assert_eq!(NodeId::from_words(w0, w1), Some(id));
        assert_eq!(NodeId::from_words(0, 0), None);
    }

    #[test]
    fn legacy_addresses() {
        let addr: TipcAddress = "1.1.3".parse().unwrap();
        assert_eq!(addr.to_u32(), 0x0100_1003);
        assert_eq!(TipcAddress::from_u32(0x0100_1003), addr);
        assert_eq!(addr.to_string(), "1.1.3");
        for bad in ["0.0.0", "1.1", "256.1.1", "1.4096.1", "a.b.c", "1.1.1.1"] {
            let err = bad.parse::<TipcAddress>().unwrap_err().to_string();
            assert!(err.contains("tipc address"), "{bad}: {err}");
        }
    }
}
