//! Status, membership, whole-state and metrics endpoints, and the test-only fault switch.

use std::fmt::Write as _;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{ApiError, ApiState, ResponseCounters};
use crate::replicator::{GetFaults, GetMetrics, GetState, GetStatus, Metrics};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/status").route(web::get().to(status)))
        .service(web::resource("/v1/state").route(web::get().to(state)))
        .service(web::resource("/metrics").route(web::get().to(metrics)))
        .service(web::resource("/v1/test/isolate").route(web::post().to(isolate)))
        .service(web::resource("/v1/test/heal").route(web::post().to(heal)));
}

fn stopping<E>(_: E) -> ApiError {
    ApiError::Unavailable("the node is stopping".into())
}

async fn status(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let status = st.replicator.send(GetStatus).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(status))
}

async fn state(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let state = st.replicator.send(GetState).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(state))
}

/// `POST /v1/test/isolate`: drop all raft traffic to and from every peer, as a partition would.
/// Only with `test_faults = true`; otherwise the route does not exist (404).
async fn isolate(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let faults = test_faults(&st, &req).await?;
    faults.isolate();
    log::warn!("node {}: isolated from every peer (test fault)", st.id);
    Ok(HttpResponse::Ok().json(json!({ "isolated": true })))
}

/// `POST /v1/test/heal`: let raft traffic with every peer flow again (same condition as above).
async fn heal(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let faults = test_faults(&st, &req).await?;
    faults.heal();
    log::warn!("node {}: healed (test fault)", st.id);
    Ok(HttpResponse::Ok().json(json!({ "isolated": false })))
}

/// The fault switch, or the unknown-route 404 when the config does not enable it.
async fn test_faults(st: &ApiState, req: &HttpRequest) -> Result<crate::cluster::Faults, ApiError> {
    st.replicator
        .send(GetFaults)
        .await
        .map_err(stopping)?
        .ok_or_else(|| ApiError::UnknownRoute {
            method: req.method().to_string(),
            path: req.path().to_string(),
        })
}

async fn metrics(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let m = st.replicator.send(GetMetrics).await.map_err(stopping)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(prometheus_text(st.id, &m, &st.responses)))
}

/// Renders metrics in the Prometheus text exposition format.
fn prometheus_text(id: u64, m: &Metrics, responses: &ResponseCounters) -> String {
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(s, "# HELP raftkv_{name} {help}");
        let _ = writeln!(s, "# TYPE raftkv_{name} {kind}");
        let _ = writeln!(s, "raftkv_{name}{{node=\"{id}\"}} {value}");
    };
    metric("term", "gauge", "Current Raft term.", m.term);
    metric(
        "is_leader",
        "gauge",
        "1 if this node leads.",
        m.is_leader as u64,
    );
    metric(
        "commit_index",
        "gauge",
        "Highest committed index.",
        m.commit_index,
    );
    metric(
        "applied_index",
        "gauge",
        "Highest applied index.",
        m.applied_index,
    );
    metric(
        "proposals_total",
        "counter",
        "Proposals accepted by the leader.",
        m.proposals_total,
    );
    metric(
        "proposals_failed_total",
        "counter",
        "Proposals refused or lost.",
        m.proposals_failed_total,
    );
    metric("reads_total", "counter", "Reads served.", m.reads_total);
    metric(
        "messages_sent_total",
        "counter",
        "Raft messages sent.",
        m.messages_sent_total,
    );
    metric(
        "messages_received_total",
        "counter",
        "Raft messages received.",
        m.messages_received_total,
    );
    metric(
        "messages_dropped_total",
        "counter",
        "Raft messages dropped (full queues, bad frames, unknown senders).",
        m.messages_dropped_total,
    );
    metric(
        "leader_changes_total",
        "counter",
        "Leader changes seen.",
        m.leader_changes_total,
    );
    metric(
        "elections_started_total",
        "counter",
        "Campaigns this node started (pre-votes, or candidacies on TimeoutNow).",
        m.elections_started_total,
    );
    metric(
        "election_timeouts_total",
        "counter",
        "Campaigns begun by an election timeout rather than a leadership transfer.",
        m.election_timeouts_total,
    );
    metric(
        "snapshots_total",
        "counter",
        "Snapshots this node wrote of its state machine.",
        m.snapshots_total,
    );
    metric(
        "snapshot_failures_total",
        "counter",
        "Snapshot writes that failed (the log was left uncompacted).",
        m.snapshot_failures_total,
    );
    metric(
        "snapshots_installed_total",
        "counter",
        "Snapshots received from a leader and installed.",
        m.snapshots_installed_total,
    );
    metric(
        "snapshot_index",
        "gauge",
        "The index of the newest snapshot held (0: none).",
        m.snapshot_index,
    );
    metric(
        "log_first_index",
        "gauge",
        "The first log index held in memory; entries before it were compacted.",
        m.log_first_index,
    );
    let _ = writeln!(
        s,
        "# HELP raftkv_messages_dropped_by_reason_total Raft messages dropped, by reason."
    );
    let _ = writeln!(s, "# TYPE raftkv_messages_dropped_by_reason_total counter");
    for (reason, count) in &m.messages_dropped_by_reason {
        let _ = writeln!(
            s,
            "raftkv_messages_dropped_by_reason_total{{node=\"{id}\",reason=\"{reason}\"}} {count}"
        );
    }
    let _ = writeln!(
        s,
        "# HELP raftkv_raft_port_connections_closed_total Raft-port connections the guard closed, by reason."
    );
    let _ = writeln!(
        s,
        "# TYPE raftkv_raft_port_connections_closed_total counter"
    );
    for (reason, count) in &m.raft_port_connections_closed_by_reason {
        let _ = writeln!(
            s,
            "raftkv_raft_port_connections_closed_total{{node=\"{id}\",reason=\"{reason}\"}} {count}"
        );
    }
    let _ = writeln!(
        s,
        "# HELP raftkv_fsync_latency_us Log fsync latency in microseconds."
    );
    let _ = writeln!(s, "# TYPE raftkv_fsync_latency_us histogram");
    let mut cumulative = 0;
    for (le, count) in &m.fsync_latency_us_buckets {
        cumulative += count;
        let _ = writeln!(
            s,
            "raftkv_fsync_latency_us_bucket{{node=\"{id}\",le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        s,
        "raftkv_fsync_latency_us_bucket{{node=\"{id}\",le=\"+Inf\"}} {}",
        m.fsync_total
    );
    let _ = writeln!(
        s,
        "raftkv_fsync_latency_us_sum{{node=\"{id}\"}} {}",
        m.fsync_latency_us_sum
    );
    let _ = writeln!(
        s,
        "raftkv_fsync_latency_us_count{{node=\"{id}\"}} {}",
        m.fsync_total
    );
    responses.render(id, &mut s);
    s
}
