//! [`DhcpLease`]: pipework's own DHCPv4 client (mozim), run inside the guest's namespace.
//!
//! Each lease has one thread that entered the guest's namespace and drives mozim on its
//! own current-thread tokio runtime: it obtains the lease, applies it over netlink, then
//! keeps it (renewing at T1, rebinding at T2, refreshing the address lifetime) until the
//! lease is released, dropped, or the guest goes away. This file is the owner's side (start,
//! events, release); the thread's side, the renew/rebind session, is `session.rs`.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    thread::JoinHandle,
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    apply,
    config::DhcpConfig,
    lease::{Applied, LeaseRecord},
    resolv,
    session::{Command, Session, Start},
};
use crate::{
    error::{Error, Op, Result},
    handle::Handle,
    link::{Link, validate_ifname},
    netns::Namespace,
    resolve::{Guest, GuestRecord},
};

/// How long [`DhcpLease::release`] waits for the client thread to send DHCPRELEASE.
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// How often [`DhcpLease::acquire_interruptible`] asks its caller whether to give up.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

/// What happens to a lease while it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum LeaseEvent {
    /// T1 passed: the client asks its server to extend the lease.
    Renewing,
    /// T2 passed without an answer: the client asks any server.
    Rebinding,
    /// The lease was extended; the address lifetime is back to the full lease time.
    Renewed {
        /// The lease as it is now.
        lease: Box<LeaseRecord>,
    },
    /// The lease is gone (it ran out, or the server refused to extend it); its address and
    /// routes were removed. The client keeps asking for a new one.
    Lost {
        /// Why.
        reason: String,
    },
    /// A new lease after a loss, applied like the first.
    Reacquired {
        /// The new lease.
        lease: Box<LeaseRecord>,
    },
    /// The keeper stopped for good: the guest or its interface went away.
    Ended {
        /// Why.
        reason: String,
    },
}

/// A DHCPv4 lease held by a guest interface, kept by pipework's own client.
///
/// While the value lives, a background thread renews the lease. [`DhcpLease::release`]
/// gives it back to the server and removes the address; dropping the value only stops
/// renewing, leaving the address in place until its lifetime (the lease time) runs out.
pub struct DhcpLease {
    shared: Arc<Mutex<LeaseRecord>>,
    commands: UnboundedSender<Command>,
    events: Receiver<LeaseEvent>,
    thread: Option<JoinHandle<Result<()>>>,
    namespace: Namespace,
    guest: GuestRecord,
}

impl DhcpLease {
    /// Obtains a lease for interface `ifname` of `guest` and applies it.
    ///
    /// The client identifier is the interface's MAC (so a stable `U:` MAC gets the same
    /// lease back), the host name comes from `config` (the guest's name by default). On
    /// any failure, including the timeout or a DHCPNAK, nothing is left: no address, no
    /// route, no thread, and the link is down again if it was down before.
    pub fn acquire(guest: &Guest, ifname: &str, config: &DhcpConfig) -> Result<Self> {
        Self::acquire_interruptible(guest, ifname, config, &|| false)
    }

    /// [`DhcpLease::acquire`] that asks `interrupted` every 100 ms while it waits (for a
    /// binding to notice Ctrl-C); once that answers true, the exchange is abandoned, nothing is
    /// left, and the error's errno is EINTR.
    pub fn acquire_interruptible(
        guest: &Guest,
        ifname: &str,
        config: &DhcpConfig,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Self> {
        let (handle, link) = check(guest, ifname, config)?;
        let mac = link.mac.ok_or_else(|| not_ethernet(&link, guest))?;
        let record = LeaseRecord {
            ifname: link.name.clone(),
            ifindex: link.index,
            mac: Some(mac),
            namespace: guest.namespace.id(),
            address: Default::default(),
            router: None,
            static_routes: Vec::new(),
            dns_servers: Vec::new(),
            domain: None,
            search: Vec::new(),
            mtu: None,
            hostname: config.hostname_for(guest),
            server: None,
            lease_secs: None,
            renew_secs: None,
            rebind_secs: None,
            obtained_at: 0,
            options: Default::default(),
            applied: Applied { brought_up: !link.is_up(), ..Default::default() },
        };
        if record.applied.brought_up {
            handle.link_set_up(link.index)?;
        }
        Self::start(guest, handle, config, Start::Acquire(Box::new(record)), interrupted)
    }

    /// Keeps a lease obtained earlier (by an attach, or another process): renews it at its
    /// T1, and can release it. The lease must not have run out.
    pub fn adopt(guest: &Guest, lease: &LeaseRecord, config: &DhcpConfig) -> Result<Self> {
        let (handle, _) = check(guest, &lease.ifname, config)?;
        let client_lease = lease.to_client_lease().ok_or_else(|| Error::Conflict {
            op: Op::DhcpRenew,
            object: format!("{} ({}) in {guest}", lease.ifname, lease.address),
            reason:
                "the lease has run out (or its server and times are unknown); acquire a new one"
                    .into(),
        })?;
        Self::start(
            guest,
            handle,
            config,
            Start::Keep(Box::new(lease.clone()), Box::new(client_lease)),
            &|| false,
        )
    }

    fn start(
        guest: &Guest,
        handle: Handle,
        config: &DhcpConfig,
        start: Start,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Self> {
        let record = start.record().clone();
        let shared = Arc::new(Mutex::new(record.clone()));
        let (commands, command_receiver) = tokio::sync::mpsc::unbounded_channel();
        let (event_sender, events) = mpsc::channel();
        let (ready_sender, ready) = mpsc::sync_channel(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let session = Session {
            guest_handle: handle,
            config: config.clone(),
            guest: guest.record(),
            shared: shared.clone(),
            events: event_sender,
            object: format!("{} in {guest}", record.ifname),
            cancel: cancel.clone(),
        };
        let namespace = guest.namespace.try_clone()?;
        let thread =
            guest.namespace.spawn_thread(&format!("pw-dhcp-{}", record.ifname), move || {
                session.run(start, command_receiver, ready_sender)
            })?;
        // The thread answers once it holds the lease or has given up and cleaned up.
        let answer = loop {
            match ready.recv_timeout(INTERRUPT_CHECK) {
                Ok(answer) => break Ok(answer),
                Err(RecvTimeoutError::Timeout) => {
                    if !cancel.load(Ordering::SeqCst) && interrupted() {
                        cancel.store(true, Ordering::SeqCst);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break Err(()),
            }
        };
        match answer {
            Ok(Ok(())) => Ok(DhcpLease {
                shared,
                commands,
                events,
                thread: Some(thread),
                namespace,
                guest: guest.record(),
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            // The thread ended before answering: it could not enter the namespace.
            Err(_) => Err(match thread.join() {
                Ok(Err(err)) => err,
                _ => Error::Failed {
                    op: Op::DhcpAcquire,
                    object: record.ifname,
                    detail: "the DHCP client thread stopped unexpectedly".into(),
                },
            }),
        }
    }

    /// The lease as it is now (it changes when renewed).
    pub fn record(&self) -> LeaseRecord {
        self.shared.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `timeout` for the next thing that happens to the lease.
    pub fn next_event(&self, timeout: Duration) -> Option<LeaseEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Sends DHCPRELEASE to the server and removes the address, routes, MTU and
    /// resolv.conf the lease configured.
    ///
    /// Equivalent to: `dhclient -r IF` (or `udhcpc -R` ending).
    pub fn release(mut self) -> Result<()> {
        let (done, result) = mpsc::sync_channel(1);
        let sent = self.commands.send(Command::Release(done)).is_ok();
        let outcome = if sent {
            result.recv_timeout(RELEASE_WAIT).unwrap_or_else(|_| {
                Err(Error::Timeout {
                    op: Op::DhcpRelease,
                    object: self.record().ifname,
                    waited: RELEASE_WAIT,
                    detail: "the DHCP client thread did not finish releasing".into(),
                })
            })
        } else {
            // The keeper already ended (its guest or interface went away): undo what is left.
            let record = self.record();
            Handle::new(&self.namespace).and_then(|guest| undo(&guest, &self.guest, &record))
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        outcome
    }
}

impl Drop for DhcpLease {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.commands.send(Command::Stop);
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for DhcpLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpLease").field("lease", &self.record()).finish_non_exhaustive()
    }
}

/// Validates the request and finds the interface, before anything changes.
fn check(guest: &Guest, ifname: &str, config: &DhcpConfig) -> Result<(Handle, Link)> {
    config.validate()?;
    validate_ifname("guest ifname", ifname)?;
    let handle = Handle::new(&guest.namespace)?;
    let link = handle.link_get(ifname)?.ok_or_else(|| Error::NotFound {
        op: Op::DhcpAcquire,
        object: format!("interface {ifname} in {guest}"),
    })?;
    if link.link_type != libc::ARPHRD_ETHER {
        return Err(not_ethernet(&link, guest));
    }
    Ok((handle, link))
}

fn not_ethernet(link: &Link, guest: &Guest) -> Error {
    Error::Unsupported {
        op: Op::DhcpAcquire,
        object: format!("{} in {guest}", link.name),
        reason: format!(
            "the interface's link type is {}, not Ethernet; the DHCP client needs an Ethernet MAC",
            link.link_type
        ),
    }
}

/// Removes what a lease configured in the guest, outside any client.
pub(super) fn undo(guest_handle: &Handle, guest: &GuestRecord, record: &LeaseRecord) -> Result<()> {
    let unapplied = apply::unapply(guest_handle, record);
    let restored = match &record.applied.resolv_conf {
        Some(written) => resolv::restore(guest, written),
        None => Ok(()),
    };
    let link = apply::restore_link_state(guest_handle, record);
    unapplied.and(restored).and(link)
}
