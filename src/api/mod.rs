//! The HTTP API (actix-web), served by every node on its configured http address.
//!
//! Handlers translate HTTP into replicator messages and results back into HTTP; they never touch the
//! log. Failures become status codes in one place, [`error`].

mod admin;
mod client_cert;
mod error;
mod forward;
mod gateway;
mod health;
mod kv;
mod legacy;
mod members;
mod responses;
mod snapshot;
mod stacks;
mod students;
mod view;

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::Deserialize;

pub use client_cert::remember_peer_name;
pub use error::ApiError;
pub use forward::{forward_to_leader, FOLLOWER_REQUESTS, FORWARDED_BY};
pub use responses::count_responses;
pub(crate) use snapshot::unnamed_temp_file;
pub use view::{EVENT_PERIOD, UI_CONTROL_SOCKET_ENV};

/// The parsing and validation every handler runs on a request's route, query string and body
/// before anything else: pure functions, public so that the fuzz target `http_body`
/// (`tests/fuzz/`) runs the very code the handlers serve with.
pub mod requests {
    pub use super::gateway::parse_request as gateway_request;
    pub use super::kv::{get_meta, put_params, PutParams};
    pub use super::legacy::{text_command, Op, ROUTES as LEGACY_ROUTES};
    pub use super::members::{
        add_change, transfer_target, BODY_LIMIT_BYTES as MEMBERS_BODY_LIMIT_BYTES,
    };
    pub use super::snapshot::line_range;
    pub use super::stacks::{create_command, id_command, push_command};
    pub use super::students::put_command as student_command;
    pub use super::view::{parse_control, ControlAsk};
    pub use super::{parse_id, read_consistency};
}

use crate::config::Config;
use crate::raft::NodeId;
use crate::replicator::admission::Admission;
use crate::replicator::{Answer, ClientError, Consistency, Propose, Read, Replicator};
use crate::security::Caller;
use crate::state::{Command, Request};

/// The header a member's credential travels in (a node fetching transaction-log lines).
pub const MEMBER_CREDENTIAL_HEADER: &str = "raftkv-member-credential";

/// What `GET /v1/txlog` takes a member's credential for.
pub const TXLOG_PURPOSE: &str = "GET /v1/txlog";

/// What every handler needs: the local replicator and the cluster's addresses.
#[derive(Clone)]
pub struct ApiState {
    pub replicator: Addr<Replicator>,
    pub config: Arc<Config>,
    pub id: NodeId,
    /// The node's metrics (the replicator's `metrics()`): [`count_responses`] fills the HTTP
    /// series, `/metrics` shows them all; shared by every HTTP worker.
    pub metrics: crate::metrics::NodeMetrics,
    /// The node's bound on requests in flight, shared with the text protocol.
    pub admission: Admission,
    /// The members' addresses (for redirects to a leader that joined after the config file).
    pub directory: crate::replicator::members::Directory,
    /// Credentials and permissions, shared with the other doors.
    pub auth: crate::security::Authenticator,
    /// The cluster secrets: what checks a member's credential on the routes members use
    /// ([`MEMBER_CREDENTIAL_HEADER`]).
    pub peer_keys: Arc<crate::cluster::seal::PeerKeys>,
    /// Becomes true when the node begins to stop: endless responses (`/v1/events`) end then, so
    /// the graceful shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// Registers every route; unknown routes answer 404 with a JSON error. Wrap the app in
/// `actix_web::middleware::from_fn(count_responses)` to time and count its requests for `/metrics`,
/// and inside it in `from_fn(forward_to_leader)` for followers to forward to the leader.
pub fn routes(cfg: &mut web::ServiceConfig) {
    kv::routes(cfg);
    students::routes(cfg);
    stacks::routes(cfg);
    legacy::routes(cfg);
    admin::routes(cfg);
    members::routes(cfg);
    snapshot::routes(cfg);
    health::routes(cfg);
    gateway::routes(cfg);
    view::routes(cfg);
    cfg.default_service(web::to(unknown_route));
}

async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnknownRoute {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

/// The `consistency` query parameter of reads.
#[derive(Debug, Default, Deserialize)]
struct ReadParams {
    consistency: Option<String>,
}

/// Parses `?consistency=linearizable|local|log` (default linearizable) from a query string;
/// etcdctl's names are accepted too: `l` for linearizable, `s` or `serializable` for local.
pub fn read_consistency(query: &str) -> Result<Consistency, ApiError> {
    let params = web::Query::<ReadParams>::from_query(query)
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))?;
    match params.consistency.as_deref() {
        None | Some("linearizable" | "l") => Ok(Consistency::Linearizable),
        Some("local" | "s" | "serializable") => Ok(Consistency::Local),
        Some("log") => Ok(Consistency::Log),
        Some(other) => Err(ApiError::BadRequest(format!(
            "consistency must be linearizable (l), local (s, serializable) or log, not {other:?}"
        ))),
    }
}

/// Reads the whole body, refusing more than `limit` bytes with 413 before buffering them.
async fn read_body<E: std::fmt::Display>(
    mut payload: impl futures::Stream<Item = Result<web::Bytes, E>> + Unpin,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge {
                got: body.len() + chunk.len(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON body, with a 400 that says what was wrong.
fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Parses a numeric path segment, with a 400 naming it.
pub fn parse_id<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{what} must be a number, not {text:?}")))
}

impl ApiState {
    /// The largest request body accepted (values plus JSON framing).
    fn body_limit(&self) -> usize {
        self.config.cluster().max_value_bytes as usize + 4096
    }

    fn timeout(&self) -> Duration {
        self.config.request_timeout()
    }

    /// The URL of this request on `leader`, for a redirect.
    fn leader_url(&self, leader: NodeId, req: &HttpRequest) -> Option<String> {
        let http = match self.directory.get(leader) {
            Some(m) => m.http,
            None => self.config.node(leader).ok()?.http.to_string(),
        };
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        Some(format!("{}://{http}{path}", self.config.http_scheme()))
    }

    /// A place among the requests in flight, or 429 at once.
    fn admit(&self) -> Result<crate::replicator::admission::Ticket, ApiError> {
        self.admission.try_admit().ok_or_else(|| {
            ApiError::Overloaded(format!(
                "the node holds {} requests, its limit; retry shortly",
                self.admission.limit()
            ))
        })
    }

    fn map_err(&self, err: ClientError, req: &HttpRequest) -> ApiError {
        ApiError::from_client(err, |leader| self.leader_url(leader, req))
    }

    /// Who sent `req`: `Authorization: Basic` (a password, checked against its hash once and
    /// then remembered), `Authorization: Bearer <token>` or a bare token (from etcd's
    /// `/v3/auth/authenticate`); without the header, the user its client certificate names
    /// (with `client_cert_auth`, as etcd); or no one.
    async fn caller(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        use base64::Engine;
        let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
            return self.certificate_caller(req);
        };
        let value = value.to_str().map_err(|_| {
            ApiError::Unauthenticated("the Authorization header is not text".into())
        })?;
        if let Some(basic) = value.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| ApiError::Unauthenticated("malformed basic credentials".into()))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| ApiError::Unauthenticated("malformed basic credentials".into()))?;
            self.auth.check_password(user, password).await?;
            return Ok(Caller::User(user.to_string()));
        }
        let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
        Ok(self.auth.verify_token(token)?)
    }

    /// The user `req`'s verified client certificate names, when `client_cert_auth` is on; a
    /// name that is no user's is refused as etcd refuses it (permission denied).
    fn certificate_caller(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        let Some(name) = self.certificate_user(req) else {
            return Ok(Caller::Anonymous);
        };
        if self.auth.store().user(&name).is_none() {
            return Err(crate::state::auth::AuthError::PermissionDenied.into());
        }
        Ok(Caller::User(name))
    }

    /// The name `req`'s client certificate gives its caller, if certificates name users here.
    fn certificate_user(&self, req: &HttpRequest) -> Option<String> {
        if !self.config.client_cert_auth() {
            return None;
        }
        client_cert::certificate_name(req)
    }

    /// A token for the user `req`'s client certificate names, for a follower forwarding a
    /// request that carries no `Authorization` header to the leader. The leader must not take
    /// the forwarded request's certificate (the follower's own) as the caller, so the follower,
    /// which holds the replicated token key, vouches for the caller with a token the leader
    /// checks like any other. None while auth is off, or for a name that is no user's.
    fn certificate_token(&self, req: &HttpRequest) -> Option<String> {
        if !self.auth.enabled() {
            return None;
        }
        self.auth.issue_token(&self.certificate_user(req)?).ok()
    }

    /// Refuses `command` unless the caller of `req` may run it (anyone may while auth is off).
    async fn authorize(&self, req: &HttpRequest, command: &Command) -> Result<(), ApiError> {
        if !self.auth.enabled() {
            return Ok(());
        }
        let caller = self.caller(req).await?;
        Ok(self.auth.authorize(&caller, command)?)
    }

    /// Refuses a cluster-management request (members, snapshots) unless it comes from root.
    /// With auth on: the caller is root, or a member presenting its credential for `purpose`
    /// (see [`crate::cluster::seal::PeerKeys::member_credential`]).
    async fn require_root_or_member(
        &self,
        req: &HttpRequest,
        purpose: &str,
    ) -> Result<(), ApiError> {
        let presented = req.headers().get(MEMBER_CREDENTIAL_HEADER);
        let member = presented
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| self.peer_keys.accepts_member_credential(purpose, v));
        if member {
            return Ok(());
        }
        self.require_root(req).await
    }

    async fn require_root(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if !self.auth.enabled() {
            return Ok(());
        }
        let caller = self.caller(req).await?;
        Ok(self.auth.require_root(&caller)?)
    }

    /// Proposes `command` through the log, with the caller's exactly-once session if it sent one.
    async fn propose(&self, req: &HttpRequest, command: Command) -> Result<Answer, ApiError> {
        self.authorize(req, &command).await?;
        let _ticket = self.admit()?;
        let request = match session(req)? {
            Some((client_id, seq)) => Request::with_session(client_id, seq, command),
            None => Request::new(command),
        };
        let answer = tokio::time::timeout(self.timeout(), self.replicator.send(Propose(request)))
            .await
            .map_err(|_| ApiError::Timeout)?
            .map_err(|_| ApiError::Unavailable("the node is stopping".into()))?;
        answer.map_err(|e| self.map_err(e, req))
    }

    /// Serves a read command with the consistency the request asks for.
    async fn read(&self, req: &HttpRequest, command: Command) -> Result<Answer, ApiError> {
        let consistency = read_consistency(req.query_string())?;
        if consistency == Consistency::Log {
            return self.propose(req, command).await;
        }
        self.authorize(req, &command).await?;
        let _ticket = self.admit()?;
        let msg = Read {
            command,
            consistency,
        };
        let answer = tokio::time::timeout(self.timeout(), self.replicator.send(msg))
            .await
            .map_err(|_| ApiError::Timeout)?
            .map_err(|_| ApiError::Unavailable("the node is stopping".into()))?;
        answer.map_err(|e| self.map_err(e, req))
    }
}

/// The optional `Client-Id` and `Request-Seq` headers (both or neither).
fn session(req: &HttpRequest) -> Result<Option<(u64, u64)>, ApiError> {
    let header = |name: &str| -> Result<Option<u64>, ApiError> {
        match req.headers().get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| ApiError::BadRequest(format!("{name} must be an unsigned integer"))),
        }
    };
    match (header("Client-Id")?, header("Request-Seq")?) {
        (Some(c), Some(s)) => Ok(Some((c, s))),
        (None, None) => Ok(None),
        _ => Err(ApiError::BadRequest(
            "Client-Id and Request-Seq go together".into(),
        )),
    }
}

/// A JSON 200 response.
fn ok_json(value: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().json(value)
}
