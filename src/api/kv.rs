//! `/v1/kv/{key}`: the generic key-value map (etcdctl's put/get/del).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::{ok_json, read_body, ApiError, ApiState};
use crate::state::{ApplyResult, Command};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/kv/{key:.+}")
            .route(web::put().to(put))
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    );
}

async fn put(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = st.config.cluster().max_value_bytes as usize;
    let value = read_body(body, limit).await?;
    let command = Command::KvPut {
        key: key.into_inner(),
        value,
    };
    let applied = st.propose(&req, command).await?;
    match applied.result {
        ApplyResult::Stored { version } => Ok(ok_json(
            json!({ "index": applied.index, "version": version }),
        )),
        other => Err(unexpected(&other)),
    }
}

async fn get(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let applied = st.read(&req, Command::KvGet { key: key.clone() }).await?;
    match applied.result {
        ApplyResult::Value(Some(v)) => Ok(HttpResponse::Ok()
            .insert_header(("X-Version", v.version.to_string()))
            .content_type("application/octet-stream")
            .body(v.value)),
        ApplyResult::Value(None) => Err(ApiError::NotFound(format!("key {key:?} not found"))),
        other => Err(unexpected(&other)),
    }
}

async fn delete(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let applied = st
        .propose(
            &req,
            Command::KvDelete {
                key: key.into_inner(),
            },
        )
        .await?;
    match applied.result {
        ApplyResult::Deleted(deleted) => Ok(ok_json(
            json!({ "index": applied.index, "deleted": deleted }),
        )),
        other => Err(unexpected(&other)),
    }
}

/// A result that does not belong to the command: a replicated error, or a bug.
pub(super) fn unexpected(result: &ApplyResult) -> ApiError {
    ApiError::from_result(result, "item")
        .unwrap_or_else(|| ApiError::Internal(format!("unexpected result {result:?}")))
}
