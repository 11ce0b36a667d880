//! Deterministic interface names that always fit the kernel's 15 characters.

use md5::{Digest, Md5};

/// The longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_LEN: usize = 15;

/// The host-side name of a guest's veth: the original's `v<ifname>pl<key>` when it fits.
///
/// `key` identifies the guest (its PID, or its namespace inode). When the original's form
/// is longer than 15 characters, the name becomes `pw` and 13 hex digits of the MD5 of the
/// ifname and key, so the same guest and ifname always give the same name.
pub fn host_veth_name(guest_ifname: &str, key: &str) -> String {
    fitted(format!("v{guest_ifname}pl{key}"), "pw", &[guest_ifname, key])
}

/// A name with a prefix and a short digest of `parts`, used when a readable name is too long.
pub fn hashed(prefix: &str, parts: &[&str]) -> String {
    let digest = Md5::digest(parts.join("\0").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut name = prefix.to_string();
    name.push_str(&hex[..MAX_LEN.saturating_sub(prefix.len())]);
    name
}

/// `preferred` when it fits, otherwise the hashed form.
pub(crate) fn fitted(preferred: String, prefix: &str, parts: &[&str]) -> String {
    if preferred.len() <= MAX_LEN { preferred } else { hashed(prefix, parts) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_keep_the_original_form() {
        assert_eq!(host_veth_name("eth1", "4242"), "veth1pl4242");
    }

    #[test]
    fn long_names_are_hashed_deterministically_within_15_characters() {
        let a = host_veth_name("eth1", "4026532182");
        let b = host_veth_name("eth1", "4026532182");
        let c = host_veth_name("eth2", "4026532182");
        assert_eq!(a, b);
        assert_ne!(a, c);
        for name in [&a, &c] {
            assert_eq!(name.len(), MAX_LEN, "{name}");
            assert!(name.starts_with("pw"));
            crate::link::validate_ifname("generated", name).unwrap();
        }
    }
}
