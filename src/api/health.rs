//! Health endpoints for load balancers, orchestrators and etcd tooling: `/livez`, `/readyz`,
//! `/health` and `/version`. None writes to the log; `/health` reads through the quorum as etcd's
//! does, the others ask the replicator only for its status.

use std::fmt::Write as _;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{ApiError, ApiState};
use crate::replicator::{Consistency, GetStatus, NodeStatus, Read};
use crate::state::Command;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/livez").route(web::get().to(livez)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/version").route(web::get().to(version)));
}

/// The node's status, or 503 when its actor is gone or too slow to answer in the request timeout.
async fn status(st: &ApiState) -> Result<NodeStatus, ApiError> {
    tokio::time::timeout(st.timeout(), st.replicator.send(GetStatus))
        .await
        .map_err(|_| ApiError::Unavailable("the node did not report its status in time".into()))?
        .map_err(|_| ApiError::Unavailable("the node is stopping".into()))
}

/// `GET /livez`: the process answers and its actor runs. Nothing about the cluster.
async fn livez(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    status(&st).await?;
    Ok(HttpResponse::Ok().json(json!({ "live": true })))
}

/// One readiness check: its name, and why it failed if it did.
struct Check {
    name: &'static str,
    failure: Option<String>,
}

/// Ready to serve: a leader is known, and this node has applied everything it knows committed
/// (so a local read sees no older state than the cluster's commit point as this node knows it).
fn readiness(s: &NodeStatus) -> [Check; 2] {
    let leader = Check {
        name: "leader",
        failure: s.leader.is_none().then(|| "no leader known".to_string()),
    };
    let applied = Check {
        name: "applied",
        failure: (s.applied_index < s.commit_index)
            .then(|| format!("{} of {}", s.applied_index, s.commit_index)),
    };
    [leader, applied]
}

/// `GET /readyz[?verbose]`: 200 when ready, 503 otherwise. With `verbose`, one line per check in
/// the Kubernetes style (`[+]leader ok`, `[-]applied: 10 of 12`) and a verdict line.
async fn readyz(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let checks = readiness(&status(&st).await?);
    let ready = checks.iter().all(|c| c.failure.is_none());
    let verbose = req
        .query_string()
        .split('&')
        .any(|p| p == "verbose" || p.starts_with("verbose="));
    let mut body = String::new();
    if verbose {
        for c in &checks {
            let _ = match &c.failure {
                None => writeln!(body, "[+]{} ok", c.name),
                Some(why) => writeln!(body, "[-]{}: {why}", c.name),
            };
        }
    } else {
        for c in &checks {
            if let Some(why) = &c.failure {
                let _ = writeln!(body, "[-]{}: {why}", c.name);
            }
        }
    }
    let verdict = if ready { "passed" } else { "failed" };
    let _ = writeln!(body, "readyz check {verdict}");
    let mut reply = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    Ok(reply.content_type("text/plain; charset=utf-8").body(body))
}

/// `GET /health[?serializable=true]`: etcd's answer, `{"health":"true","reason":""}` (200) when a
/// leader is known and a linearizable read of the key `health` completes (a ReadIndex round
/// through a majority, as etcd's check reads through the quorum), else `{"health":"false",
/// "reason":…}` (503) with `RAFT NO LEADER` or why the read failed. `serializable=true` skips
/// the quorum read, as in etcd. etcd spells the boolean as a string and always sends `reason`;
/// tools that parse its reply expect exactly that.
async fn health(st: web::Data<ApiState>, req: HttpRequest) -> HttpResponse {
    let serializable = req
        .query_string()
        .split('&')
        .any(|p| p == "serializable=true" || p == "serializable");
    let reason = match status(&st).await {
        Ok(s) if s.leader.is_none() => Some("RAFT NO LEADER".to_string()),
        Ok(_) if serializable => None,
        Ok(_) => quorum_read(&st).await.err(),
        Err(e) => Some(e.to_string()),
    };
    match reason {
        None => HttpResponse::Ok().json(json!({ "health": "true", "reason": "" })),
        Some(reason) => {
            HttpResponse::ServiceUnavailable().json(json!({ "health": "false", "reason": reason }))
        }
    }
}

/// A linearizable read of the key `health` (found or not, it proves a majority answered).
async fn quorum_read(st: &ApiState) -> Result<(), String> {
    let read = Read {
        command: Command::KvGet {
            key: "health".into(),
        },
        consistency: Consistency::Linearizable,
    };
    match tokio::time::timeout(st.timeout(), st.replicator.send(read)).await {
        Err(_) => Err("a linearizable read did not complete in the request timeout".into()),
        Ok(Err(_)) => Err("the node is stopping".into()),
        Ok(Ok(Err(e))) => Err(format!("a linearizable read failed: {e}")),
        Ok(Ok(Ok(_))) => Ok(()),
    }
}

/// `GET /version`: this build's version. etcd answers `{"etcdserver","etcdcluster"}`; we send those
/// keys too, with our version, so etcd tools that read `/version` do not choke on the reply.
async fn version() -> HttpResponse {
    let v = env!("CARGO_PKG_VERSION");
    HttpResponse::Ok().json(json!({ "raftkv": v, "etcdserver": v, "etcdcluster": v }))
}
