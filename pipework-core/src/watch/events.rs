//! An engine's container events, read as they come from `GET /events` on its unix socket.
//!
//! The request is HTTP/1.0, so the engine (Go's net/http) cannot answer with chunked encoding:
//! it writes one JSON object per line, flushing each, until it closes the connection.

use std::{
    io::{self, Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, SystemTime},
};

use serde::Deserialize;

use crate::resolve::http::{Failure, preview};

/// The events asked for: a container's start, its death and its removal, in Docker's words
/// and in Podman's (`died`, `remove`), which Podman 4 filters by (URL-encoded
/// `{"type":["container"],"event":["start","die","died","destroy","remove"]}`).
const EVENTS_PATH: &str = "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C%22event%22%3A%5B%22start%22%2C%22die%22%2C%22died%22%2C%22destroy%22%2C%22remove%22%5D%7D";
/// How long connecting and the answer's head may take.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a reader waiting for an event looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);
/// The longest event line accepted; an event is a few hundred bytes.
const MAX_LINE: usize = 1 << 20;

/// What happened to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAction {
    /// It started (also after a restart): its namespace is new.
    Start,
    /// Its process ended (`die`; Podman's native name is `died`).
    Die,
    /// It was removed.
    Destroy,
}

/// One container event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// What happened.
    pub action: ContainerAction,
    /// The container's full ID.
    pub id: String,
    /// When the engine says it happened.
    pub time: Option<SystemTime>,
}

/// The fields of an Engine API event that matter here.
#[derive(Debug, Deserialize)]
struct RawEvent {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(rename = "Action", default)]
    action: String,
    #[serde(rename = "Actor", default)]
    actor: Option<Actor>,
    /// The ID in the older, flat form.
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "timeNano", default)]
    time_nano: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Actor {
    #[serde(rename = "ID", default)]
    id: String,
}

/// Reads one event line; `Ok(None)` for an event of no interest (another type or action).
pub fn parse_event(line: &[u8]) -> Result<Option<ContainerEvent>, String> {
    let raw: RawEvent = serde_json::from_slice(line)
        .map_err(|err| format!("an event that does not parse ({err}): {}", preview(line)))?;
    if raw.kind != "container" {
        return Ok(None);
    }
    let action = match raw.action.as_str() {
        "start" => ContainerAction::Start,
        "die" | "died" => ContainerAction::Die,
        "destroy" | "remove" => ContainerAction::Destroy,
        _ => return Ok(None),
    };
    let id = raw
        .actor
        .map(|a| a.id)
        .filter(|id| !id.is_empty())
        .or(raw.id)
        .ok_or_else(|| format!("a container event without an ID: {}", preview(line)))?;
    let time = raw.time_nano.map(|nanos| SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos));
    Ok(Some(ContainerEvent { action, id, time }))
}

/// What the next read of the stream gave.
#[derive(Debug)]
pub(crate) enum Next {
    /// One line of the body (an event, not parsed yet).
    Line(Vec<u8>),
    /// The engine closed the stream (it stopped or restarted).
    Closed,
    /// The stop flag was set.
    Stopped,
}

/// An open `/events` stream.
pub(crate) struct EventStream {
    stream: UnixStream,
    pending: Vec<u8>,
}

impl EventStream {
    /// Connects to the engine at `socket` and asks for container events from now on.
    ///
    /// Equivalent to: `docker events --filter type=container --filter event=start ...`.
    pub(crate) fn open(socket: &Path) -> Result<Self, Failure> {
        let mut stream = UnixStream::connect(socket).map_err(Failure::Io)?;
        stream.set_read_timeout(Some(HEAD_TIMEOUT)).map_err(Failure::Io)?;
        stream.set_write_timeout(Some(HEAD_TIMEOUT)).map_err(Failure::Io)?;
        let request = format!(
            "GET {EVENTS_PATH} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).map_err(Failure::Io)?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_len = loop {
            let read = stream.read(&mut chunk).map_err(Failure::Io)?;
            if read == 0 {
                return Err(Failure::Garbage(format!(
                    "the events stream closed before its answer's head: {}",
                    preview(&raw)
                )));
            }
            raw.extend_from_slice(&chunk[..read]);
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&raw) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = response.code.unwrap_or(0);
                    if status != 200 {
                        return Err(Failure::Garbage(format!(
                            "HTTP {status} {} to GET /events: {}",
                            response.reason.unwrap_or_default(),
                            preview(&raw[len..])
                        )));
                    }
                    let chunked = response.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("transfer-encoding")
                            && !h.value.eq_ignore_ascii_case(b"identity")
                    });
                    if chunked {
                        return Err(Failure::Garbage(
                            "a chunked events stream in answer to an HTTP/1.0 request".into(),
                        ));
                    }
                    break len;
                }
                Ok(httparse::Status::Partial) if raw.len() < 64 << 10 => continue,
                Ok(httparse::Status::Partial) => {
                    return Err(Failure::Garbage(format!(
                        "an answer head longer than 64 KiB: {}",
                        preview(&raw)
                    )));
                }
                Err(err) => {
                    return Err(Failure::Garbage(format!("not HTTP ({err}): {}", preview(&raw))));
                }
            }
        };
        stream.set_read_timeout(Some(STOP_POLL)).map_err(Failure::Io)?;
        Ok(EventStream { stream, pending: raw.split_off(head_len) })
    }

    /// The next line of the stream, waiting for it until `stop` is set.
    pub(crate) fn next(&mut self, stop: &AtomicBool) -> Result<Next, Failure> {
        let mut chunk = [0u8; 8192];
        loop {
            while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = line.trim_ascii();
                if !line.is_empty() {
                    return Ok(Next::Line(line.to_vec()));
                }
            }
            if self.pending.len() > MAX_LINE {
                return Err(Failure::Garbage(format!(
                    "an event line longer than {MAX_LINE} bytes: {}",
                    preview(&self.pending)
                )));
            }
            if stop.load(Ordering::SeqCst) {
                return Ok(Next::Stopped);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Next::Closed),
                Ok(read) => self.pending.extend_from_slice(&chunk[..read]),
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(err) => return Err(Failure::Io(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{io::BufRead, os::unix::net::UnixListener, thread};

    use super::*;

    #[test]
    fn docker_and_podman_events_are_read() {
        let docker = br#"{"status":"start","id":"94f6","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"94f6","Attributes":{"name":"web"}},"scope":"local","time":1733500000,"timeNano":1733500000123456789}"#;
        let event = parse_event(docker).unwrap().unwrap();
        assert_eq!((event.action, event.id.as_str()), (ContainerAction::Start, "94f6"));
        let nanos = event.time.unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(nanos.as_nanos(), 1_733_500_000_123_456_789);
        let podman = br#"{"Type":"container","Action":"died","Actor":{"ID":"ab12","Attributes":{}},"time":1}"#;
        assert_eq!(parse_event(podman).unwrap().unwrap().action, ContainerAction::Die);
        let flat = br#"{"Type":"container","Action":"destroy","id":"cd34"}"#;
        let event = parse_event(flat).unwrap().unwrap();
        assert_eq!(
            (event.action, event.id.as_str(), event.time),
            (ContainerAction::Destroy, "cd34", None)
        );
        assert_eq!(parse_event(br#"{"Type":"network","Action":"connect"}"#).unwrap(), None);
        assert_eq!(
            parse_event(br#"{"Type":"container","Action":"pause","id":"x"}"#).unwrap(),
            None
        );
        let err = parse_event(br#"{"Type":"container","Action":"start"}"#).unwrap_err();
        assert!(err.contains("without an ID"), "{err}");
        let err = parse_event(b"not json").unwrap_err();
        assert!(err.contains("does not parse") && err.contains("not json"), "{err}");
    }

    /// A one-connection server on a fresh unix socket that answers with `answer`.
    fn serve(answer: &'static [u8], then_wait: bool) -> (tempdir::Dir, thread::JoinHandle<String>) {
        let dir = tempdir::Dir::new();
        let listener = UnixListener::bind(dir.socket()).unwrap();
        let server = thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let mut request = String::new();
            let mut reader = io::BufReader::new(connection.try_clone().unwrap());
            reader.read_line(&mut request).unwrap();
            connection.write_all(answer).unwrap();
            if then_wait {
                thread::sleep(Duration::from_millis(600));
            }
            request
        });
        (dir, server)
    }

    mod tempdir {
        use std::path::PathBuf;

        /// A private directory for one socket, removed on drop.
        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new() -> Self {
                let path = std::env::temp_dir().join(format!(
                    "pipework-events-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub fn socket(&self) -> PathBuf {
                self.0.join("engine.sock")
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn a_stream_gives_its_lines_then_closed_and_stops_when_asked() {
        let (dir, server) = serve(
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\n\n{\"b\":2}\n",
            false,
        );
        let mut stream = EventStream::open(&dir.socket()).unwrap();
        let stop = AtomicBool::new(false);
        assert!(matches!(stream.next(&stop).unwrap(), Next::Line(l) if l == b"{\"a\":1}"));
        assert!(matches!(stream.next(&stop).unwrap(), Next::Line(l) if l == b"{\"b\":2}"));
        assert!(matches!(stream.next(&stop).unwrap(), Next::Closed));
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /events?filters=") && request.ends_with("HTTP/1.0\r\n"));

        let (dir, server) = serve(b"HTTP/1.0 200 OK\r\n\r\n", true);
        let mut stream = EventStream::open(&dir.socket()).unwrap();
        stop.store(true, Ordering::SeqCst);
        assert!(matches!(stream.next(&stop).unwrap(), Next::Stopped));
        server.join().unwrap();
    }

    #[test]
    fn refusals_and_chunking_are_errors_that_say_what_came() {
        for (answer, expected) in [
            (&b"HTTP/1.1 500 Internal Server Error\r\n\r\n{\"message\":\"boom\"}"[..], "HTTP 500"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP"),
        ] {
            let (dir, server) = serve(answer, false);
            let err = match EventStream::open(&dir.socket()) {
                Err(Failure::Garbage(detail)) => detail,
                Err(Failure::Io(err)) => panic!("{err}"),
                Ok(_) => panic!("{answer:?} accepted"),
            };
            assert!(err.contains(expected), "{err}");
            server.join().unwrap();
        }
    }
}
