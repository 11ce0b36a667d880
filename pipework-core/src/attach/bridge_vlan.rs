//! A Linux bridge guest in a VLAN (the original refused `@VLAN` on Linux bridges): VLAN filtering
//! on the bridge, and the guest's port an access port of the VLAN (PVID, egress untagged).

use nix::errno::Errno;

use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::{Bridge, BridgeVlan, EnsuredBridge, Link, PIPEWORK_ALIAS},
};

/// The bridge, with VLAN filtering: created with it, or found with it on (turned on only for a
/// bridge pipework created, whose other ports keep VLAN 1 and so keep working together).
///
/// Equivalent to: `ip link add NAME type bridge vlan_filtering 1` or
/// `ip link set NAME type bridge vlan_filtering 1`.
pub(crate) fn prepare(host: &Handle, name: &str) -> Result<EnsuredBridge> {
    prepare_filtering(host, name).map_err(|err| match err.errno() {
        Errno::EOPNOTSUPP => Error::Unsupported {
            op: Op::Attach,
            object: format!("bridge {name} in {}", host.namespace()),
            reason: "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), which a VLAN on a Linux bridge needs; use an Open vSwitch bridge or a macvlan on a VLAN sub-interface".into(),
        },
        _ => err,
    })
}

fn prepare_filtering(host: &Handle, name: &str) -> Result<EnsuredBridge> {
    let bridge = Bridge::new(name)?;
    let Some(link) = host.link_get(name)?.filter(|link| link.is_bridge()) else {
        // Missing: created with filtering on. Not a bridge: ensure() names what it is.
        return bridge.vlan_filtering().ensure(host);
    };
    if !host.bridge_vlan_filtering(link.index)? {
        if link.alias.as_deref() != Some(PIPEWORK_ALIAS) {
            return Err(Error::Conflict {
                op: Op::Attach,
                object: format!("bridge {name} in {}", host.namespace()),
                reason: format!(
                    "it does not filter VLANs and pipework did not create it, so turning that on could cut its other ports off; enable it yourself (ip link set {name} type bridge vlan_filtering 1) or use another bridge"
                ),
            });
        }
        host.bridge_set_vlan_filtering(link.index, true)?;
    }
    bridge.ensure(host)
}

/// Checks that an existing bridge port is an access port of VLAN `vid` (a re-run of the same plan).
pub(super) fn check_access_port(host: &Handle, port: &Link, vid: u16) -> Result<()> {
    let vlans = host.bridge_vlans(port.index)?;
    if vlans.contains(&BridgeVlan::access(vid)) {
        return Ok(());
    }
    Err(Error::Conflict {
        op: Op::Attach,
        object: format!("bridge port {} in {}", port.name, host.namespace()),
        reason: format!(
            "it is already attached but not as an access port of VLAN {vid} (its VLANs: {})",
            vlans.iter().map(|vlan| vlan.vid.to_string()).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// Makes bridge port `port` an access port of VLAN `vid`: out of the bridge's default VLAN, in
/// `vid` as PVID and egress untagged, so the guest sends and receives plain frames.
///
/// Equivalent to: `bridge vlan del dev PORT vid DEFAULT_PVID; bridge vlan add dev PORT vid VID pvid untagged`.
pub(crate) fn make_access_port(host: &Handle, bridge: u32, port: u32, vid: u16) -> Result<()> {
    let default = host.bridge_default_pvid(bridge)?;
    if let Some(default) = default.filter(|default| *default != vid) {
        host.bridge_vlan_del(port, default)?;
    }
    host.bridge_vlan_add(port, BridgeVlan::access(vid))
}
