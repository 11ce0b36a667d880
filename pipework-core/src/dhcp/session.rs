//! The client thread's session: obtain a lease (DHCPDISCOVER to DHCPACK, a DHCPNAK failing at
//! once), then keep it: renew at T1, rebind at T2, reacquire after a loss, until it is released,
//! stopped, or the guest goes away.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{Sender, SyncSender},
    },
    time::{Duration, Instant},
};

use mozim::{DhcpError, DhcpV4Client, DhcpV4Config, DhcpV4Lease, DhcpV4State};
use nix::errno::Errno;
use tokio::{runtime::Runtime, sync::mpsc::UnboundedReceiver};

use super::{
    apply,
    config::DhcpConfig,
    lease::{Applied, LeaseRecord, ResolvConfWrite},
    native::{LeaseEvent, undo},
    replies::{Reply, ReplyKind, ReplyListener},
    resolv,
    watch::GuestWatch,
};
use crate::{
    error::{Error, Failures, Op, Result},
    handle::Handle,
    mac::MacAddr,
    resolve::GuestRecord,
};

/// How often the link is checked for carrier before the first DHCPDISCOVER.
const CARRIER_POLL: Duration = Duration::from_millis(5);

/// How long the keeper pauses after an error, so that a lasting one cannot make it spin.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// How often the client thread looks whether its caller gave up.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// What the owner of a lease asks its session.
pub(super) enum Command {
    /// Send DHCPRELEASE, remove what the lease configured, and stop.
    Release(SyncSender<Result<()>>),
    /// Stop renewing, leaving the address in place.
    Stop,
}

/// How a client thread begins.
pub(super) enum Start {
    /// Obtain a new lease for this (empty) record.
    Acquire(Box<LeaseRecord>),
    /// Keep this lease, already applied.
    Keep(Box<LeaseRecord>, Box<DhcpV4Lease>),
}

impl Start {
    pub(super) fn record(&self) -> &LeaseRecord {
        match self {
            Start::Acquire(record) | Start::Keep(record, _) => record,
        }
    }
}

/// Where the keeper is in the lease's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Bound,
    Renewing,
    Rebinding,
    Lost,
}

/// What woke the keeper up.
enum Wake {
    Command(Option<Command>),
    State(std::result::Result<DhcpV4State, DhcpError>),
    Nak(Reply),
    ReplyError(std::io::Error),
    GuestGone(String),
}

/// Everything the client thread owns.
pub(super) struct Session {
    pub(super) guest_handle: Handle,
    pub(super) config: DhcpConfig,
    pub(super) guest: GuestRecord,
    pub(super) shared: Arc<Mutex<LeaseRecord>>,
    pub(super) events: Sender<LeaseEvent>,
    pub(super) object: String,
    /// Set when the caller of an interruptible acquire gives up.
    pub(super) cancel: Arc<AtomicBool>,
}

/// The pieces that exist once the thread's runtime does.
struct Client {
    runtime: Runtime,
    mozim: DhcpV4Client,
    replies: ReplyListener,
    /// The lease as mozim knows it, for DHCPRELEASE; `None` once lost.
    lease: Option<DhcpV4Lease>,
}

impl Session {
    /// The thread's body: obtain or adopt the lease, answer `ready`, then keep it.
    pub(super) fn run(
        self,
        start: Start,
        mut commands: UnboundedReceiver<Command>,
        ready: SyncSender<Result<()>>,
    ) {
        let deadline = Instant::now() + self.config.timeout;
        let mut record = start.record().clone();
        let begun = self.begin(start, &mut record, deadline);
        let (mut client, watch) = match begun {
            Ok(begun) => begun,
            Err(err) => {
                let restored = apply::restore_link_state(&self.guest_handle, &record);
                let _ = ready.send(Err(err.rolled_back(restored)));
                return;
            }
        };
        self.store(&record);
        let _ = ready.send(Ok(()));
        self.keep(&mut client, &watch, &mut record, &mut commands);
    }

    /// Sets up the client and obtains (or adopts) the lease; on failure nothing is applied.
    fn begin(
        &self,
        start: Start,
        record: &mut LeaseRecord,
        deadline: Instant,
    ) -> Result<(Client, GuestWatch)> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::io(Op::DhcpAcquire, &self.object, &err))?;
        let _entered = runtime.enter();
        let mac = record.mac.ok_or_else(|| Error::Unsupported {
            op: Op::DhcpAcquire,
            object: self.object.clone(),
            reason: "the interface has no Ethernet MAC for the DHCP client".into(),
        })?;
        let replies = ReplyListener::open(record.ifindex, mac)
            .map_err(|err| Error::io(Op::DhcpAcquire, &self.object, &err))?;
        let watch = GuestWatch::new(&self.guest);
        let mut mozim = runtime
            .block_on(DhcpV4Client::init(self.mozim_config(record, mac)?, None))
            .map_err(|err| self.mozim_error(Op::DhcpAcquire, err))?;
        let lease = match start {
            Start::Keep(_, lease) => {
                mozim.done(*lease.clone()).map_err(|err| self.mozim_error(Op::DhcpRenew, err))?;
                *lease
            }
            Start::Acquire(_) => {
                self.wait_for_carrier(record.ifindex, deadline)?;
                let lease = runtime.block_on(self.obtain(&mut mozim, &replies, deadline))?;
                record.set_facts(&lease, &self.config.request_options);
                if let Err(err) = self.apply_new(record) {
                    // Applying failed: the server should not keep an address nobody uses.
                    let released = runtime
                        .block_on(mozim.release(&lease))
                        .map_err(|failed| self.mozim_error(Op::DhcpRelease, failed));
                    return Err(err.rolled_back(released));
                }
                lease
            }
        };
        Ok((Client { runtime, mozim, replies, lease: Some(lease) }, watch))
    }

    fn mozim_config(&self, record: &LeaseRecord, mac: MacAddr) -> Result<DhcpV4Config> {
        let mut config = DhcpV4Config::new(&record.ifname);
        config
            .set_iface_index(record.ifindex)
            .set_iface_mac_raw(&mac.octets())
            .map_err(|err| self.mozim_error(Op::DhcpAcquire, err))?;
        // The client identifier (option 61) is hardware type 1 and the MAC.
        config.use_mac_as_client_id();
        if let Some(hostname) = &record.hostname {
            config.set_host_name(hostname);
        }
        config.request_extra_dhcp_opts(&self.config.request_options);
        // pipework bounds the exchange itself; mozim's own timeout would also cut renewals.
        config.set_timeout_sec(0);
        Ok(config)
    }

    /// Waits until the link can carry packets, so the first DHCPDISCOVER is not lost.
    fn wait_for_carrier(&self, index: u32, deadline: Instant) -> Result<()> {
        loop {
            self.check_cancelled()?;
            let link = self.guest_handle.link(index)?;
            if link.has_carrier() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    op: Op::DhcpAcquire,
                    object: self.object.clone(),
                    waited: self.config.timeout,
                    detail: "the interface has no carrier (is the other end up?)".into(),
                });
            }
            std::thread::sleep(CARRIER_POLL);
        }
    }

    /// DHCPDISCOVER to DHCPACK, failing at once on a DHCPNAK and at `deadline` otherwise.
    async fn obtain(
        &self,
        mozim: &mut DhcpV4Client,
        replies: &ReplyListener,
        deadline: Instant,
    ) -> Result<DhcpV4Lease> {
        let mut offer: Option<Reply> = None;
        let exchange = async {
            loop {
                // One mozim step at a time, not dropped when a reply is heard meanwhile
                // (dropping it mid-way would make it send its request again).
                let step = mozim.run();
                tokio::pin!(step);
                let state = loop {
                    tokio::select! {
                        state = &mut step => break state,
                        reply = replies.next() => match reply {
                            Ok(reply) if reply.kind == ReplyKind::Nak => {
                                return Err(refused(Op::DhcpAcquire, &self.object, &reply));
                            }
                            Ok(reply) if reply.kind == ReplyKind::Offer => offer = Some(reply),
                            Ok(_) => {}
                            Err(err) => return Err(Error::io(Op::DhcpAcquire, &self.object, &err)),
                        },
                    }
                };
                match state {
                    Ok(DhcpV4State::Done(lease)) => return Ok(*lease),
                    Ok(_) => {}
                    Err(err) => return Err(self.mozim_error(Op::DhcpAcquire, err)),
                }
            }
        };
        let cancellable = async {
            tokio::select! {
                result = exchange => result,
                () = self.cancelled() => Err(self.interrupted()),
            }
        };
        let result = tokio::time::timeout_at(deadline.into(), cancellable).await;
        result.unwrap_or_else(|_| {
            Err(Error::Timeout {
                op: Op::DhcpAcquire,
                object: self.object.clone(),
                waited: self.config.timeout,
                detail: match offer {
                    Some(offer) => format!(
                        "DHCP server {} offered {} but did not acknowledge the request",
                        offer.server, offer.address
                    ),
                    None => {
                        "no DHCP server answered (is one reachable from this interface?)".into()
                    }
                },
            })
        })
    }

    /// Resolves once the caller of an interruptible acquire has given up.
    async fn cancelled(&self) {
        while !self.cancel.load(Ordering::SeqCst) {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    }

    /// `Ok` while the caller waits, the EINTR error once it has given up.
    fn check_cancelled(&self) -> Result<()> {
        match self.cancel.load(Ordering::SeqCst) {
            true => Err(self.interrupted()),
            false => Ok(()),
        }
    }

    fn interrupted(&self) -> Error {
        Error::kernel(Op::DhcpAcquire, &self.object, Errno::EINTR)
    }

    /// Applies a lease that is new to the interface, and its resolv.conf when asked.
    fn apply_new(&self, record: &mut LeaseRecord) -> Result<()> {
        apply::apply(&self.guest_handle, record, self.config.replace_default_route)?;
        if self.config.write_resolv_conf {
            match resolv::write(&self.guest, &resolv::render(record)) {
                Ok(written) => record.applied.resolv_conf = Some(written),
                Err(err) => return Err(err.rolled_back(apply::unapply(&self.guest_handle, record))),
            }
        }
        Ok(())
    }

    /// Renews, rebinds and reacquires until told to stop or the guest goes away.
    fn keep(
        &self,
        client: &mut Client,
        watch: &GuestWatch,
        record: &mut LeaseRecord,
        commands: &mut UnboundedReceiver<Command>,
    ) {
        let mut phase = Phase::Bound;
        // Lives across the loop, so a namespace name's periodic check is never restarted.
        let gone = watch.gone();
        tokio::pin!(gone);
        loop {
            let Client { runtime, mozim, replies, .. } = client;
            let wake = runtime.block_on(async {
                let step = mozim.run();
                tokio::pin!(step);
                loop {
                    tokio::select! {
                        command = commands.recv() => break Wake::Command(command),
                        state = &mut step => break Wake::State(state),
                        reply = replies.next() => match reply {
                            // RFC 2131 4.4.5: a DHCPNAK while renewing or rebinding ends the lease.
                            Ok(reply) if reply.kind == ReplyKind::Nak
                                && matches!(phase, Phase::Renewing | Phase::Rebinding) =>
                            {
                                break Wake::Nak(reply);
                            }
                            Ok(_) => {}
                            Err(err) => break Wake::ReplyError(err),
                        },
                        reason = &mut gone => break Wake::GuestGone(reason),
                    }
                }
            });
            match wake {
                Wake::Command(Some(Command::Release(done))) => {
                    let _ = done.send(self.release(client, record));
                    return;
                }
                Wake::Command(Some(Command::Stop) | None) => return,
                Wake::State(Ok(DhcpV4State::Renewing)) => {
                    phase = Phase::Renewing;
                    self.emit(LeaseEvent::Renewing);
                }
                Wake::State(Ok(DhcpV4State::Rebinding)) => {
                    phase = Phase::Rebinding;
                    self.emit(LeaseEvent::Rebinding);
                }
                Wake::State(Ok(DhcpV4State::Done(lease))) => {
                    match self.renewed(record, &lease, phase) {
                        Ok(event) => {
                            client.lease = Some(*lease);
                            phase = Phase::Bound;
                            self.emit(event);
                        }
                        Err(err) => {
                            if self.end_if_interface_gone(record) {
                                return;
                            }
                            self.lose(client, record, &mut phase, err.to_string());
                        }
                    }
                }
                Wake::State(Ok(DhcpV4State::InitReboot)) if phase == Phase::Rebinding => {
                    let reason = "the lease ran out with no answer from any DHCP server".into();
                    self.lose(client, record, &mut phase, reason);
                }
                Wake::State(Ok(_)) => {}
                Wake::State(Err(err)) => {
                    if self.end_if_interface_gone(record) {
                        return;
                    }
                    // mozim retries on its own; an error it returns is not one to spin on.
                    std::thread::sleep(ERROR_BACKOFF);
                    client.mozim.clean_up();
                    let reason = self.mozim_error(Op::DhcpRenew, err).to_string();
                    self.lose(client, record, &mut phase, reason);
                }
                Wake::Nak(reply) => {
                    // The address must not be used any more; mozim starts over from DISCOVER.
                    client.mozim.clean_up();
                    let reason = refused(Op::DhcpRenew, &self.object, &reply).to_string();
                    self.lose(client, record, &mut phase, reason);
                }
                Wake::ReplyError(err) => {
                    log::debug!("{}: DHCP reply listener: {err}", self.object);
                    // A packet socket reports ENETDOWN once when its link goes down.
                    if self.end_if_interface_gone(record) {
                        return;
                    }
                    std::thread::sleep(ERROR_BACKOFF);
                }
                Wake::GuestGone(reason) => {
                    if let Err(err) = self.release(client, record) {
                        log::warn!("{}: releasing after the guest went away: {err}", self.object);
                    }
                    self.emit(LeaseEvent::Ended { reason });
                    return;
                }
            }
        }
    }

    /// Applies a DHCPACK received while keeping the lease.
    fn renewed(
        &self,
        record: &mut LeaseRecord,
        lease: &DhcpV4Lease,
        phase: Phase,
    ) -> Result<LeaseEvent> {
        let previous = record.clone();
        let mut updated = previous.clone();
        updated.set_facts(lease, &self.config.request_options);
        if phase == Phase::Lost {
            updated.applied =
                Applied { brought_up: previous.applied.brought_up, ..Default::default() };
            self.apply_new(&mut updated)?;
        } else {
            apply::refresh(
                &self.guest_handle,
                &mut updated,
                &previous,
                self.config.replace_default_route,
            )?;
            if let Some(first) = updated.applied.resolv_conf.clone()
                && resolv::render(&updated) != resolv::render(&previous)
            {
                let again = resolv::write(&self.guest, &resolv::render(&updated))?;
                // Keep what was there before pipework first wrote it.
                updated.applied.resolv_conf =
                    Some(ResolvConfWrite { previous: first.previous, ..again });
            }
        }
        *record = updated;
        self.store(record);
        let lease = Box::new(record.clone());
        Ok(if phase == Phase::Lost {
            LeaseEvent::Reacquired { lease }
        } else {
            LeaseEvent::Renewed { lease }
        })
    }

    /// The lease is gone: remove what it configured and tell.
    fn lose(
        &self,
        client: &mut Client,
        record: &mut LeaseRecord,
        phase: &mut Phase,
        reason: String,
    ) {
        if *phase != Phase::Lost {
            let mut undo = Failures::new(Op::DhcpRenew, &self.object);
            undo.run(apply::unapply(&self.guest_handle, record));
            if let Some(written) = record.applied.resolv_conf.take() {
                undo.run(resolv::restore(&self.guest, &written));
            }
            if let Err(err) = undo.finish() {
                log::warn!("{}: removing a lost lease: {err}", self.object);
            }
            let brought_up = record.applied.brought_up;
            record.applied = Applied { brought_up, ..Default::default() };
            self.store(record);
            client.lease = None;
            *phase = Phase::Lost;
            self.emit(LeaseEvent::Lost { reason });
        }
    }

    /// DHCPRELEASE (while a lease is held), then undo everything.
    fn release(&self, client: &mut Client, record: &LeaseRecord) -> Result<()> {
        let sent = match client.lease.take() {
            Some(lease) => client
                .runtime
                .block_on(client.mozim.release(&lease))
                .map_err(|err| self.mozim_error(Op::DhcpRelease, err)),
            None => Ok(()),
        };
        let undone = undo(&self.guest_handle, &self.guest, record);
        sent.and(undone)
    }

    fn end_if_interface_gone(&self, record: &LeaseRecord) -> bool {
        let gone = !matches!(self.guest_handle.link_get(record.ifindex), Ok(Some(_)));
        if gone {
            self.emit(LeaseEvent::Ended { reason: format!("interface {} is gone", record.ifname) });
        }
        gone
    }

    fn store(&self, record: &LeaseRecord) {
        *self.shared.lock().unwrap_or_else(|p| p.into_inner()) = record.clone();
    }

    fn emit(&self, event: LeaseEvent) {
        let _ = self.events.send(event);
    }

    fn mozim_error(&self, op: Op, err: DhcpError) -> Error {
        Error::Failed { op, object: self.object.clone(), detail: err.msg().to_string() }
    }
}

fn refused(op: Op, object: &str, reply: &Reply) -> Error {
    Error::Refused {
        op,
        object: object.to_string(),
        by: format!("DHCP server {}", reply.server),
        reason: match &reply.message {
            Some(message) => format!("DHCPNAK {message:?}"),
            None => "DHCPNAK".into(),
        },
    }
}
