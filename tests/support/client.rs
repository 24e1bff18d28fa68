//! A blocking HTTP client that behaves like a careful user of the cluster: it talks to a random
//! node, follows redirects to the leader, retries a write under the same exactly-once session
//! (`Client-Id`, `Request-Seq`) until it gets a definite answer, and knows which failures leave
//! the outcome unknown.
#![allow(dead_code)]

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::config::REQUEST_TIMEOUT_MS;
use super::Reply;

/// Redirect hops followed before trying another node.
const MAX_REDIRECTS: usize = 5;

/// How a request chain ended.
#[derive(Debug)]
pub enum Outcome {
    /// An answer that states the result (200, or a replicated 404/409 such as "not found" or
    /// "stack empty").
    Done(Reply),
    /// Definitely no effect: every attempt was refused before it could take effect (connection
    /// refused, no leader, busy, redirected).
    NoEffect(String),
    /// Some attempt may have taken effect (timeout, lost connection, dropped by a leader
    /// change): the outcome is unknown.
    Unknown(String),
}

/// One HTTP exchange's result.
#[derive(Debug)]
pub enum Attempt {
    Answer(Reply),
    /// Nothing was sent: the connection was refused.
    Refused,
    /// Sent, or maybe sent, then lost.
    Lost(String),
}

/// One request, described once and replayed on every attempt.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// `(client_id, seq)` for writes; `None` for reads.
    pub session: Option<(u64, u64)>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Call {
        Call {
            method: "GET",
            path: path.into(),
            body: None,
            session: None,
        }
    }

    pub fn write(method: &'static str, path: impl Into<String>, body: Option<Vec<u8>>) -> Call {
        Call {
            method,
            path: path.into(),
            body,
            session: None,
        }
    }
}

/// A client of one cluster. Not shared between threads: each test client owns one.
pub struct Client {
    /// `http://127.0.0.1:<port>` of node 1, 2, ….
    pub bases: Vec<String>,
    /// This client's exactly-once id.
    pub id: u64,
    seq: u64,
    agent: ureq::Agent,
    pub rng: StdRng,
}

/// An agent that reports every status as an answer, follows no redirect by itself, and gives up
/// on a request a little after the node's own request timeout (so the node's 504 comes first).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_millis(REQUEST_TIMEOUT_MS + 2000)))
        .build()
        .into()
}

/// Sends one request to an absolute URL.
pub fn attempt(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, String)],
) -> Attempt {
    let result = match method {
        "GET" | "DELETE" => {
            let mut req = if method == "GET" {
                agent.get(url)
            } else {
                agent.delete(url)
            };
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.call()
        }
        _ => {
            let mut req = match method {
                "PUT" => agent.put(url),
                "POST" => agent.post(url),
                other => panic!("unsupported method {other}"),
            };
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.send(body.unwrap_or(b""))
        }
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Io(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            return Attempt::Refused
        }
        Err(e) => return Attempt::Lost(e.to_string()),
    };
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match resp.body_mut().read_to_string() {
        Ok(body) => Attempt::Answer(Reply {
            status,
            body,
            location,
        }),
        Err(e) => Attempt::Lost(format!("reading the body: {e}")),
    }
}

/// The `error` code of a JSON error body, if any.
pub fn error_code(reply: &Reply) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()?
        .get("error")?
        .as_str()
        .map(str::to_string)
}

impl Client {
    /// A client of the nodes at `http_addrs` (`127.0.0.1:port`, node 1 first).
    pub fn new(id: u64, http_addrs: &[String], seed: u64) -> Client {
        Client {
            bases: http_addrs.iter().map(|a| format!("http://{a}")).collect(),
            id,
            seq: 0,
            agent: agent(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The next exactly-once session of this client.
    pub fn next_session(&mut self) -> (u64, u64) {
        self.seq += 1;
        (self.id, self.seq)
    }

    /// Node ids this client may talk to, chosen at random each attempt.
    pub fn random_node(&mut self, nodes: &[u64]) -> u64 {
        nodes[self.rng.random_range(0..nodes.len())]
    }

    fn headers(call: &Call) -> Vec<(&'static str, String)> {
        match call.session {
            Some((client, seq)) => vec![
                ("Client-Id", client.to_string()),
                ("Request-Seq", seq.to_string()),
            ],
            None => Vec::new(),
        }
    }

    /// Sends `call` to node `node`, following redirects, once (no retry on failure). Returns the
    /// final exchange and the node that gave it.
    pub fn once(&mut self, node: u64, call: &Call) -> Attempt {
        let headers = Self::headers(call);
        let mut url = format!("{}{}", self.bases[node as usize - 1], call.path);
        for _ in 0..MAX_REDIRECTS {
            let got = attempt(
                &self.agent,
                call.method,
                &url,
                call.body.as_deref(),
                &headers,
            );
            match got {
                Attempt::Answer(Reply {
                    status: 307 | 308,
                    location: Some(location),
                    ..
                }) => url = location,
                other => return other,
            }
        }
        Attempt::Lost("too many redirects".into())
    }

    /// Performs `call` against random nodes among `nodes` until a definite answer or `patience`
    /// runs out. A write keeps its session across attempts, so a retry of a write that did take
    /// effect is answered from the session cache instead of applying twice.
    pub fn perform(&mut self, nodes: &[u64], call: &Call, patience: Duration) -> Outcome {
        let deadline = Instant::now() + patience;
        let mut unknown: Option<String> = None;
        let mut last = String::new();
        while Instant::now() < deadline {
            let node = self.random_node(nodes);
            match self.once(node, call) {
                Attempt::Answer(reply) => match (reply.status, error_code(&reply).as_deref()) {
                    (200 | 404, _) | (409, Some("stack_empty" | "version_mismatch")) => {
                        return Outcome::Done(reply)
                    }
                    (409, Some("stale_request")) => {
                        panic!("a retry was refused as stale: {call:?} -> {reply:?}")
                    }
                    (503, Some("no_leader")) | (429, Some("overloaded")) | (307 | 308, _) => {
                        last = format!("{}: {}", reply.status, reply.body);
                        self.pause();
                    }
                    (503 | 504, _) => {
                        // Timed out, dropped by a leader change, or the node is stopping: the
                        // entry may still be committed.
                        unknown = Some(format!("{}: {}", reply.status, reply.body));
                        self.pause();
                    }
                    _ => panic!("unexpected answer to {call:?} from node {node}: {reply:?}"),
                },
                Attempt::Refused => {
                    last = format!("node {node} refused the connection");
                    self.pause();
                }
                Attempt::Lost(why) => {
                    unknown = Some(why);
                    self.pause();
                }
            }
        }
        match unknown {
            Some(why) => Outcome::Unknown(why),
            None => Outcome::NoEffect(last),
        }
    }

    /// A short random pause before retrying, so clients do not retry in lockstep.
    fn pause(&mut self) {
        let ms = self.rng.random_range(10..40);
        std::thread::sleep(Duration::from_millis(ms));
    }
}
