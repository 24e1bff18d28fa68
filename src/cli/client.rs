//! The HTTP client behind every client command: follows 307 redirects to the leader, moves on to
//! another endpoint when one is down or has no leader, retries with a short backoff, and gives up
//! at an overall deadline with one line that says what each endpoint did.
//!
//! Writes carry an exactly-once session (`Client-Id`, `Request-Seq`), so retrying one whose answer
//! was lost, or that timed out, cannot apply it twice.

use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ureq::http::{Method, Request};

use super::endpoints::host_of;
use super::error::CliError;

/// Redirects followed within one attempt (a leader change mid-request can add one hop).
const MAX_HOPS: usize = 5;
/// Rounds over every endpoint before giving up, when some endpoint is up but cannot serve yet.
const MAX_ROUNDS: u32 = 6;
/// Rounds when nothing listens anywhere: fail fast (a stopped node answers "connection refused").
const MAX_ROUNDS_ALL_REFUSED: u32 = 2;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether a call changes state: writes get a session and an "outcome unknown" on timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// One request to make: method, path with query, optional body.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    /// The path and query, starting with `/`.
    pub path: String,
    pub body: Vec<u8>,
    pub kind: Kind,
}

impl Call {
    /// A `GET` read.
    pub fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            body: Vec::new(),
            kind: Kind::Read,
        }
    }

    /// A write with `method` and `body`.
    pub fn write(method: Method, path: impl Into<String>, body: impl Into<Vec<u8>>) -> Call {
        Call {
            method,
            path: path.into(),
            body: body.into(),
            kind: Kind::Write,
        }
    }
}

/// A final answer: any status except redirects, 429, 503 and 504, which the client handles
/// itself.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `X-Version` header (a key's version on `GET /v1/kv/{key}`).
    pub version: Option<u64>,
    /// The endpoint (`host:port`) that answered.
    pub endpoint: String,
}

impl Answer {
    /// The body as JSON, or a one-line error naming the endpoint.
    pub fn json(&self) -> Result<serde_json::Value, CliError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            CliError::Local(format!("{} answered with invalid JSON: {e}", self.endpoint))
        })
    }

    /// `Ok(self)` for a 2xx answer, else the API's error as [`CliError::Answered`].
    pub fn success(self) -> Result<Answer, CliError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v[name].as_str())
                .map(str::to_string)
        };
        Err(CliError::Answered {
            code: field("error").unwrap_or_else(|| self.status.to_string()),
            message: field("message").unwrap_or_else(|| {
                format!(
                    "{} answered {}: {}",
                    self.endpoint,
                    self.status,
                    String::from_utf8_lossy(&self.body).trim()
                )
            }),
        })
    }
}

/// A client bound to a list of endpoints.
pub struct Client {
    endpoints: Vec<String>,
    agent: ureq::Agent,
    timeout: Duration,
    /// Tried first: the last endpoint that answered, or the leader a redirect named.
    preferred: Option<String>,
    client_id: u64,
    next_seq: u64,
}

/// What one attempt at one endpoint came to.
enum Attempt {
    Answer(Answer),
    /// Try elsewhere; the reason goes into the final error.
    Retry {
        reason: String,
        refused: bool,
    },
    /// The endpoint timed out: the outcome of a write is unknown.
    TimedOut {
        reason: String,
    },
}

impl Client {
    /// A client for `endpoints` (`host:port`, at least one) giving up after `timeout` per call.
    pub fn new(endpoints: Vec<String>, timeout: Duration) -> Client {
        assert!(!endpoints.is_empty(), "a client needs an endpoint");
        Client {
            endpoints,
            agent: agent(timeout),
            timeout,
            preferred: None,
            // A fresh random id per client: its writes are deduplicated by the cluster.
            client_id: rand::random::<u64>() | 1,
            next_seq: 1,
        }
    }

    /// The endpoints, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Makes `call`, following redirects and retrying as described in the module doc.
    pub fn call(&mut self, call: &Call) -> Result<Answer, CliError> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let session = (call.kind == Kind::Write).then(|| {
            let seq = self.next_seq;
            self.next_seq += 1;
            (self.client_id, seq)
        });
        let mut last: Vec<(String, String)> = Vec::new();
        let mut timed_out = false;
        let mut refused_rounds = 0;
        let mut backoff = BACKOFF_FIRST;
        for round in 0..MAX_ROUNDS {
            last.clear();
            let mut all_refused = true;
            for endpoint in self.order() {
                if Instant::now() >= deadline {
                    break;
                }
                match self.attempt(&endpoint, call, session, deadline) {
                    Attempt::Answer(answer) => {
                        self.preferred = Some(answer.endpoint.clone());
                        return Ok(answer);
                    }
                    Attempt::Retry { reason, refused } => {
                        all_refused &= refused;
                        last.push((endpoint, reason));
                    }
                    Attempt::TimedOut { reason } => {
                        all_refused = false;
                        timed_out = true;
                        last.push((endpoint, reason));
                    }
                }
            }
            refused_rounds += u32::from(all_refused);
            let now = Instant::now();
            if now >= deadline
                || refused_rounds >= MAX_ROUNDS_ALL_REFUSED
                || round + 1 == MAX_ROUNDS
            {
                break;
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        let attempts = summarize(&last);
        if timed_out || Instant::now() >= deadline {
            return Err(CliError::Timeout {
                seconds: started.elapsed().as_secs_f64(),
                outcome: match call.kind {
                    Kind::Write => "; the write may or may not have taken effect",
                    Kind::Read => "",
                },
                last: attempts,
            });
        }
        Err(CliError::NoEndpoint { attempts })
    }

    /// The preferred endpoint first, then the others in the order given.
    fn order(&self) -> Vec<String> {
        let mut order = Vec::with_capacity(self.endpoints.len() + 1);
        if let Some(p) = &self.preferred {
            order.push(p.clone());
        }
        order.extend(
            self.endpoints
                .iter()
                .filter(|e| Some(*e) != self.preferred.as_ref())
                .cloned(),
        );
        order
    }

    /// One attempt at `endpoint`, following its redirects.
    fn attempt(
        &mut self,
        endpoint: &str,
        call: &Call,
        session: Option<(u64, u64)>,
        deadline: Instant,
    ) -> Attempt {
        let mut url = url(endpoint, &call.path);
        for _ in 0..MAX_HOPS {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let reply = match self.send(&url, call, session, remaining) {
                Ok(reply) => reply,
                Err(e) => return failed(&url, &e),
            };
            match reply.answer.status {
                307 | 308 => match reply.location.as_deref().filter(|l| host_of(l).is_some()) {
                    Some(location) => {
                        // The leader's address: try it first on the next call too.
                        self.preferred = host_of(location).map(str::to_string);
                        url = location.to_string();
                    }
                    None => {
                        return Attempt::Retry {
                            reason: "redirect without a usable Location".into(),
                            refused: false,
                        }
                    }
                },
                503 => {
                    return Attempt::Retry {
                        reason: error_message(&reply.answer.body, "unavailable (503)"),
                        refused: false,
                    }
                }
                // Overloaded: nothing was done; back off and try again (the backoff doubles).
                429 => {
                    return Attempt::Retry {
                        reason: error_message(&reply.answer.body, "overloaded (429)"),
                        refused: false,
                    }
                }
                504 => {
                    return Attempt::TimedOut {
                        reason: error_message(&reply.answer.body, "timed out (504)"),
                    }
                }
                _ => return Attempt::Answer(reply.answer),
            }
        }
        Attempt::Retry {
            reason: format!("more than {MAX_HOPS} redirects"),
            refused: false,
        }
    }

    /// Sends one HTTP request, without following redirects.
    fn send(
        &self,
        url: &str,
        call: &Call,
        session: Option<(u64, u64)>,
        timeout: Duration,
    ) -> Result<Reply, ureq::Error> {
        let mut builder = Request::builder().method(call.method.clone()).uri(url);
        if let Some(value) = authorization() {
            builder = builder.header("Authorization", value);
        }
        if let Some((client_id, seq)) = session {
            builder = builder
                .header("Client-Id", client_id.to_string())
                .header("Request-Seq", seq.to_string());
        }
        let request = builder.body(call.body.clone())?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout.max(Duration::from_millis(1))))
            .build();
        let mut response = self.agent.run(request)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header("location");
        let version = header("x-version").and_then(|v| v.parse().ok());
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_vec()?;
        Ok(Reply {
            location,
            answer: Answer {
                status,
                body,
                version,
                endpoint: host_of(url).unwrap_or(url).to_string(),
            },
        })
    }
}

/// One raw HTTP reply.
struct Reply {
    location: Option<String>,
    answer: Answer,
}

/// GETs `url`, or POSTs `post_body` to it; the 200 answer's JSON.
pub fn fetch_json(
    agent: &ureq::Agent,
    url: &str,
    post_body: Option<&[u8]>,
) -> Result<serde_json::Value, String> {
    let result = match (post_body, authorization()) {
        (Some(b), Some(auth)) => agent.post(url).header("Authorization", auth).send(b),
        (Some(b), None) => agent.post(url).send(b),
        (None, Some(auth)) => agent.get(url).header("Authorization", auth).call(),
        (None, None) => agent.get(url).call(),
    };
    let mut response = result.map_err(|e| describe(&e).0)?;
    if response.status() != 200 {
        return Err(format!("answered {}", response.status()));
    }
    let body = response
        .body_mut()
        .read_to_vec()
        .map_err(|e| describe(&e).0)?;
    serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))
}

/// How the CLI reaches a cluster: plain HTTP, or TLS with the `--cacert`/`--cert`/`--key`
/// files, as `--user` or as no one. Set once, before the first request.
struct Transport {
    tls: Option<ureq::tls::TlsConfig>,
    /// The `Authorization` header for `--user`.
    authorization: Option<String>,
}

static TRANSPORT: std::sync::OnceLock<Transport> = std::sync::OnceLock::new();

/// Sets how every later request reaches the cluster (the global flags).
pub fn set_transport(g: &super::args::GlobalOpts) -> Result<(), CliError> {
    use base64::Engine;
    if g.cert.is_some() && g.cacert.is_none() {
        return Err(CliError::Usage("--cert needs --cacert".into()));
    }
    let tls = match &g.cacert {
        None => None,
        Some(ca) => {
            let cert_key = g.cert.as_deref().zip(g.key.as_deref());
            Some(crate::security::tls::ureq_tls(ca, cert_key).map_err(CliError::Usage)?)
        }
    };
    let authorization = match &g.user {
        None => None,
        Some(user) if user.contains(':') => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user)
        )),
        Some(_) => return Err(CliError::Usage("--user takes USER:PASSWORD".into())),
    };
    let _ = TRANSPORT.set(Transport { tls, authorization });
    Ok(())
}

/// The URL of `path` on `endpoint` (`host:port`): `https` once `--cacert` was given.
pub fn url(endpoint: &str, path: &str) -> String {
    let scheme = match TRANSPORT.get() {
        Some(Transport { tls: Some(_), .. }) => "https",
        _ => "http",
    };
    format!("{scheme}://{endpoint}{path}")
}

/// The `Authorization` header value for `--user`, if given.
fn authorization() -> Option<&'static str> {
    TRANSPORT.get()?.authorization.as_deref()
}

/// A keep-alive agent that returns every status as a response and never follows redirects itself.
pub fn agent(timeout: Duration) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder();
    if let Some(Transport { tls: Some(tls), .. }) = TRANSPORT.get() {
        config = config.tls_config(tls.clone());
    }
    config
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .build()
        .into()
}

/// A transport failure as an attempt, with a short reason.
fn failed(url: &str, e: &ureq::Error) -> Attempt {
    let (reason, refused) = describe(e);
    let reason = match host_of(url) {
        // Name the redirect target when it is the one that failed.
        Some(host) => format!("{reason} at {host}"),
        None => reason,
    };
    match e {
        ureq::Error::Timeout(_) => Attempt::TimedOut { reason },
        _ => Attempt::Retry { reason, refused },
    }
}

/// A short description of a transport error; `true` when nothing listens there.
pub fn describe(e: &ureq::Error) -> (String, bool) {
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            ("connection refused".into(), true)
        }
        ureq::Error::Io(io) => (io.kind().to_string(), false),
        ureq::Error::Timeout(_) => ("timed out".into(), false),
        ureq::Error::HostNotFound => ("host not found".into(), true),
        ureq::Error::ConnectionFailed => ("connection failed".into(), true),
        other => (other.to_string(), false),
    }
}

/// The `message` of a JSON error body, else `fallback`.
fn error_message(body: &[u8], fallback: &str) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| fallback.to_string())
}

/// `a: connection refused, b: no leader is known; retry shortly`.
fn summarize(last: &[(String, String)]) -> String {
    if last.is_empty() {
        return "no attempt finished in time".into();
    }
    last.iter()
        .map(|(endpoint, reason)| {
            // A reason that already names its host (a failed redirect) is not prefixed twice.
            if reason.ends_with(&format!(" at {endpoint}")) {
                format!(
                    "{endpoint}: {}",
                    reason.trim_end_matches(&format!(" at {endpoint}"))
                )
            } else {
                format!("{endpoint}: {reason}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a key may keep as is in a URL path: RFC 3986's unreserved characters, and `/` (keys may
/// nest, and the API's route takes the rest of the path as the key). Everything else is escaped,
/// `%`, `?`, `#` and `+` included, and non-ASCII as its UTF-8 bytes.
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `key` percent-encoded as the tail of a URL path (`/v1/kv/{key}`).
pub fn key_path(key: &str) -> String {
    utf8_percent_encode(key, KEY_PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_percent_encoded_except_slashes() {
        assert_eq!(key_path("my key/é?"), "my%20key/%C3%A9%3F");
        assert_eq!(key_path("plain-key_1.x~"), "plain-key_1.x~");
        assert_eq!(key_path("100%#+&="), "100%25%23%2B%26%3D");
    }

    #[test]
    fn a_summary_names_each_endpoint_once() {
        let last = vec![
            ("a:1".to_string(), "connection refused at a:1".to_string()),
            ("b:2".to_string(), "connection refused at c:3".to_string()),
        ];
        assert_eq!(
            summarize(&last),
            "a:1: connection refused, b:2: connection refused at c:3"
        );
    }

    #[test]
    fn an_error_answer_carries_the_api_code_and_message() {
        let answer = Answer {
            status: 404,
            body: br#"{"error":"not_found","message":"key \"k\" not found"}"#.to_vec(),
            version: None,
            endpoint: "a:1".into(),
        };
        match answer.success() {
            Err(CliError::Answered { code, message }) => {
                assert_eq!(code, "not_found");
                assert_eq!(message, "key \"k\" not found");
            }
            other => panic!("expected an answered error, got {other:?}"),
        }
    }

    #[test]
    fn nothing_listening_fails_fast_with_every_endpoint_named() {
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .expect("a free port")
            })
            .collect();
        let endpoints: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut client = Client::new(endpoints.clone(), Duration::from_secs(10));
        let started = Instant::now();
        let err = client.call(&Call::get("/v1/status")).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let text = err.to_string();
        for e in &endpoints {
            assert!(text.contains(&format!("{e}: connection refused")), "{text}");
        }
        assert_eq!(err.exit_code(), super::super::error::EXIT_UNAVAILABLE);
    }
}
