//! The DHCP leases of a lab's ends: obtained once an end is up, recorded with the lab, given
//! back (and their keepers stopped) before the end goes.

use serde::{Deserialize, Serialize};

use super::End;
use crate::{
    dhcp::{DhcpRecord, obtain},
    error::Result,
    netns::Namespace,
    resolve::Guest,
};

/// The lease an end of the lab holds, and what keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndLease {
    /// The node of the end.
    pub node: String,
    /// The interface that holds the lease.
    pub ifname: String,
    /// The lease, and the process keeping it (if any).
    pub record: DhcpRecord,
}

impl EndLease {
    /// Whether this is the lease of `end`.
    pub fn is_of(&self, end: &End) -> bool {
        self.node == end.node && self.ifname == end.ifname
    }

    /// Whether `other` is a lease of the same end.
    pub fn same_end(&self, other: &EndLease) -> bool {
        self.node == other.node && self.ifname == other.ifname
    }
}

/// Obtains the lease `end` asks for, on its interface in `namespace` (up already), if it
/// asks for one; nothing is left when it fails.
///
/// Equivalent to: `pipework IF NS dhcp...` on the end's interface.
pub(super) fn obtain_for(end: &End, namespace: &Namespace) -> Result<Option<EndLease>> {
    let Some(spec) = end.dhcp_spec()? else { return Ok(None) };
    let guest = Guest::from_namespace(namespace.try_clone()?);
    let record = obtain(&guest, &end.ifname, &spec)?;
    Ok(Some(EndLease { node: end.node.clone(), ifname: end.ifname.clone(), record }))
}

/// Gives back `leases` (in `namespace`, or only stops their keepers when it is gone), all
/// of them even when one fails; the first failure is returned.
///
/// Equivalent to: `pipework --undo` of a DHCP attach: a DHCPRELEASE, the keeper stopped.
pub(super) fn release<'a>(
    leases: impl IntoIterator<Item = &'a EndLease>,
    namespace: Option<&Namespace>,
) -> Result<()> {
    let guest = namespace.map(|ns| ns.try_clone().map(Guest::from_namespace)).transpose()?;
    let mut outcome = Ok(());
    for lease in leases {
        log::info!("release the lease of {}:{}", lease.node, lease.ifname);
        let released = lease.record.release(guest.as_ref());
        outcome = outcome.and(released);
    }
    outcome
}
