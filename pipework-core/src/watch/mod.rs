//! Following Docker and Podman: what their containers ask for (labels `pipework`,
//! `pipework.<n>`, variables `pipework_cmd`) attached when they start and detached when they die.
//!
//! A [`Watcher`] follows each engine's `/events` stream (container `start`, `die`, `destroy`)
//! and reconnects with backoff when the engine goes away. Each time it connects it first
//! reconciles: it attaches what every running container asks for (an attach already in place is
//! found, not made again) and detaches the records of containers that are not running any more,
//! so a restart of the watcher or of the engine, or a missed event, loses and leaks nothing.
//! Its records live in their own store (`<state dir>/watch`), apart from the command's.
//!
//! The watcher only executes: turning an ask's words into an [`AttachPlan`] is the caller's
//! [`Planner`] (the command's grammar).

mod asks;
mod events;

use std::{
    collections::HashSet,
    fmt,
    path::PathBuf,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant, SystemTime},
};

use self::events::{EventStream, Next};
pub use self::{
    asks::{Ask, ENV_VAR, LABEL, asks_of},
    events::{ContainerAction, ContainerEvent, parse_event},
};
use crate::{
    attach::{AttachPlan, AttachStatus, Attachment},
    error::{Error, Op, Result},
    handle::Handle,
    netns::Namespace,
    resolve::{DockerResolver, Engine, Guest, Resolution, Resolver, http::Failure},
    state::StateStore,
    topology::{Topology, apply, running_part},
};

/// Turns one ask of a container into the plan of its attach, with the host's handle to detect
/// the host interface (the command's grammar supplies it).
pub type Planner = dyn Fn(&Handle, &Guest, &Ask) -> Result<AttachPlan> + Send + Sync;

/// The first wait before connecting again to an engine that went away.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two connection attempts.
const LAST_RETRY: Duration = Duration::from_secs(5);

/// What the watcher did or saw, one line each when printed.
#[derive(Debug)]
pub enum Report {
    /// The events stream of an engine is open (a reconcile follows).
    Connected {
        /// The engine.
        engine: Engine,
        /// Its socket.
        socket: PathBuf,
    },
    /// The engine could not be reached or its stream ended; the next try is after `retry_in`.
    Disconnected {
        /// The engine.
        engine: Engine,
        /// Why.
        reason: String,
        /// When the next try is.
        retry_in: Duration,
    },
    /// An ask of a container attached (or found attached, `created` false).
    Attached {
        /// The container, as `engine name (short ID)`.
        container: String,
        /// Where the ask was written.
        source: String,
        /// What was attached.
        attachment: Box<Attachment>,
        /// From the event's arrival to the attachment done, when an event started it.
        after_event: Option<Duration>,
        /// From the engine's time of the start event to the attachment done.
        after_start: Option<Duration>,
    },
    /// A container's attachments undone: it died, was removed, is not running at a reconcile,
    /// or started again in a new namespace (`why`).
    Detached {
        /// The container (`engine ID` when it is gone).
        container: String,
        /// Why.
        why: &'static str,
        /// What was undone.
        attachments: Vec<Attachment>,
    },
    /// The topology's lab changed to follow its containers.
    Lab {
        /// `lab NAME`.
        lab: String,
        /// What changed, one step each.
        changes: Vec<String>,
    },
    /// Something a container asked for could not be done; the watcher goes on with the others.
    Failed {
        /// The container.
        container: String,
        /// The ask, when one is at fault.
        source: Option<String>,
        /// Why.
        error: Error,
    },
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Connected { engine, socket } => {
                write!(f, "{engine}: following container events at {}", socket.display())
            }
            Report::Disconnected { engine, reason, retry_in } => {
                write!(f, "{engine}: {reason}; connecting again in {:.1} s", retry_in.as_secs_f64())
            }
            Report::Attached { container, source, attachment, after_event, after_start } => {
                let addresses: Vec<String> =
                    attachment.plan.addresses.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{container} ({source}): {} {} on {} via {}: {}",
                    if attachment.status == AttachStatus::Created {
                        "attached"
                    } else {
                        "already attached"
                    },
                    attachment.plan.guest_ifname,
                    attachment.plan.host.host_interface(),
                    attachment.host_ifname,
                    if addresses.is_empty() { "no address".into() } else { addresses.join(", ") },
                )?;
                if let Some(after) = after_event {
                    write!(f, " in {:.1} ms after the event", after.as_secs_f64() * 1e3)?;
                }
                if let Some(after) = after_start {
                    write!(f, ", {:.1} ms after the engine's start", after.as_secs_f64() * 1e3)?;
                }
                Ok(())
            }
            Report::Detached { container, why, attachments } => {
                let what: Vec<String> = attachments
                    .iter()
                    .map(|a| format!("{} on {}", a.plan.guest_ifname, a.plan.host.host_interface()))
                    .collect();
                write!(f, "{container} {why}: detached {}", what.join(", "))
            }
            Report::Lab { lab, changes } => write!(f, "{lab}: {}", changes.join(", ")),
            Report::Failed { container, source: Some(source), error } => {
                write!(f, "{container} ({source}): not attached: {error}")
            }
            Report::Failed { container, source: None, error } => write!(f, "{container}: {error}"),
        }
    }
}

/// Follows container engines and attaches what their containers ask for.
pub struct Watcher {
    engines: Vec<DockerResolver>,
    host: Option<Namespace>,
    /// A topology whose `guest` nodes name containers, and the state its lab is recorded in.
    topology: Option<(Topology, StateStore)>,
    store: StateStore,
    planner: Box<Planner>,
    reporter: Box<dyn Fn(Report) + Send + Sync>,
}

impl Watcher {
    /// A watcher of `engines`, its records in `store` (see [`Watcher::store_in`]), planning
    /// each ask with `planner` and telling `reporter` what it does.
    pub fn new(
        engines: Vec<DockerResolver>,
        store: StateStore,
        planner: Box<Planner>,
        reporter: Box<dyn Fn(Report) + Send + Sync>,
    ) -> Self {
        Watcher { engines, host: None, topology: None, store, planner, reporter }
    }

    /// Host sides in `namespace` instead of the calling thread's (a test's private host).
    pub fn in_host(mut self, namespace: Namespace) -> Self {
        self.host = Some(namespace);
        self
    }

    /// Also keeps `topology` applied to its running part: a `guest` node's links are made when
    /// its container starts and go when it dies (the lab recorded in `state`, like `pipework
    /// apply` records it, so `pipework destroy --lab` removes it).
    pub fn with_topology(mut self, topology: Topology, state: StateStore) -> Self {
        self.topology = Some((topology, state));
        self
    }

    /// Applies the running part of the topology, if there is one (see [`running_part`]).
    fn sync_topology(&self, host: &Handle) {
        let Some((topology, state)) = &self.topology else {
            return;
        };
        let lab = format!("lab {}", topology.name);
        let synced = running_part(topology, state).and_then(|(part, forgotten)| {
            let applied = apply(host, &part, state)?;
            Ok((forgotten, applied))
        });
        match synced {
            Ok((forgotten, applied)) => {
                let mut changes: Vec<String> = forgotten
                    .iter()
                    .map(|link| format!("link {} went with its guest", link.key()))
                    .collect();
                changes.extend(applied.steps.iter().map(ToString::to_string));
                if !changes.is_empty() {
                    (self.reporter)(Report::Lab { lab, changes });
                }
            }
            Err(error) => self.failed(lab, None, error),
        }
    }

    /// A netlink handle in the host namespace.
    fn host_handle(&self) -> Result<Handle> {
        match &self.host {
            Some(namespace) => Handle::new(namespace),
            None => Handle::current(),
        }
    }

    /// The watcher's store under a state directory: `<dir>/watch`.
    pub fn store_in(state: &StateStore) -> StateStore {
        StateStore::new(state.dir().join("watch"))
    }

    /// The watcher's records.
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    /// Reconciles every engine once: attaches what running containers ask for, detaches the
    /// records of containers that are not running. An engine that cannot be asked is an error.
    pub fn reconcile_once(&self) -> Result<()> {
        let host = self.host_handle()?;
        for engine in &self.engines {
            self.reconcile(&host, engine)?;
        }
        Ok(())
    }

    /// Follows every engine (one thread each) until `stop` is set.
    pub fn run(&self, stop: &AtomicBool) -> Result<()> {
        thread::scope(|scope| {
            let followers: Vec<_> = self
                .engines
                .iter()
                .map(|engine| scope.spawn(move || self.follow(engine, stop)))
                .collect();
            followers.into_iter().try_for_each(|follower| {
                follower.join().unwrap_or_else(|_| {
                    Err(Error::Protocol {
                        op: Op::QueryEngine,
                        object: "the watcher".into(),
                        detail: "a follower thread panicked".into(),
                    })
                })
            })
        })
    }

    /// One engine: connect, reconcile, handle events; again after a pause when it goes away.
    fn follow(&self, engine: &DockerResolver, stop: &AtomicBool) -> Result<()> {
        let host = self.host_handle()?;
        let socket = engine.usable_socket("its events")?.to_path_buf();
        let mut retry = FIRST_RETRY;
        while !stop.load(Ordering::SeqCst) {
            let reason = match EventStream::open(&socket) {
                Ok(mut stream) => {
                    (self.reporter)(Report::Connected {
                        engine: engine.engine().clone(),
                        socket: socket.clone(),
                    });
                    retry = FIRST_RETRY;
                    // Events that come during the reconcile wait in the socket.
                    if let Err(err) = self.reconcile(&host, engine) {
                        self.failed(engine.engine().to_string(), None, err);
                    }
                    match self.handle_events(&host, engine, &mut stream, stop) {
                        Ok(()) => return Ok(()),
                        Err(reason) => reason,
                    }
                }
                Err(Failure::Io(err)) => format!("cannot connect to {}: {err}", socket.display()),
                Err(Failure::Garbage(detail)) => detail,
            };
            (self.reporter)(Report::Disconnected {
                engine: engine.engine().clone(),
                reason,
                retry_in: retry,
            });
            sleep_unless_stopped(retry, stop);
            retry = (retry * 2).min(LAST_RETRY);
        }
        Ok(())
    }

    /// Handles the stream's events until `stop` (`Ok`) or the stream breaks (`Err`: why).
    fn handle_events(
        &self,
        host: &Handle,
        engine: &DockerResolver,
        stream: &mut EventStream,
        stop: &AtomicBool,
    ) -> std::result::Result<(), String> {
        loop {
            let line = match stream.next(stop) {
                Ok(Next::Line(line)) => line,
                Ok(Next::Stopped) => return Ok(()),
                Ok(Next::Closed) => return Err("the engine closed its events stream".into()),
                Err(Failure::Io(err)) => return Err(format!("the events stream broke: {err}")),
                Err(Failure::Garbage(detail)) => return Err(detail),
            };
            let arrived = Instant::now();
            match parse_event(&line) {
                Ok(Some(event)) => self.handle(host, engine, &event, arrived),
                Ok(None) => {}
                Err(detail) => self.failed(
                    engine.engine().to_string(),
                    None,
                    Error::Protocol { op: Op::QueryEngine, object: "an event".into(), detail },
                ),
            }
        }
    }

    /// Acts on one event: the container's own asks, then the topology's running part.
    fn handle(
        &self,
        host: &Handle,
        engine: &DockerResolver,
        event: &ContainerEvent,
        arrived: Instant,
    ) {
        match event.action {
            ContainerAction::Start => {
                self.started(host, engine, &event.id, Some((arrived, event.time)))
            }
            ContainerAction::Die => {
                self.detach_container(host, engine, &event.id, "died", |_| true)
            }
            ContainerAction::Destroy => {
                self.detach_container(host, engine, &event.id, "was removed", |_| true)
            }
        }
        self.sync_topology(host);
    }

    /// Attaches what the running containers of `engine` ask for and detaches the records of
    /// its containers that do not run any more.
    fn reconcile(&self, host: &Handle, engine: &DockerResolver) -> Result<()> {
        let running: HashSet<String> = engine.running()?.into_iter().collect();
        let recorded: HashSet<String> = self
            .store
            .all()?
            .into_iter()
            .filter(|r| r.attachment.guest.engine == *engine.engine())
            .filter_map(|r| r.attachment.guest.id)
            .collect();
        for id in recorded.difference(&running) {
            self.detach_container(host, engine, id, "is not running", |_| true);
        }
        for id in &running {
            self.started(host, engine, id, None);
        }
        self.sync_topology(host);
        Ok(())
    }

    /// A container runs: its asks attached, after its records of an earlier namespace (a
    /// restart whose death was missed) are undone.
    fn started(
        &self,
        host: &Handle,
        engine: &DockerResolver,
        id: &str,
        event: Option<(Instant, Option<SystemTime>)>,
    ) {
        let named = format!("{} {}", engine.engine(), short(id));
        let config = match engine.container(id) {
            Ok(Some(config)) if config.running => config,
            // Gone or stopped again already: its die event follows.
            Ok(_) => return,
            Err(err) => return self.failed(named, None, err),
        };
        let asks = asks_of(&config);
        if asks.is_empty() {
            return;
        }
        let named = format!("{} {} ({})", engine.engine(), config.name, short(id));
        let guest = match engine.resolve(id) {
            Ok(Resolution::Found(guest)) => guest,
            Ok(Resolution::NotMine(err)) | Err(err) => return self.failed(named, None, err),
        };
        let namespace = guest.namespace.id();
        self.detach_container(host, engine, id, "started again in a new namespace", |record| {
            record.guest.namespace != namespace
        });
        for ask in asks {
            let attached = (self.planner)(host, &guest, &ask)
                .and_then(|plan| self.store.attach(host, &guest, &plan));
            match attached {
                Ok((attachment, _)) => {
                    let after_event = event.map(|(arrived, _)| arrived.elapsed());
                    let after_start = event
                        .and_then(|(_, time)| time)
                        .and_then(|time| SystemTime::now().duration_since(time).ok());
                    (self.reporter)(Report::Attached {
                        container: named.clone(),
                        source: ask.source,
                        attachment: Box::new(attachment),
                        after_event,
                        after_start,
                    });
                }
                Err(err) => self.failed(named.clone(), Some(ask.source), err),
            }
        }
    }

    /// Undoes and forgets the records of container `id` of `engine` that `which` selects.
    fn detach_container(
        &self,
        host: &Handle,
        engine: &DockerResolver,
        id: &str,
        why: &'static str,
        which: impl Fn(&Attachment) -> bool,
    ) {
        let named = format!("{} {}", engine.engine(), short(id));
        let locked = match self.store.lock() {
            Ok(locked) => locked,
            Err(err) => return self.failed(named, None, err),
        };
        let records = match self.store.all() {
            Ok(records) => records,
            Err(err) => return self.failed(named, None, err),
        };
        let mut undone = Vec::new();
        for record in records {
            let guest = &record.attachment.guest;
            if guest.engine != *engine.engine()
                || guest.id.as_deref() != Some(id)
                || !which(&record.attachment)
            {
                continue;
            }
            // The container's namespace is gone or another one: only the host side is left.
            match record.attachment.detach(host, None).and_then(|()| self.store.remove(&record)) {
                Ok(()) => undone.push(record.attachment),
                Err(err) => self.failed(named.clone(), None, err),
            }
        }
        drop(locked);
        if !undone.is_empty() {
            let container = match undone[0].guest.name.as_deref() {
                Some(name) => format!("{} {name} ({})", engine.engine(), short(id)),
                None => named,
            };
            (self.reporter)(Report::Detached { container, why, attachments: undone });
        }
    }

    fn failed(&self, container: String, source: Option<String>, error: Error) {
        (self.reporter)(Report::Failed { container, source, error });
    }
}

/// The first 12 characters of a container ID, as engines show it.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Sleeps `pause`, waking early when `stop` is set.
fn sleep_unless_stopped(pause: Duration, stop: &AtomicBool) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Write},
        os::unix::net::UnixListener,
        sync::{Arc, Mutex},
    };

    use super::*;
    use crate::resolve::Engine;

    /// An engine that answers the container list with `[]` and each events request with a
    /// stream it closes at once, as an engine that restarts does; `connections` counts them.
    fn fake_engine(listener: UnixListener, events: Arc<Mutex<u32>>) {
        for connection in listener.incoming() {
            let Ok(mut connection) = connection else { return };
            let mut request = String::new();
            let _ = BufReader::new(&connection).read_line(&mut request);
            let answer: &[u8] = if request.starts_with("GET /events") {
                *events.lock().unwrap() += 1;
                b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
            } else {
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]"
            };
            let _ = connection.write_all(answer);
        }
    }

    #[test]
    fn an_engine_that_is_not_there_or_goes_away_is_connected_to_again() {
        let dir = std::env::temp_dir().join(format!("pipework-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("engine.sock");
        let _ = std::fs::remove_file(&socket);
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = lines.clone();
        let watcher = Watcher::new(
            vec![DockerResolver::new(Engine::Docker, &socket)],
            StateStore::new(dir.join("state")),
            Box::new(|_, _, _| unreachable!("no container runs")),
            Box::new(move |report| seen.lock().unwrap().push(report.to_string())),
        );
        let stop = AtomicBool::new(false);
        let events = Arc::new(Mutex::new(0));
        thread::scope(|scope| {
            let running = scope.spawn(|| watcher.run(&stop));
            // Nobody listens yet: refused, retried after 0.1 s, then 0.2 s.
            let wait_for = |what: &str, done: &dyn Fn(&[String]) -> bool| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !done(&lines.lock().unwrap()) {
                    assert!(Instant::now() < deadline, "{what}: {:?}", lines.lock().unwrap());
                    thread::sleep(Duration::from_millis(10));
                }
            };
            wait_for("two refusals", &|l| {
                l.iter().filter(|l| l.contains("cannot connect")).count() >= 2
            });
            let first: Vec<String> = lines.lock().unwrap().clone();
            assert!(first[0].contains("connecting again in 0.1 s"), "{first:?}");
            assert!(first[1].contains("connecting again in 0.2 s"), "{first:?}");
            // The engine comes; each stream it closes is connected to again, from 0.1 s on.
            let listener = UnixListener::bind(&socket).unwrap();
            let counter = events.clone();
            thread::spawn(move || fake_engine(listener, counter));
            wait_for("three connections", &|l| {
                l.iter().filter(|l| l.contains("following container events")).count() >= 3
            });
            let all = lines.lock().unwrap().clone();
            assert!(
                all.iter()
                    .any(|l| l.contains("closed its events stream; connecting again in 0.1 s")),
                "{all:?}"
            );
            stop.store(true, Ordering::SeqCst);
            running.join().unwrap().unwrap();
        });
        assert!(*events.lock().unwrap() >= 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
