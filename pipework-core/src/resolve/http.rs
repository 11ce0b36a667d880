//! Just enough HTTP/1.0 over a unix socket to ask a container engine one question.
//!
//! HTTP/1.0 because then the engine (Go's net/http for Docker and Podman) never answers with
//! chunked encoding: it sends the body and closes the connection.

use std::{
    io::{self, Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

/// The largest answer read; an engine's inspect answer is a few kilobytes.
const MAX_ANSWER: u64 = 8 << 20;

/// An HTTP answer: status and body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The status code (200, 404...).
    pub status: u16,
    /// The reason phrase (`Not Found`).
    pub reason: String,
    /// The body, exactly `Content-Length` bytes when the header is given.
    pub body: Vec<u8>,
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The socket could not be reached or the exchange broke (connect, read, write, timeout).
    Io(io::Error),
    /// The peer answered something that is not a well-formed HTTP answer.
    Garbage(String),
}

/// Sends `GET path` to the HTTP server on unix socket `socket` and reads the whole answer.
pub(crate) fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Answer, Failure> {
    let mut stream = UnixStream::connect(socket).map_err(Failure::Io)?;
    stream.set_read_timeout(Some(timeout)).map_err(Failure::Io)?;
    stream.set_write_timeout(Some(timeout)).map_err(Failure::Io)?;
    // One write: some servers fail on a request that arrives in pieces.
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(Failure::Io)?;
    let mut raw = Vec::new();
    stream.take(MAX_ANSWER + 1).read_to_end(&mut raw).map_err(Failure::Io)?;
    if raw.len() as u64 > MAX_ANSWER {
        return Err(Failure::Garbage(format!("an answer longer than {MAX_ANSWER} bytes")));
    }
    parse(&raw).map_err(Failure::Garbage)
}

/// Parses a complete HTTP/1.x answer (head and body as read until the peer closed).
pub(crate) fn parse(raw: &[u8]) -> Result<Answer, String> {
    if raw.is_empty() {
        return Err("the connection was closed without an answer".into());
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(format!("an incomplete HTTP header: {}", preview(raw)));
        }
        Err(err) => return Err(format!("not HTTP ({err}): {}", preview(raw))),
    };
    let status = response.code.ok_or("an HTTP answer without status")?;
    let reason = response.reason.unwrap_or_default().to_string();
    let mut content_length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding")
            && !header.value.eq_ignore_ascii_case(b"identity")
        {
            return Err(format!(
                "transfer encoding {:?} in an answer to an HTTP/1.0 request",
                String::from_utf8_lossy(header.value)
            ));
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    format!("Content-Length {:?}", String::from_utf8_lossy(header.value))
                })?;
            content_length = Some(length);
        }
    }
    let rest = &raw[head_len..];
    let body = match content_length {
        Some(length) if rest.len() < length => {
            return Err(format!("a body cut short: {} of {length} bytes", rest.len()));
        }
        Some(length) => rest[..length].to_vec(),
        None => rest.to_vec(),
    };
    Ok(Answer { status, reason, body })
}

/// The start of an answer, printable, for error messages.
pub(crate) fn preview(raw: &[u8]) -> String {
    let shown = &raw[..raw.len().min(60)];
    format!("{:?}{}", String::from_utf8_lossy(shown), if raw.len() > 60 { "..." } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_with_content_length() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}trailing";
        let answer = parse(raw).unwrap();
        assert_eq!(answer, Answer { status: 200, reason: "OK".into(), body: b"{}".to_vec() });
    }

    #[test]
    fn answer_closed_by_the_server_has_the_rest_as_body() {
        let answer = parse(b"HTTP/1.1 404 Not Found\r\n\r\n{\"message\":\"x\"}").unwrap();
        assert_eq!(answer.status, 404);
        assert_eq!(answer.reason, "Not Found");
        assert_eq!(answer.body, b"{\"message\":\"x\"}");
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let answer = parse(b"HTTP/1.0 200 OK\r\ncontent-LENGTH: 1\r\n\r\nab").unwrap();
        assert_eq!(answer.body, b"a");
    }

    #[test]
    fn garbage_is_refused_with_what_came() {
        for (raw, expected) in [
            (&b""[..], "closed without an answer"),
            (b"hello there\r\n\r\n", "not HTTP"),
            (b"HTTP/1.0 200 OK\r\nContent-Le", "incomplete HTTP header"),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n{}", "cut short: 2 of 10"),
            (b"HTTP/1.0 200 OK\r\nContent-Length: x\r\n\r\n{}", "Content-Length \"x\""),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                "chunked",
            ),
            (b"\x00\x01\x02\x03", "not HTTP"),
        ] {
            let err = parse(raw).unwrap_err();
            assert!(err.contains(expected), "{raw:?}: {err}");
        }
    }

    #[test]
    fn preview_is_short_and_printable() {
        assert_eq!(preview(b"ab\x00"), "\"ab\\0\"");
        assert!(preview(&[b'x'; 100]).ends_with("..."));
    }
}
