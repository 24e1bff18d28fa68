//! The chaos clients: each a thread sending one request at a time to a random node (followers
//! forward to the leader), over the keys `chaos-0` … : reads (with the version that wrote the
//! value), writes of values no one wrote before, and compare-and-sets against the version this
//! client last read. Every attempt is recorded once, never retried: a refusal as failed, a
//! timeout or a lost connection as indeterminate.
//!
//! The HTTP API's compare-and-set compares versions, the checker's model values. Since every
//! value is written once, a version names exactly one value, so "if the version is still V"
//! is "if the value is still the one read at V", which is what the history records.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use raftkv_lincheck::{KvInput, KvOutput};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::history::{Op, Outcome, Recorder};
use crate::cli::args::ChaosArgs;

/// Longer than a node's request timeout (3 s by default), so its own 504 comes first.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Between two requests of one client: keeps the history small enough to check.
const THINK: Duration = Duration::from_millis(10);

/// Starts `args.clients` client threads; each runs until `stop` is set.
pub fn spawn(
    nodes: &[(u64, String)],
    args: &ChaosArgs,
    seed: u64,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    (0..args.clients as u64)
        .map(|client| {
            let client = Client {
                id: client + 1,
                nodes: nodes.to_vec(),
                keys: args.keys.max(1),
                rng: StdRng::seed_from_u64(seed.wrapping_add(client + 1)),
                agent: crate::cli::client::agent(CLIENT_TIMEOUT),
                seen: BTreeMap::new(),
                written: 0,
                recorder: recorder.clone(),
            };
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || client.run(&stop))
        })
        .collect()
}

struct Client {
    id: u64,
    nodes: Vec<(u64, String)>,
    keys: usize,
    rng: StdRng,
    agent: ureq::Agent,
    /// The last (value, version) this client read per key; `None`: the key was absent.
    seen: BTreeMap<String, Option<(String, u64)>>,
    written: u64,
    recorder: Recorder,
}

/// One HTTP exchange: the status and body, or why there is none (and whether it was refused
/// before anything was sent).
enum Reply {
    Answer(u16, String),
    Refused(String),
    Lost(String),
}

impl Client {
    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let key = format!("chaos-{}", self.rng.random_range(0..self.keys));
            let roll = self.rng.random_range(0..10);
            match (roll, self.seen.get(&key).cloned()) {
                (0..4, _) => self.read(&key),
                (4..8, _) | (_, None) => self.write(&key),
                (_, Some(seen)) => self.cas(&key, seen),
            }
            std::thread::sleep(THINK);
        }
    }

    fn send(&mut self, method: &str, path: &str, body: Option<String>) -> (u64, Reply) {
        let (node, addr) = self.nodes[self.rng.random_range(0..self.nodes.len())].clone();
        let url = format!("http://{addr}{path}");
        let result = match body {
            None => self.agent.get(&url).call(),
            Some(body) if method == "PUT" => self.agent.put(&url).send(body),
            Some(body) => self.agent.post(&url).send(body),
        };
        let reply = match result {
            Ok(mut r) => Reply::Answer(
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            ),
            Err(ureq::Error::Io(e)) if e.kind() == ErrorKind::ConnectionRefused => {
                Reply::Refused("connection refused".into())
            }
            Err(ureq::Error::ConnectionFailed) => Reply::Refused("connection failed".into()),
            Err(e) => Reply::Lost(e.to_string()),
        };
        (node, reply)
    }

    fn record(
        &self,
        node: u64,
        call_ms: f64,
        input: KvInput<String, String>,
        result: Result<KvOutput<String>, (Outcome, String)>,
    ) {
        let (output, outcome, error) = match result {
            Ok(output) => (Some(output), Outcome::Ok, None),
            Err((outcome, why)) => (None, outcome, Some(why)),
        };
        self.recorder.op(Op {
            client: self.id,
            node,
            call_ms,
            ret_ms: self.recorder.now_ms(),
            input,
            output,
            outcome,
            error,
        });
    }

    fn read(&mut self, key: &str) {
        let call_ms = self.recorder.now_ms();
        let (node, reply) = self.send("GET", &format!("/v1/kv/{key}?meta=true"), None);
        let result = match reply {
            Reply::Answer(200, body) => match parse_meta(&body) {
                Some((value, version)) => {
                    self.seen
                        .insert(key.to_string(), Some((value.clone(), version)));
                    Ok(KvOutput::Value(Some(value)))
                }
                None => Err((Outcome::Failed, format!("unreadable answer {body}"))),
            },
            Reply::Answer(404, _) => {
                self.seen.insert(key.to_string(), None);
                Ok(KvOutput::Value(None))
            }
            // A read changes nothing: one that did not answer is simply left out.
            other => Err((Outcome::Failed, describe(&other))),
        };
        let input = KvInput::Get {
            key: key.to_string(),
        };
        self.record(node, call_ms, input, result);
    }

    fn write(&mut self, key: &str) {
        self.written += 1;
        let value = format!("c{}-{}", self.id, self.written);
        let call_ms = self.recorder.now_ms();
        let (node, reply) = self.send("PUT", &format!("/v1/kv/{key}"), Some(value.clone()));
        let result = match reply {
            Reply::Answer(200, _) => Ok(KvOutput::Done),
            other => Err(classify(&other)),
        };
        let input = KvInput::Put {
            key: key.to_string(),
            value,
        };
        self.record(node, call_ms, input, result);
    }

    fn cas(&mut self, key: &str, seen: Option<(String, u64)>) {
        self.written += 1;
        let new = format!("c{}-{}", self.id, self.written);
        let (expected, version) = match seen {
            Some((value, version)) => (Some(value), version),
            None => (None, 0),
        };
        let call_ms = self.recorder.now_ms();
        let path = format!("/v1/kv/{key}?if_version={version}");
        let (node, reply) = self.send("PUT", &path, Some(new.clone()));
        let result = match reply {
            Reply::Answer(200, _) => Ok(KvOutput::Swapped(true)),
            Reply::Answer(409, ref body) if body.contains("version_mismatch") => {
                Ok(KvOutput::Swapped(false))
            }
            other => Err(classify(&other)),
        };
        let input = KvInput::Cas {
            key: key.to_string(),
            expected,
            new,
        };
        self.record(node, call_ms, input, result);
    }
}

/// The value and version of a `?meta=true` answer.
fn parse_meta(body: &str) -> Option<(String, u64)> {
    let meta: serde_json::Value = serde_json::from_str(body).ok()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(meta["value_base64"].as_str()?)
        .ok()?;
    Some((String::from_utf8(bytes).ok()?, meta["version"].as_u64()?))
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Answer(status, body) => format!("{status}: {}", body.trim()),
        Reply::Refused(why) | Reply::Lost(why) => why.clone(),
    }
}

/// Whether a write that got no success may have taken effect. Refused connections, "no leader"
/// and "overloaded" are refusals before the entry was proposed; anything else (a timeout, a
/// leader change while waiting, a lost connection) may have been committed.
fn classify(reply: &Reply) -> (Outcome, String) {
    let why = describe(reply);
    let refused = match reply {
        Reply::Refused(_) => true,
        Reply::Answer(503, body) => body.contains("no_leader"),
        Reply::Answer(429, _) => true,
        Reply::Answer(400..=499, _) => true,
        _ => false,
    };
    if refused {
        (Outcome::Failed, why)
    } else {
        (Outcome::Unknown, why)
    }
}
