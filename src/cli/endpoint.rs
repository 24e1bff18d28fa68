//! `raftkv endpoint health` and `raftkv endpoint status`, after etcdctl's commands of those
//! names, and `raftkv endpoint ready` (`/readyz`, what a container's health check runs): every
//! endpoint is asked directly and in parallel, so one slow node costs one timeout.

use std::time::{Duration, Instant};

use serde_json::json;

use super::args::WriteOut;
use super::client;
use super::context::Ctx;
use super::error::CliError;

/// How long one endpoint may take to answer `/health`, as etcdctl's command timeout: longer than
/// a node's own request timeout (3 s by default), so a node whose quorum read cannot finish says
/// why itself; a stopped node answers "connection refused" at once, a healthy one in milliseconds.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// What is asked of each endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// `GET /health`: a leader is known and a read through the quorum completes.
    Health,
    /// `GET /readyz`: a leader is known and everything committed is applied.
    Ready,
}

/// One endpoint's answer to a [`Probe`].
struct Health {
    endpoint: String,
    took: Duration,
    /// `None` when healthy, else why not.
    failure: Option<String>,
}

/// `raftkv endpoint health`: one line per endpoint, healthy ones on stdout and unhealthy ones on
/// stderr as etcdctl does; fails (exit 3) naming the unhealthy endpoints if there are any.
pub fn health(ctx: &mut Ctx) -> Result<(), CliError> {
    probe(ctx, Probe::Health)
}

/// `raftkv endpoint ready`: as `health`, asking `/readyz`; a container's health check.
pub fn ready(ctx: &mut Ctx) -> Result<(), CliError> {
    probe(ctx, Probe::Ready)
}

fn probe(ctx: &mut Ctx, probe: Probe) -> Result<(), CliError> {
    let endpoints = ctx.client.endpoints().to_vec();
    let report = healths(&endpoints, probe);
    let (good, bad) = match probe {
        Probe::Health => ("healthy: successfully read through the quorum", "unhealthy"),
        Probe::Ready => (
            "ready: a leader is known and every commit applied",
            "not ready",
        ),
    };
    if ctx.format(WriteOut::Simple) == WriteOut::Json {
        let rows: Vec<_> = report
            .iter()
            .map(|h| {
                json!({
                    "endpoint": h.endpoint,
                    "health": h.failure.is_none(),
                    "took": format!("{:?}", h.took),
                    "error": h.failure.clone().unwrap_or_default(),
                })
            })
            .collect();
        super::output::emit(format!("{}\n", json!(rows)).as_bytes());
    } else {
        for h in &report {
            match &h.failure {
                None => super::output::emit(
                    format!("{} is {good}: took = {:?}\n", h.endpoint, h.took).as_bytes(),
                ),
                Some(why) => eprintln!("{} is {bad}: {why}", h.endpoint),
            }
        }
    }
    let unhealthy: Vec<&str> = report
        .iter()
        .filter(|h| h.failure.is_some())
        .map(|h| h.endpoint.as_str())
        .collect();
    if unhealthy.is_empty() {
        Ok(())
    } else {
        Err(CliError::Unhealthy {
            endpoints: unhealthy.join(", "),
        })
    }
}

/// Asks every endpoint at once.
fn healths(endpoints: &[String], probe: Probe) -> Vec<Health> {
    let agent = client::agent(HEALTH_TIMEOUT);
    std::thread::scope(|scope| {
        let handles: Vec<_> = endpoints
            .iter()
            .map(|endpoint| {
                let agent = agent.clone();
                scope.spawn(move || ask(&agent, endpoint, probe))
            })
            .collect();
        handles
            .into_iter()
            .zip(endpoints)
            .map(|(h, endpoint)| {
                h.join().unwrap_or_else(|_| Health {
                    endpoint: endpoint.clone(),
                    took: Duration::ZERO,
                    failure: Some("panicked".into()),
                })
            })
            .collect()
    })
}

/// Asks `endpoint` for the probe's path and judges the answer: `None` when it passes, else why.
fn ask(agent: &ureq::Agent, endpoint: &str, probe: Probe) -> Health {
    let started = Instant::now();
    let path = match probe {
        Probe::Health => "/health",
        Probe::Ready => "/readyz",
    };
    let failure = match agent.get(client::url(endpoint, path)).call() {
        Err(e) => Some(client::describe(&e).0),
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_string().unwrap_or_default();
            match probe {
                Probe::Health => health_failure(status, &body),
                Probe::Ready => ready_failure(status, &body),
            }
        }
    };
    Health {
        endpoint: endpoint.to_string(),
        took: started.elapsed(),
        failure,
    }
}

/// Ready when `/readyz` answers 200; otherwise its failed checks (`[-]leader: no leader known`).
fn ready_failure(status: u16, body: &str) -> Option<String> {
    let failed: Vec<&str> = body.lines().filter(|l| l.starts_with("[-]")).collect();
    match status {
        200 => None,
        _ if failed.is_empty() => Some(format!("answered {status}")),
        _ => Some(failed.join("; ")),
    }
}

/// Healthy when `/health` answers 200 with `"health":"true"`; a 503 carries the node's reason.
fn health_failure(status: u16, body: &str) -> Option<String> {
    let body: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let said = body.as_ref().and_then(|b| b["health"].as_str());
    match (status, said) {
        (200, Some("true")) => None,
        _ => Some(
            body.as_ref()
                .and_then(|b| b["reason"].as_str())
                .filter(|r| !r.is_empty())
                .map_or_else(|| format!("answered {status}"), str::to_string),
        ),
    }
}

#[cfg(test)]
mod probe_tests {
    use super::{health_failure, ready_failure};

    #[test]
    fn readyz_failures_name_the_failed_checks() {
        assert_eq!(ready_failure(200, "readyz check passed\n"), None);
        let body = "[-]leader: no leader known\n[+]applied ok\nreadyz check failed\n";
        assert_eq!(
            ready_failure(503, body).as_deref(),
            Some("[-]leader: no leader known")
        );
        assert_eq!(ready_failure(502, "").as_deref(), Some("answered 502"));
    }

    #[test]
    fn health_needs_the_string_true_and_carries_the_reason() {
        assert_eq!(
            health_failure(200, r#"{"health":"true","reason":""}"#),
            None
        );
        let no = r#"{"health":"false","reason":"RAFT NO LEADER"}"#;
        assert_eq!(health_failure(503, no).as_deref(), Some("RAFT NO LEADER"));
        assert_eq!(
            health_failure(200, r#"{"health":true}"#).as_deref(),
            Some("answered 200")
        );
    }
}
