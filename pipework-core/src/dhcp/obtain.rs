//! One entry point for every DHCP mode: [`obtain`] a lease as a [`DhcpSpec`] says, get a
//! [`DhcpRecord`] back, and [`DhcpRecord::release`] it (what `attach` and `detach` do).

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::{
    daemon::{self, KeeperCommand},
    external,
    lease::LeaseRecord,
    native::{self, DhcpLease},
    process::ClientProcess,
    spec::{DhcpClient, DhcpKeep, DhcpSpec},
};
use crate::{error::Result, handle::Handle, resolve::Guest};

/// How long a lease keeper gets to release its lease and exit when stopped.
const KEEPER_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A lease obtained for a guest interface, and the process that keeps it (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpRecord {
    /// The client that obtained it.
    pub client: DhcpClient,
    /// How it is kept.
    pub keep: DhcpKeep,
    /// The lease and what applying it changed.
    pub lease: LeaseRecord,
    /// The background process keeping it: the lease keeper, or an external client.
    pub process: Option<ClientProcess>,
}

/// Obtains a lease for `ifname` of `guest` as `spec` says.
///
/// - native, [`DhcpKeep::Once`] or [`DhcpKeep::Foreground`]: pipework's own client obtains
///   and applies the lease and stops (for `Foreground`, keep it with [`DhcpLease::adopt`]);
/// - native, [`DhcpKeep::Daemon`]: the same, then a lease keeper process (the spec's
///   `keeper`, or [`KeeperCommand::locate`]) renews it in the background;
/// - udhcpc, dhclient, dhcpcd: that program runs inside the guest (see the `external`
///   module's notes), once or kept running.
///
/// On failure nothing is left: no address, no route, no process, no file.
pub fn obtain(guest: &Guest, ifname: &str, spec: &DhcpSpec) -> Result<DhcpRecord> {
    spec.validate()?;
    if spec.client != DhcpClient::Native {
        let obtained = external::start(guest, ifname, spec)?;
        return Ok(DhcpRecord {
            client: spec.client,
            keep: spec.keep.clone(),
            lease: obtained.record,
            process: obtained.process,
        });
    }
    let keeper = match (&spec.keep, &spec.keeper) {
        (DhcpKeep::Daemon { .. }, None) => Some(KeeperCommand::locate()?),
        (_, keeper) => keeper.clone(),
    };
    let lease = DhcpLease::acquire(guest, ifname, &spec.config)?;
    let record = lease.record();
    let process = match (&spec.keep, keeper) {
        (DhcpKeep::Daemon { pidfile }, Some(keeper)) => {
            match daemon::spawn(guest, &spec.config, &record, pidfile.as_deref(), &keeper) {
                Ok(process) => Some(process),
                Err(err) => return Err(err.rolled_back(lease.release())),
            }
        }
        _ => None,
    };
    // Stops this process's client thread; the keeper (if any) renews from now on.
    drop(lease);
    Ok(DhcpRecord { client: spec.client, keep: spec.keep.clone(), lease: record, process })
}

impl DhcpRecord {
    /// Gives the lease back and stops whatever keeps it, removing what the lease configured.
    ///
    /// A kept lease's process is stopped (a lease keeper or a kept external client releases
    /// as it exits); a lease nobody keeps is released by pipework's own client. `guest` is
    /// `None` when the guest is gone (then only the process and files are cleaned up).
    pub fn release(&self, guest: Option<&Guest>) -> Result<()> {
        let stopped = match (&self.process, self.client) {
            // The keeper releases the lease and undoes everything as it exits.
            (Some(keeper), DhcpClient::Native) if keeper.is_running() => {
                return keeper.stop(Signal::SIGTERM, KEEPER_STOP_GRACE);
            }
            // A keeper that died: its lease is released from here instead.
            (Some(keeper), DhcpClient::Native) => {
                keeper.remove_files();
                Ok(())
            }
            (Some(client_process), client) => external::stop(
                guest.map(|g| &g.namespace),
                client,
                client_process,
                &self.lease.ifname,
            ),
            (None, _) => Ok(()),
        };
        let Some(guest) = guest else { return stopped };
        let handle = Handle::new(&guest.namespace)?;
        if handle.link_get(self.lease.ifindex)?.is_none() {
            return stopped;
        }
        // A native lease still running gets a DHCPRELEASE; otherwise (run out, or an
        // external client's, already released by it) what is left in the guest is removed:
        // the address and route of a client that ran once, replaced routes, resolv.conf.
        let native_release = (self.client == DhcpClient::Native)
            .then(|| self.lease.to_client_lease())
            .flatten()
            .map(|_| DhcpLease::adopt(guest, &self.lease, &Default::default()));
        let cleaned = match native_release {
            Some(Ok(lease)) => lease.release(),
            _ => native::undo(&handle, &guest.record(), &self.lease),
        };
        stopped.and(cleaned)
    }
}
