//! `/v1/kv/{key}`: the generic key-value map (etcdctl's put/get/del), with versions,
//! compare-and-swap (`?if_version=V`) and expiry (`?ttl=S`).

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::{ok_json, read_body, ApiError, ApiState};
use crate::state::{ApplyResult, Command, KvRecord};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/kv/{key:.+}")
            .route(web::put().to(put))
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    );
}

/// The query of `PUT /v1/kv/{key}`.
#[derive(Debug, Default, Deserialize)]
pub struct PutParams {
    /// Seconds to live; 0 or absent: never expires.
    ttl: Option<u64>,
    /// Write only if the key's current version is this one.
    if_version: Option<u64>,
}

/// The query of `GET /v1/kv/{key}` (besides `consistency`).
#[derive(Debug, Default, Deserialize)]
struct GetParams {
    /// Answer JSON with the value in base64, its version and expiry, instead of the raw value.
    meta: Option<bool>,
}

/// Parses a query string into `T`, with a 400 that says what was wrong.
fn query<T: for<'de> Deserialize<'de>>(query: &str) -> Result<T, ApiError> {
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {e}")))
}

/// The query string of `PUT /v1/kv/{key}`, checked before the body is read.
pub fn put_params(query_string: &str) -> Result<PutParams, ApiError> {
    query(query_string)
}

impl PutParams {
    /// The command writing `value` at `key` as these parameters ask.
    pub fn command(self, key: String, value: web::Bytes) -> Command {
        match self {
            PutParams {
                ttl,
                if_version: Some(expected_version),
            } => Command::KvCas {
                key,
                value,
                ttl_secs: ttl.unwrap_or(0),
                expected_version,
            },
            PutParams {
                ttl: Some(ttl_secs),
                if_version: None,
            } => Command::KvSet {
                key,
                value,
                ttl_secs,
            },
            PutParams {
                ttl: None,
                if_version: None,
            } => Command::KvPut { key, value },
        }
    }
}

/// Whether the query string of `GET /v1/kv/{key}` asks for `meta=true`.
pub fn get_meta(query_string: &str) -> Result<bool, ApiError> {
    let params: GetParams = query(query_string)?;
    Ok(params.meta == Some(true))
}

async fn put(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let key = checked_key(&st, key.into_inner())?;
    let params = put_params(req.query_string())?;
    let limit = st.config.cluster().max_value_bytes as usize;
    let value = read_body(body, limit).await?;
    let command = params.command(key.clone(), value);
    let applied = st.propose(&req, command).await?;
    match applied.result {
        ApplyResult::Stored { version } => Ok(ok_json(
            json!({ "index": applied.index, "version": version }),
        )),
        ApplyResult::NotFound => Err(not_found(&key)),
        other => Err(unexpected(&other)),
    }
}

async fn get(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = checked_key(&st, key.into_inner())?;
    let meta = get_meta(req.query_string())?;
    let applied = st
        .read(&req, Command::KvGetMeta { key: key.clone() })
        .await?;
    match applied.result {
        ApplyResult::Record(Some(record)) if meta => Ok(meta_json(&record)),
        ApplyResult::Record(Some(record)) => {
            let mut response = HttpResponse::Ok();
            response.insert_header(("X-Version", record.version.to_string()));
            if let Some(secs) = record.expires_in_secs() {
                response.insert_header(("X-Expires-In", secs.to_string()));
            }
            Ok(response
                .content_type("application/octet-stream")
                .body(record.value))
        }
        ApplyResult::Record(None) => Err(not_found(&key)),
        other => Err(unexpected(&other)),
    }
}

/// `{"value_base64", "version", "expires_in"}`; `expires_in` is whole seconds rounded up, or null
/// for a key that never expires.
fn meta_json(record: &KvRecord) -> HttpResponse {
    let value_base64 = base64::engine::general_purpose::STANDARD.encode(&record.value);
    ok_json(json!({
        "value_base64": value_base64,
        "version": record.version,
        "expires_in": record.expires_in_secs(),
    }))
}

async fn delete(
    st: web::Data<ApiState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = checked_key(&st, key.into_inner())?;
    let applied = st.propose(&req, Command::KvDelete { key }).await?;
    match applied.result {
        ApplyResult::Deleted(deleted) => Ok(ok_json(
            json!({ "index": applied.index, "deleted": deleted }),
        )),
        other => Err(unexpected(&other)),
    }
}

/// The key of a `/v1/kv/{key}` request, refused with 413 when longer than `max_key_bytes`
/// (checked before the body is read).
fn checked_key(st: &ApiState, key: String) -> Result<String, ApiError> {
    let limit = st.config.cluster().max_key_bytes;
    match key.len() {
        got if got > limit => Err(ApiError::KeyTooLarge { got, limit }),
        _ => Ok(key),
    }
}

fn not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("key {key:?} not found"))
}

/// A result that does not belong to the command: a replicated error, or a bug.
pub(super) fn unexpected(result: &ApplyResult) -> ApiError {
    ApiError::from_result(result, "item")
        .unwrap_or_else(|| ApiError::Internal(format!("unexpected result {result:?}")))
}
