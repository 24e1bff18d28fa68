//! `/v1/stacks`: distributed integer stacks, JSON flavour.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::kv::unexpected;
use super::{ok_json, parse_id, parse_json, read_body, ApiError, ApiState};
use crate::state::{ApplyResult, Command};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/stacks")
            .route(web::post().to(create))
            .route(web::get().to(id)),
    )
    .service(web::resource("/v1/stacks/{id}/push").route(web::post().to(push)))
    .service(web::resource("/v1/stacks/{id}/pop").route(web::post().to(pop)))
    .service(web::resource("/v1/stacks/{id}/top").route(web::get().to(top)))
    .service(web::resource("/v1/stacks/{id}/size").route(web::get().to(size)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelBody {
    label: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    item: i64,
}

#[derive(Deserialize)]
struct LabelQuery {
    label: String,
}

/// Runs a stack command through the log or a read, and shapes the answer.
pub(super) async fn run(
    st: &ApiState,
    req: &HttpRequest,
    command: Command,
) -> Result<ApplyResult, ApiError> {
    let applied = if command.is_read() {
        st.read(req, command).await?
    } else {
        st.propose(req, command).await?
    };
    match applied.result {
        ApplyResult::NotFound => Err(ApiError::NotFound("no such stack".into())),
        other => match ApiError::from_result(&other, "stack") {
            Some(err) => Err(err),
            None => Ok(other),
        },
    }
}

/// The command of `POST /v1/stacks` with `body`, `{"label"}`.
pub fn create_command(body: &[u8]) -> Result<Command, ApiError> {
    let body: LabelBody = parse_json(body)?;
    Ok(Command::StackCreate { label: body.label })
}

/// The command of `GET /v1/stacks?label=L` with `query_string`.
pub fn id_command(query_string: &str) -> Result<Command, ApiError> {
    let q = web::Query::<LabelQuery>::from_query(query_string)
        .map_err(|_| ApiError::BadRequest("expected ?label=<integer>".into()))?;
    let label = parse_id("label", &q.label)?;
    Ok(Command::StackId { label })
}

/// The command of `POST /v1/stacks/{stack_id}/push` with `body`, `{"item"}`.
pub fn push_command(stack_id: u64, body: &[u8]) -> Result<Command, ApiError> {
    let body: ItemBody = parse_json(body)?;
    Ok(Command::StackPush {
        stack_id,
        item: body.item,
    })
}

async fn create(
    st: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let command = create_command(&read_body(body, st.body_limit()).await?)?;
    match run(&st, &req, command).await? {
        ApplyResult::StackId(id) => Ok(ok_json(json!({ "stack_id": id }))),
        other => Err(unexpected(&other)),
    }
}

async fn id(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match run(&st, &req, id_command(req.query_string())?).await? {
        ApplyResult::StackId(id) => Ok(ok_json(json!({ "stack_id": id }))),
        other => Err(unexpected(&other)),
    }
}

async fn push(
    st: web::Data<ApiState>,
    req: HttpRequest,
    stack_id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let stack_id = parse_id("stack id", &stack_id)?;
    let command = push_command(stack_id, &read_body(body, st.body_limit()).await?)?;
    match run(&st, &req, command).await? {
        ApplyResult::Size(n) => Ok(ok_json(json!({ "size": n }))),
        other => Err(unexpected(&other)),
    }
}

async fn pop(
    st: web::Data<ApiState>,
    req: HttpRequest,
    stack_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stack_id = parse_id("stack id", &stack_id)?;
    match run(&st, &req, Command::StackPop { stack_id }).await? {
        ApplyResult::Item(item) => Ok(ok_json(json!({ "item": item }))),
        other => Err(unexpected(&other)),
    }
}

async fn top(
    st: web::Data<ApiState>,
    req: HttpRequest,
    stack_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stack_id = parse_id("stack id", &stack_id)?;
    match run(&st, &req, Command::StackTop { stack_id }).await? {
        ApplyResult::Item(item) => Ok(ok_json(json!({ "item": item }))),
        other => Err(unexpected(&other)),
    }
}

async fn size(
    st: web::Data<ApiState>,
    req: HttpRequest,
    stack_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stack_id = parse_id("stack id", &stack_id)?;
    match run(&st, &req, Command::StackSize { stack_id }).await? {
        ApplyResult::Size(n) => Ok(ok_json(json!({ "size": n }))),
        other => Err(unexpected(&other)),
    }
}
