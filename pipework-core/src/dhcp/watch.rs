//! Noticing that a guest went away, so a lease keeper does not hold its namespace alive.
//!
//! A keeper's thread lives inside the guest's namespace, which keeps the namespace (and
//! its veth, still on the host's bridge) alive after the container stops. The keeper
//! therefore watches the guest: its process through a pidfd, or its /run/netns name.

use std::{
    os::fd::{FromRawFd, OwnedFd},
    path::PathBuf,
    time::Duration,
};

use tokio::io::unix::AsyncFd;

use crate::{
    netns::{NETNS_RUN_DIR, Namespace, NamespaceId, NamespaceOrigin},
    resolve::GuestRecord,
};

/// How often a namespace name is checked (it has no event to wait on).
const NAME_POLL: Duration = Duration::from_secs(2);

/// What tells that a guest is gone.
pub(super) enum GuestWatch {
    /// The guest's process, as a pidfd that becomes readable when it exits.
    Process { pid: u32, pidfd: AsyncFd<OwnedFd> },
    /// A file that must keep naming the guest's namespace (`/run/netns/NAME`, a bind mount).
    Path { path: PathBuf, namespace: NamespaceId },
    /// Nothing to watch: the guest lives as long as the caller says.
    Nothing,
}

impl GuestWatch {
    /// Starts watching `guest`; call it with a tokio runtime entered.
    pub(super) fn new(guest: &GuestRecord) -> Self {
        if let Some(pid) = guest.pid {
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
            if fd >= 0 {
                // SAFETY: the descriptor was just returned to us and is owned by nobody else.
                let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                // SAFETY: the pidfd is owned here and stays open for the AsyncFd's life.
                if let Ok(pidfd) = unsafe { AsyncFd::register(fd) } {
                    return GuestWatch::Process { pid, pidfd };
                }
            }
        }
        let path = match &guest.origin {
            NamespaceOrigin::Named(name) => PathBuf::from(NETNS_RUN_DIR).join(name),
            NamespaceOrigin::Path(path) => path.clone(),
            _ => return GuestWatch::Nothing,
        };
        GuestWatch::Path { path, namespace: guest.namespace }
    }

    /// Waits until the guest is gone and says how it went.
    pub(super) async fn gone(&self) -> String {
        match self {
            GuestWatch::Process { pid, pidfd } => {
                let _ = pidfd.readable().await;
                format!("the guest's process {pid} exited")
            }
            GuestWatch::Path { path, namespace } => loop {
                tokio::time::sleep(NAME_POLL).await;
                match Namespace::from_path(path) {
                    Ok(found) if found.id() == *namespace => {}
                    _ => {
                        return format!("{} no longer names the guest's namespace", path.display());
                    }
                }
            },
            GuestWatch::Nothing => std::future::pending().await,
        }
    }
}
