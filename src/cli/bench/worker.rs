//! One bench client: a thread with its own keep-alive connection, issuing requests back to back and
//! recording each latency in its own histogram (merged at the end, so threads never contend).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::target::{redirect_host, Op, Verb, Wire};
use crate::cli::args::BenchOp;
use crate::cli::client;

/// Latencies are recorded in microseconds, up to a minute, with 3 significant digits.
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// Pause after a transport error, so a dead server is not hammered in a tight loop.
const ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Per-request bound: a stuck request counts as an error instead of stalling the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Counters every worker updates and the progress printer reads.
#[derive(Debug, Default)]
pub struct Shared {
    pub stop: AtomicBool,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
}

/// What one worker measured.
pub struct Measured {
    pub latency_us: Histogram<u64>,
    /// The last failure seen, to explain an error count.
    pub last_error: Option<String>,
}

/// A new empty latency histogram.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("constant histogram bounds are valid")
}

/// Runs `op` requests against `leader` until `shared.stop`; `seed` spreads the keys differently
/// per worker.
pub fn run(wire: &Wire, leader: &str, op: BenchOp, shared: &Shared, seed: u64) -> Measured {
    let agent = client::agent(REQUEST_TIMEOUT);
    let mut host = leader.to_string();
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut measured = Measured {
        latency_us: histogram(),
        last_error: None,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let key = rng.next() % wire.key_count();
        let is_put = match op {
            BenchOp::Put => true,
            BenchOp::Get => false,
            BenchOp::Mixed => rng.next() & 1 == 0,
        };
        let request = if is_put {
            wire.put(&host, key)
        } else {
            wire.get(&host, key)
        };
        let started = Instant::now();
        match send(&agent, &request) {
            Ok((200, _)) => {
                let us = started.elapsed().as_micros() as u64;
                measured
                    .latency_us
                    .saturating_record(us.clamp(1, LATENCY_US_MAX));
                shared.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok((307 | 308, location)) => match redirect_host(location.as_deref()) {
                // The leader moved: follow it for the rest of the run.
                Some(leader) => host = leader,
                None => fail(shared, &mut measured, "redirect without Location".into()),
            },
            Ok((status, _)) => fail(shared, &mut measured, format!("answered {status}")),
            Err(e) => {
                fail(shared, &mut measured, client::describe(&e).0);
                std::thread::sleep(ERROR_PAUSE);
            }
        }
    }
    measured
}

/// Puts every key in `keys` once (before a read benchmark); returns the failures.
pub fn preload(wire: &Wire, leader: &str, keys: std::ops::Range<u64>) -> u64 {
    let agent = client::agent(REQUEST_TIMEOUT);
    let mut failures = 0;
    for key in keys {
        let mut host = leader.to_string();
        // One redirect at most: the leader may have moved since discovery.
        for _ in 0..2 {
            match send(&agent, &wire.put(&host, key)) {
                Ok((200, _)) => break,
                Ok((307 | 308, location)) if redirect_host(location.as_deref()).is_some() => {
                    host = redirect_host(location.as_deref()).unwrap_or(host);
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

/// Sends one request and drains its body (so the connection is reused); status and `Location`.
fn send(agent: &ureq::Agent, op: &Op<'_>) -> Result<(u16, Option<String>), ureq::Error> {
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
    response.body_mut().read_to_vec()?;
    Ok((status, location))
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
