//! Status, membership, whole-state and metrics endpoints.

use std::fmt::Write as _;

use actix_web::{web, HttpResponse};

use super::{ApiError, ApiState};
use crate::replicator::{GetMembers, GetMetrics, GetState, GetStatus, Metrics};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/status").route(web::get().to(status)))
        .service(web::resource("/v1/members").route(web::get().to(members)))
        .service(web::resource("/v1/state").route(web::get().to(state)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

fn stopping<E>(_: E) -> ApiError {
    ApiError::Unavailable("the node is stopping".into())
}

async fn status(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let status = st.replicator.send(GetStatus).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(status))
}

async fn members(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let members = st.replicator.send(GetMembers).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(members))
}

async fn state(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let state = st.replicator.send(GetState).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(state))
}

async fn metrics(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let m = st.replicator.send(GetMetrics).await.map_err(stopping)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(prometheus_text(st.id, &m)))
}

/// Renders metrics in the Prometheus text exposition format.
fn prometheus_text(id: u64, m: &Metrics) -> String {
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
    s
}
