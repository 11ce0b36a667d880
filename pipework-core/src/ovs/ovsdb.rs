//! The OVSDB management protocol (RFC 7047): JSON-RPC 1.0 over ovsdb-server's unix socket.

use std::{
    collections::BTreeMap,
    io::{BufReader, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use serde_json::{Value, de::IoRead, json};

use crate::error::{Error, Op, Result};

/// The database every Open vSwitch configuration lives in.
const DATABASE: &str = "Open_vSwitch";

/// How long ovsdb-server may take to answer one request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// One JSON-RPC session with ovsdb-server.
pub(super) struct Connection {
    socket: String,
    writer: UnixStream,
    reader: serde_json::StreamDeserializer<'static, IoRead<BufReader<UnixStream>>, Value>,
    next_id: u64,
}

impl Connection {
    /// Connects to the ovsdb-server listening on `socket`.
    pub(super) fn open(socket: &Path) -> Result<Self> {
        let name = socket.display().to_string();
        let io = |err: std::io::Error| {
            Error::io(Op::Ovsdb, format!("ovsdb-server at {name} (is Open vSwitch running?)"), &err)
        };
        let writer = UnixStream::connect(socket).map_err(io)?;
        writer.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(io)?;
        let reader = writer.try_clone().map_err(io)?;
        Ok(Connection {
            socket: name,
            writer,
            reader: serde_json::Deserializer::from_reader(BufReader::new(reader)).into_iter(),
            next_id: 0,
        })
    }

    /// Sends one request and returns its result, answering the server's echo probes meanwhile.
    fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "method": method, "params": params, "id": id }))?;
        loop {
            let mut message = match self.reader.next() {
                Some(Ok(message)) => message,
                Some(Err(err)) => return Err(self.broken(format!("unreadable answer: {err}"))),
                None => return Err(self.broken("ovsdb-server closed the connection".into())),
            };
            if message["method"] == "echo" {
                self.send(
                    &json!({ "result": message["params"], "error": null, "id": message["id"] }),
                )?;
                continue;
            }
            if message["id"] != id {
                // A notification, or the answer to an echo we never sent.
                continue;
            }
            if !message["error"].is_null() {
                return Err(self.broken(format!("{method} failed: {}", message["error"])));
            }
            return Ok(message["result"].take());
        }
    }

    fn send(&mut self, message: &Value) -> Result<()> {
        let bytes = serde_json::to_vec(message).expect("JSON values serialise");
        self.writer
            .write_all(&bytes)
            .map_err(|err| Error::io(Op::Ovsdb, format!("ovsdb-server at {}", self.socket), &err))
    }

    fn broken(&self, detail: String) -> Error {
        Error::Protocol {
            op: Op::Ovsdb,
            object: format!("ovsdb-server at {}", self.socket),
            detail,
        }
    }

    /// Runs `operations` as one atomic transaction and returns one result per operation.
    ///
    /// A refused operation (or a refused commit) is an error that names `object` and carries
    /// ovsdb-server's own words.
    pub(super) fn transact(&mut self, object: &str, operations: Vec<Value>) -> Result<Vec<Value>> {
        if let Some(errno) = crate::handle::injected(Op::Ovsdb) {
            return Err(Error::Kernel { op: Op::Ovsdb, object: object.to_string(), errno });
        }
        let count = operations.len();
        let mut params = vec![json!(DATABASE)];
        params.extend(operations);
        let results = match self.call("transact", Value::Array(params))? {
            Value::Array(results) => results,
            other => return Err(self.broken(format!("transact answered {other}"))),
        };
        // Per RFC 7047 §4.1.3, an error object marks the failed operation; one more result
        // beyond the operations is a failed commit.
        if let Some(failure) = results.iter().find(|result| result.get("error").is_some()) {
            let error = failure["error"].as_str().unwrap_or("error");
            let details = failure["details"].as_str().unwrap_or_default();
            return Err(Error::Conflict {
                op: Op::Ovsdb,
                object: object.to_string(),
                reason: format!("ovsdb-server refused: {error}: {details}"),
            });
        }
        if results.len() < count {
            return Err(self.broken(format!("{} results for {count} operations", results.len())));
        }
        Ok(results)
    }
}

/// The OVSDB notation of a row's UUID: `["uuid", "…"]`.
pub(super) fn uuid(id: &str) -> Value {
    json!(["uuid", id])
}

/// A reference to a row inserted earlier in the same transaction.
pub(super) fn named(name: &str) -> Value {
    json!(["named-uuid", name])
}

/// The OVSDB notation of a string-to-string map.
pub(super) fn map(entries: &BTreeMap<String, String>) -> Value {
    json!(["map", entries.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()])
}

/// A `select` of `columns` from the rows of `table` whose `column` equals `value`.
pub(super) fn select(table: &str, column: &str, value: Value, columns: &[&str]) -> Value {
    json!({ "op": "select", "table": table, "where": [[column, "==", value]], "columns": columns })
}

/// The rows a `select` returned.
pub(super) fn rows(result: &Value) -> &[Value] {
    result["rows"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The members of an OVSDB set: a bare atom is a set of one, `["set", [...]]` a set of many.
pub(super) fn set_members(value: &Value) -> Vec<&Value> {
    match value.as_array() {
        Some(pair) if pair.len() == 2 && pair[0] == "set" => {
            pair[1].as_array().map(|members| members.iter().collect()).unwrap_or_default()
        }
        _ => vec![value],
    }
}

/// The single member of an optional column (`min: 0, max: 1`), absent when the set is empty.
pub(super) fn optional(value: &Value) -> Option<&Value> {
    set_members(value).into_iter().next()
}

/// The UUID string inside `["uuid", "…"]`.
pub(super) fn uuid_of(value: &Value) -> Option<&str> {
    match value.as_array() {
        Some(pair) if pair.len() == 2 && pair[0] == "uuid" => pair[1].as_str(),
        _ => None,
    }
}

/// A `["map", [[k, v], ...]]` of strings, as a map.
pub(super) fn map_of(value: &Value) -> BTreeMap<String, String> {
    value
        .get(1)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair.get(0)?.as_str()?.into(), pair.get(1)?.as_str()?.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovsdb_notation_is_read_as_rfc_7047_writes_it() {
        let one = json!(["uuid", "36b1f1e5-9b4c-4b3e-9e5e-2b2d8c1b7d10"]);
        let many = json!(["set", [["uuid", "a"], ["uuid", "b"]]]);
        let empty = json!(["set", []]);
        assert_eq!(set_members(&one).len(), 1);
        assert_eq!(
            set_members(&many).iter().filter_map(|v| uuid_of(v)).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(optional(&empty).is_none());
        assert_eq!(optional(&json!(100)), Some(&json!(100)));
        let ids = BTreeMap::from([("pipework.vlan".to_string(), "10".to_string())]);
        assert_eq!(map(&ids), json!(["map", [["pipework.vlan", "10"]]]));
        assert_eq!(map_of(&map(&ids)), ids);
        assert_eq!(
            select("Port", "name", json!("p1"), &["tag"]),
            json!({"op": "select", "table": "Port", "where": [["name", "==", "p1"]], "columns": ["tag"]})
        );
    }
}
