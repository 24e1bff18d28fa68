//! `/v1/members` and `/v1/leader/transfer`: membership changes and leadership transfer.
//!
//! - `GET /v1/members`: the configuration in effect on this node, with addresses and learners.
//! - `POST /v1/members` `{"id", "raft", "http", "text"?, "grpc"?, "learner"?}`: adds a node as a
//!   learner; unless `learner` is true the leader promotes it once it has caught up.
//! - `DELETE /v1/members/{id}`, `POST /v1/members/{id}/promote`.
//! - `POST /v1/leader/transfer` `{"to"?}`: hands leadership to `to` (default: the most
//!   up-to-date voter) and answers once another node leads.
//!
//! Changes go to the leader (a follower forwards them, or answers 307: see `forward`); each
//! answers once applied on the node that took it, with the members after it. A change still in progress answers 503 with
//! `Retry-After`; one that makes no sense answers 400.

use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{parse_id, parse_json, read_body, ApiError, ApiState};
use crate::replicator::members::MemberAddrs;
use crate::replicator::{
    ChangeMembership, ClientError, GetMembers, GetStatus, MemberChange, TransferLeadership,
};

/// Request bodies here are a few addresses.
pub const BODY_LIMIT_BYTES: usize = 4096;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/members")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(web::resource("/v1/members/{id}").route(web::delete().to(remove)))
    .service(web::resource("/v1/members/{id}/promote").route(web::post().to(promote)))
    .service(web::resource("/v1/leader/transfer").route(web::post().to(transfer)));
}

fn stopping<E>(_: E) -> ApiError {
    ApiError::Unavailable("the node is stopping".into())
}

async fn list(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let members = st.replicator.send(GetMembers).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(members))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    id: u64,
    raft: String,
    http: String,
    text: Option<String>,
    grpc: Option<String>,
    #[serde(default)]
    learner: bool,
}

/// Checks `host:port` with a non-zero port, naming the field.
fn address(field: &str, text: &str) -> Result<String, ApiError> {
    crate::config::Address::parse(text)
        .map(|a| a.to_string())
        .map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
}

/// The change `POST /v1/members` asks for with `body`, its addresses checked.
pub fn add_change(body: &[u8]) -> Result<MemberChange, ApiError> {
    let b: AddBody = parse_json(body)?;
    let member = MemberAddrs {
        id: b.id,
        raft: address("raft", &b.raft)?,
        http: address("http", &b.http)?,
        text: b.text.as_deref().map(|t| address("text", t)).transpose()?,
        grpc: b.grpc.as_deref().map(|g| address("grpc", g)).transpose()?,
        promote: false,
    };
    Ok(MemberChange::Add {
        member,
        learner: b.learner,
    })
}

async fn add(
    st: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(body, BODY_LIMIT_BYTES).await?;
    let change = add_change(&body)?;
    change_then_list(&st, &req, change).await
}

async fn remove(
    st: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    change_then_list(&st, &req, MemberChange::Remove(id)).await
}

async fn promote(
    st: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    change_then_list(&st, &req, MemberChange::Promote(id)).await
}

/// Carries out `change` and answers with the index it was applied at and the members after.
async fn change_then_list(
    st: &ApiState,
    req: &HttpRequest,
    change: MemberChange,
) -> Result<HttpResponse, ApiError> {
    st.require_root(req).await?;
    let answer = tokio::time::timeout(
        st.config.request_timeout(),
        st.replicator.send(ChangeMembership(change)),
    )
    .await
    .map_err(|_| ApiError::Timeout)?
    .map_err(stopping)?
    .map_err(|e| st.map_err(e, req))?;
    let members = st.replicator.send(GetMembers).await.map_err(stopping)?;
    Ok(HttpResponse::Ok().json(json!({ "index": answer.index, "members": members })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    to: Option<u64>,
}

/// The node `POST /v1/leader/transfer` with `body` names (`{"to"}`; an empty body names none).
pub fn transfer_target(body: &[u8]) -> Result<Option<u64>, ApiError> {
    let b: TransferBody = if body.iter().all(u8::is_ascii_whitespace) {
        TransferBody::default()
    } else {
        parse_json(body)?
    };
    Ok(b.to)
}

async fn transfer(
    st: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    st.require_root(&req).await?;
    let body = read_body(body, BODY_LIMIT_BYTES).await?;
    let to = transfer_target(&body)?;
    let status = st.replicator.send(GetStatus).await.map_err(stopping)?;
    if status.leader != Some(st.id) {
        let leader = status.leader;
        return Err(st.map_err(ClientError::NotLeader { leader }, &req));
    }
    st.replicator
        .send(TransferLeadership(to))
        .await
        .map_err(stopping)?
        .map_err(|e| st.map_err(e, &req))?;
    // The target campaigns at once on TimeoutNow; the transfer is abandoned after an election
    // timeout, so wait a little longer than that for another leader.
    let deadline =
        Instant::now() + Duration::from_millis(st.config.cluster().election_timeout_max_ms) * 2;
    loop {
        let s = st.replicator.send(GetStatus).await.map_err(stopping)?;
        match s.leader {
            Some(leader) if leader != st.id => {
                return Ok(HttpResponse::Ok().json(json!({ "leader": leader, "term": s.term })));
            }
            _ if Instant::now() >= deadline => {
                return Err(ApiError::Unavailable(
                    "leadership did not move in time; the target may be behind or down".into(),
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
