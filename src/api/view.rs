//! The live cluster view: `/ui` (one page embedded in the binary, no build step), the node's own
//! state as JSON (`GET /v1/view`) and as a stream of Server-Sent Events (`GET /v1/events`, one
//! event every [`EVENT_PERIOD`]), and, when the local supervisor allows it, the page's buttons
//! (`POST /v1/ui/control`).
//!
//! The page asks the node that served it for the members, then opens one event stream to every
//! member's HTTP address, so it shows the same cluster whichever node served it, and an
//! `EventSource` reconnects on its own to a node that comes back.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiState};
use crate::cli::supervisor::{ask_supervisor, Request};
use crate::replicator::{GetView, NodeView};

/// Set by `raftkv cluster --ui-controls` on the nodes it starts: the supervisor's control socket.
pub const UI_CONTROL_SOCKET_ENV: &str = "RAFTKV_UI_CONTROL_SOCKET";

/// How often `/v1/events` sends the node's view.
pub const EVENT_PERIOD: Duration = Duration::from_millis(250);

/// The page, served as it is.
const PAGE: &str = include_str!("ui/index.html");

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ui").route(web::get().to(page)))
        .service(web::resource("/v1/view").route(web::get().to(view)))
        .service(web::resource("/v1/events").route(web::get().to(events)))
        .service(web::resource("/v1/ui/control").route(web::post().to(control)));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(PAGE)
}

/// This node's view, with what the page needs to know about the controls.
async fn node_view(st: &ApiState) -> Result<serde_json::Value, ApiError> {
    let view: NodeView = st
        .replicator
        .send(GetView)
        .await
        .map_err(|_| ApiError::Unavailable("the node is stopping".into()))?;
    let mut value = serde_json::to_value(view)
        .map_err(|e| ApiError::Internal(format!("cannot encode the view: {e}")))?;
    value["controls"] = json!(control_socket().is_some());
    value["test_faults"] = json!(st.config.cluster().test_faults);
    Ok(value)
}

/// `GET /v1/view`: this node's view once (what every event of `/v1/events` carries).
async fn view(st: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let value = node_view(&st).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(value))
}

/// `GET /v1/events`: `text/event-stream`, one `data:` line of [`view`] JSON every
/// [`EVENT_PERIOD`] until the client goes away. Readable from another origin (the page served by
/// another member opens it).
async fn events(st: web::Data<ApiState>) -> HttpResponse {
    let stream = futures::stream::unfold(
        (st, tokio::time::interval(EVENT_PERIOD)),
        |(st, mut tick)| async move {
            tick.tick().await;
            if *st.stopping.borrow() {
                return None;
            }
            let event = match node_view(&st).await {
                // `retry`: a browser reconnects a second after the stream ends (a node restarting).
                Ok(value) => format!("retry: 1000\ndata: {value}\n\n"),
                // The node is stopping: end the stream; the browser reconnects by itself.
                Err(_) => return None,
            };
            Some((Ok::<_, actix_web::Error>(Bytes::from(event)), (st, tick)))
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .streaming(stream)
}

/// The supervisor's socket, when this node was started with the view's controls on.
fn control_socket() -> Option<PathBuf> {
    std::env::var_os(UI_CONTROL_SOCKET_ENV).map(PathBuf::from)
}

/// The body of `POST /v1/ui/control`.
#[derive(Debug, Deserialize)]
pub struct ControlAsk {
    /// stop, start, pause, resume, partition or heal (checked by the handler).
    pub action: String,
    /// The member it is about.
    pub node: u64,
}

/// Parses the body of `POST /v1/ui/control`.
pub fn parse_control(body: &[u8]) -> Result<ControlAsk, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("expected {{\"action\",\"node\"}}: {e}")))
}

/// `POST /v1/ui/control` `{"action": "stop"|"start"|"pause"|"resume"|"partition"|"heal",
/// "node": N}`: stop, start, pause and resume go to the supervisor that started this node;
/// partition and heal to member N's test fault switch (`test_faults = true`). 404 unless the
/// node runs under `raftkv cluster --ui-controls`; root only when auth is on.
async fn control(
    st: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(socket) = control_socket() else {
        return Err(ApiError::NotFound(
            "the cluster view's controls are off: start the cluster with `raftkv cluster \
             --ui-controls`"
                .into(),
        ));
    };
    st.require_root(&req).await?;
    let ask = parse_control(&body)?;
    let request = match ask.action.as_str() {
        "stop" => Request::Stop(ask.node),
        "start" => Request::Start(ask.node),
        "pause" => Request::Pause(ask.node),
        "resume" => Request::Resume(ask.node),
        "partition" | "heal" => return fault(&st, ask).await,
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown action {other:?}: stop, start, pause, resume, partition or heal"
            )))
        }
    };
    let answer = web::block(move || ask_supervisor(&socket, request))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({ "answer": answer })))
}

/// Partition or heal member `ask.node` through its own fault switch.
async fn fault(st: &ApiState, ask: ControlAsk) -> Result<HttpResponse, ApiError> {
    if !st.config.cluster().test_faults {
        return Err(ApiError::BadRequest(
            "partitions need `test_faults = true` in the config".into(),
        ));
    }
    let http = st
        .directory
        .get(ask.node)
        .map(|m| m.http)
        .ok_or_else(|| ApiError::NotFound(format!("no member {}", ask.node)))?;
    let path = if ask.action == "partition" {
        "/v1/test/isolate"
    } else {
        "/v1/test/heal"
    };
    let url = format!("{}://{http}{path}", st.config.http_scheme());
    let client = super::forward::client(st)?;
    let reply = client
        .post(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("node {}: {e}", ask.node)))?;
    if !reply.status().is_success() {
        return Err(ApiError::Unavailable(format!(
            "node {} answered {}",
            ask.node,
            reply.status()
        )));
    }
    Ok(HttpResponse::Ok().json(json!({ "answer": format!("node {} {}ed", ask.node, ask.action) })))
}
