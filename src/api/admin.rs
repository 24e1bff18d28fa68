//! Status, membership, whole-state and metrics endpoints, and the test-only fault switch.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{ApiError, ApiState};
use crate::replicator::{GetFaults, GetMetrics, GetState, GetStatus};

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

async fn state(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    st.require_root(&req).await?;
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

/// `GET /metrics`: every series of the node in the Prometheus text format; the replicator sets
/// the gauges that copy its state first.
async fn metrics(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let metrics = st.replicator.send(GetMetrics).await.map_err(stopping)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(metrics.encode()))
}
