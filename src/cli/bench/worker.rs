//! One bench client: a thread with its own keep-alive connection, issuing requests back to back and
//! recording each latency in its own histogram (merged at the end, so threads never contend).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::backoff::Backoff;
use super::target::{redirect_host, Op, Verb, Wire};
use crate::cli::args::BenchOp;
use crate::cli::client;

/// Latencies are recorded in microseconds, up to a minute, with 3 significant digits.
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// Pause after a transport error, so a dead server is not hammered in a tight loop.
const ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Per-request bound: a stuck request counts as an error instead of stalling the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Overload answers one preloaded key may get before it counts as failed (about 5 s of waits).
const PRELOAD_REFUSALS_MAX: u32 = 50;

/// Counters every worker updates and the progress printer reads.
#[derive(Debug, Default)]
pub struct Shared {
    pub stop: AtomicBool,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    /// Attempts the server turned away as overloaded and that were tried again (not errors).
    pub retries: AtomicU64,
}

/// What one worker measured.
pub struct Measured {
    pub latency_us: Histogram<u64>,
    /// The last failure seen, to explain an error count.
    pub last_error: Option<String>,
    /// The last overload answer seen, to explain a retry count.
    pub last_refusal: Option<String>,
}

/// A new empty latency histogram.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("constant histogram bounds are valid")
}

/// Runs `op` requests against `leader` until `shared.stop`; `seed` spreads the keys differently
/// per worker.
///
/// An operation the server turns away as overloaded is sent again after a [`Backoff`] wait, until
/// it gets a final answer or the run stops (then it is dropped, counted neither way). Its latency
/// runs from the first attempt to the final answer, waits included: what a caller would see.
pub fn run(wire: &Wire, leader: &str, op: BenchOp, shared: &Shared, seed: u64) -> Measured {
    let agent = client::agent(REQUEST_TIMEOUT);
    let mut host = leader.to_string();
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut measured = Measured {
        latency_us: histogram(),
        last_error: None,
        last_refusal: None,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let key = rng.next() % wire.key_count();
        let is_put = match op {
            BenchOp::Put => true,
            BenchOp::Get => false,
            BenchOp::Mixed => rng.next() & 1 == 0,
        };
        let started = Instant::now();
        let mut backoff = Backoff::default();
        loop {
            let request = if is_put {
                wire.put(&host, key)
            } else {
                wire.get(&host, key)
            };
            let reply = match send(&agent, &request) {
                Ok(reply) => reply,
                Err(e) => {
                    fail(shared, &mut measured, client::describe(&e).0);
                    std::thread::sleep(ERROR_PAUSE);
                    break;
                }
            };
            if let Some(refusal) = overload(reply.status, &reply.body) {
                shared.retries.fetch_add(1, Ordering::Relaxed);
                measured.last_refusal = Some(refusal);
                std::thread::sleep(backoff.next_wait(rng.next()));
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            match reply.status {
                200 => {
                    let us = started.elapsed().as_micros() as u64;
                    measured
                        .latency_us
                        .saturating_record(us.clamp(1, LATENCY_US_MAX));
                    shared.ok.fetch_add(1, Ordering::Relaxed);
                }
                307 | 308 => match redirect_host(reply.location.as_deref()) {
                    // The leader moved: follow it for the rest of the run.
                    Some(leader) => host = leader,
                    None => fail(shared, &mut measured, "redirect without Location".into()),
                },
                status => fail(shared, &mut measured, format!("answered {status}")),
            }
            break;
        }
    }
    measured
}

/// Whether an answer means "overloaded, try again shortly": 429 (any body) or 503 `busy`; `Some`
/// names it. Other 503s (`no_leader`, `unavailable`) stay errors: waiting out an election is not
/// what a load test measures.
fn overload(status: u16, body: &[u8]) -> Option<String> {
    match status {
        429 => Some("overloaded (429)".into()),
        503 if error_code(body).as_deref() == Some("busy") => Some("busy (503)".into()),
        _ => None,
    }
}

/// The `error` field of a JSON error body.
fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"].as_str().map(str::to_string)
}

/// Puts every key in `keys` once (before a read benchmark); returns the failures. Follows one
/// redirect (the leader may have moved since discovery) and waits out overload answers, up to
/// [`PRELOAD_REFUSALS_MAX`] per key.
pub fn preload(wire: &Wire, leader: &str, keys: std::ops::Range<u64>) -> u64 {
    let agent = client::agent(REQUEST_TIMEOUT);
    let mut rng = XorShift(keys.start.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut host = leader.to_string();
    let mut failures = 0;
    for key in keys {
        let (mut redirects, mut backoff) = (0, Backoff::default());
        for refusals in 0.. {
            match send(&agent, &wire.put(&host, key)) {
                Ok(reply) if reply.status == 200 => break,
                Ok(reply) if matches!(reply.status, 307 | 308) && redirects == 0 => {
                    match redirect_host(reply.location.as_deref()) {
                        Some(leader) => host = leader,
                        None => {
                            failures += 1;
                            break;
                        }
                    }
                    redirects += 1;
                }
                Ok(reply)
                    if refusals < PRELOAD_REFUSALS_MAX
                        && overload(reply.status, &reply.body).is_some() =>
                {
                    std::thread::sleep(backoff.next_wait(rng.next()));
                }
                _ => {
                    failures += 1;
                    break;
                }
            }
        }
    }
    failures
}

fn fail(shared: &Shared, measured: &mut Measured, reason: String) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    measured.last_error = Some(reason);
}

/// An answer: its status, `Location` header and body.
struct Reply {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// Sends one request and reads its whole body (so the connection is reused).
fn send(agent: &ureq::Agent, op: &Op<'_>) -> Result<Reply, ureq::Error> {
    let mut response = match op.verb {
        Verb::Get => agent.get(&op.url).call()?,
        Verb::Put => agent.put(&op.url).send(&op.body[..])?,
        Verb::Post => agent
            .post(&op.url)
            .header("Content-Type", "application/json")
            .send(&op.body[..])?,
    };
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.body_mut().read_to_vec()?;
    Ok(Reply {
        status,
        location,
        body,
    })
}

/// xorshift64: key choice needs speed and spread, not quality.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_or_a_busy_503_is_overload_and_other_answers_are_not() {
        assert!(overload(429, br#"{"error":"overloaded","message":"m"}"#).is_some());
        assert!(overload(429, b"not json").is_some());
        assert!(overload(503, br#"{"error":"busy","message":"m"}"#).is_some());
        assert_eq!(
            overload(503, br#"{"error":"no_leader","message":"m"}"#),
            None
        );
        assert_eq!(overload(503, b""), None);
        assert_eq!(overload(504, br#"{"error":"timeout"}"#), None);
        assert_eq!(overload(200, b"busy"), None);
    }
}
