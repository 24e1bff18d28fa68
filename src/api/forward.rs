//! Followers forward what only the leader can serve: a middleware that lets the handler run and,
//! when it answers 307 to the leader ([`ApiError::Redirect`]), sends the same request there and
//! relays the leader's answer, as etcd and Consul do. A client behind a load balancer or a plain
//! reverse proxy that does not follow redirects is then served by whichever node it reaches.
//!
//! - The mode is `[cluster] follower_requests` (default `forward`); the header
//!   `Raftkv-Follower-Requests: redirect|forward` overrides it for one request.
//! - The forwarded request keeps the method, path and query, body and end-to-end headers (so
//!   `Content-Type`, `Client-Id` and `Request-Seq` arrive as sent: exactly-once sessions hold)
//!   and gains `Raftkv-Forwarded-By: <node id>`.
//! - A request marked forwarded is never forwarded again: a node that receives one and is not
//!   the leader any more answers 503 (`unavailable`, `Retry-After: 1`); nothing was done, and by
//!   the retry the first node knows the new leader. Forwarding thus takes one hop at most.
//! - A leader that cannot be connected to gives 503 (nothing was sent). A leader that does not
//!   answer within the request timeout gives 504 with outcome unknown, as the node's own
//!   timeout does: the write may have been applied, and a retry under the same session is safe.
//! - A forward holds one of the node's places for requests in flight while it waits.
//!
//! The body is buffered before the handler runs (up to the largest body any handler accepts),
//! so that it can be sent again; handlers are untouched.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody, SizedStream};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use super::{read_body, ApiError, ApiState};
use crate::config::FollowerRequests;

/// Marks a request one node sent on to the node it took for the leader; the value is the
/// sender's id.
pub const FORWARDED_BY: &str = "raftkv-forwarded-by";

/// Per-request choice between forwarding and redirecting (`forward` or `redirect`), over the
/// node's `follower_requests`.
pub const FOLLOWER_REQUESTS: &str = "raftkv-follower-requests";

/// How long a relayed answer's body may take to stream once its head arrived. Answers are small
/// but for a snapshot download, which carries the whole state machine.
const RELAY_BODY_DEADLINE: Duration = Duration::from_secs(600);

thread_local! {
    // awc's client is not Send: each HTTP worker thread keeps its own, with its own pool of
    // connections to the leader, made on first use (over TLS when the doors speak it).
    static CLIENT: std::cell::OnceCell<awc::Client> = const { std::cell::OnceCell::new() };
}

/// This worker's client to the leader. Redirects are relayed to the caller, never followed here.
pub(super) fn client(st: &ApiState) -> Result<awc::Client, ApiError> {
    CLIENT.with(|cell| {
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = match st.config.client_tls() {
            None => awc::Client::builder().disable_redirects().finish(),
            Some(tls) => {
                let config = tls
                    .client_config(&[b"http/1.1"])
                    .map_err(|e| ApiError::Internal(format!("TLS to the leader: {e}")))?;
                awc::Client::builder()
                    .connector(awc::Connector::new().rustls_0_23(config))
                    .disable_redirects()
                    .finish()
            }
        };
        Ok(cell.get_or_init(|| client).clone())
    })
}

/// Middleware for `actix_web::middleware::from_fn`: forwards to the leader every request the
/// handler answers with a redirect to it, unless redirects are asked for. Install it inside
/// [`super::count_responses`], so the relayed answer is the one counted.
pub async fn forward_to_leader(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(st) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let mode = match requested_mode(req.request(), &st) {
        Ok(mode) => mode,
        Err(e) => return Ok(req.error_response(e)),
    };
    let forwarded_by = req
        .headers()
        .get(FORWARDED_BY)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    // Only a request that may be sent on needs its body kept for a second reading.
    let body = if mode == FollowerRequests::Forward && forwarded_by.is_none() {
        let body = match read_body(req.take_payload(), st.body_limit()).await {
            Ok(body) => body,
            Err(e) => return Ok(req.error_response(e)),
        };
        req.set_payload(Payload::from(body.clone()));
        Some(body)
    } else {
        None
    };
    let res = next.call(req).await?;
    let Some(location) = leader_location(&res) else {
        return Ok(res.map_into_boxed_body());
    };
    if let Some(by) = forwarded_by {
        count(&st, "second_hop");
        let err = ApiError::Unavailable(format!(
            "node {by} forwarded this request to node {} as to the leader, but the leader has \
             changed; nothing was done, retry",
            st.id
        ));
        return Ok(res.error_response(err));
    }
    let Some(body) = body else {
        return Ok(res.map_into_boxed_body());
    };
    let (req, _) = res.into_parts();
    let answer = match relay(&st, &req, &location, body).await {
        Ok(answer) => answer,
        Err((outcome, e)) => {
            count(&st, outcome);
            return Ok(ServiceResponse::from_err(e, req));
        }
    };
    count(&st, "relayed");
    Ok(ServiceResponse::new(req, answer))
}

/// Counts one forward in `raftkv_http_forwarded_requests_total`.
fn count(st: &ApiState, outcome: &'static str) {
    let labels = crate::metrics::ForwardLabels { outcome };
    st.metrics.http.forwarded.get_or_create(&labels).inc();
}

/// The mode for this request: its `Raftkv-Follower-Requests` header, else the node's.
fn requested_mode(req: &HttpRequest, st: &ApiState) -> Result<FollowerRequests, ApiError> {
    match req.headers().get(FOLLOWER_REQUESTS) {
        None => Ok(st.config.cluster().follower_requests),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(FollowerRequests::from_name)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{FOLLOWER_REQUESTS} must be \"forward\" or \"redirect\""
                ))
            }),
    }
}

/// The leader's URL for this request, when the handler answered with a redirect to it.
fn leader_location<B>(res: &ServiceResponse<B>) -> Option<String> {
    match res.response().error()?.as_error::<ApiError>()? {
        ApiError::Redirect { location } => Some(location.clone()),
        _ => None,
    }
}

/// Sends `req` with `body` to `location` on the leader and turns its answer into ours: status,
/// end-to-end headers and body (streamed). A failure comes with its outcome label.
async fn relay(
    st: &ApiState,
    req: &HttpRequest,
    location: &str,
    body: web::Bytes,
) -> Result<HttpResponse, (&'static str, ApiError)> {
    let _ticket = st.admit().map_err(|e| ("overloaded", e))?;
    let mut out = client(st)
        .map_err(|e| ("failed", e))?
        .request(req.method().clone(), location)
        .timeout(st.timeout());
    for (name, value) in req.headers() {
        if end_to_end(name) && name.as_str() != FORWARDED_BY {
            out = out.append_header((name.clone(), value.clone()));
        }
    }
    out = out.insert_header((FORWARDED_BY, st.id.to_string()));
    // A caller known by its client certificate travels as a token (see `certificate_token`).
    if !req.headers().contains_key(header::AUTHORIZATION) {
        if let Some(token) = st.certificate_token(req) {
            out = out.insert_header((header::AUTHORIZATION, token));
        }
    }
    log::debug!(
        "node {}: forwarding {} {} to the leader at {location}",
        st.id,
        req.method(),
        req.path()
    );
    let answer = out.send_body(body).await.map_err(|e| match e {
        awc::error::SendRequestError::Connect(e) => (
            "unreachable",
            ApiError::Unavailable(format!(
                "the leader at {location} cannot be reached ({e}); nothing was sent, retry shortly"
            )),
        ),
        awc::error::SendRequestError::Timeout => ("timeout", ApiError::Timeout),
        e => (
            "failed",
            ApiError::Unavailable(format!(
                "forwarding to the leader at {location} failed ({e}); the request may or may not \
                 have taken effect"
            )),
        ),
    })?;
    let mut relayed = HttpResponse::build(answer.status());
    for (name, value) in answer.headers() {
        if end_to_end(name) {
            relayed.append_header((name.clone(), value.clone()));
        }
    }
    let length = answer
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let stream = answer.timeout(RELAY_BODY_DEADLINE);
    Ok(match length {
        Some(length) => relayed.body(SizedStream::new(length, stream)),
        None => relayed.streaming(stream),
    })
}

/// Whether a header travels with the message to the next node: not the hop-by-hop ones
/// (RFC 9110 §7.6.1), nor those the sender recomputes (`Host`, `Content-Length`, `Expect`).
fn end_to_end(name: &HeaderName) -> bool {
    const HOP_BY_HOP: [&str; 11] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    ];
    // HeaderName is always lower case.
    !HOP_BY_HOP.contains(&name.as_str())
}
