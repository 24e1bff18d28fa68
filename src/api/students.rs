//! `/v1/students`: the student records database.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::kv::unexpected;
use super::{ok_json, parse_id, parse_json, read_body, ApiError, ApiState};
use crate::state::{ApplyResult, Command};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/students").route(web::get().to(list)))
        .service(
            web::resource("/v1/students/{roll_no}")
                .route(web::put().to(put))
                .route(web::get().to(get))
                .route(web::delete().to(delete)),
        );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StudentBody {
    name: String,
    address: String,
    phone: String,
}

/// The command of `PUT /v1/students/{roll_no}` with `body`, `{"name", "address", "phone"}`.
pub fn put_command(roll_no: u64, body: &[u8]) -> Result<Command, ApiError> {
    let s: StudentBody = parse_json(body)?;
    Ok(Command::StudentPut {
        roll_no,
        name: s.name,
        address: s.address,
        phone: s.phone,
    })
}

async fn put(
    st: web::Data<ApiState>,
    req: HttpRequest,
    roll_no: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let roll_no = parse_id("roll_no", &roll_no)?;
    let body = read_body(body, st.body_limit()).await?;
    let command = put_command(roll_no, &body)?;
    let applied = st.propose(&req, command).await?;
    match applied.result {
        ApplyResult::Written => Ok(ok_json(json!({ "index": applied.index }))),
        other => Err(unexpected(&other)),
    }
}

async fn get(
    st: web::Data<ApiState>,
    req: HttpRequest,
    roll_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let roll_no = parse_id("roll_no", &roll_no)?;
    let applied = st.read(&req, Command::StudentGet { roll_no }).await?;
    match applied.result {
        ApplyResult::Student(Some(s)) => Ok(ok_json(json!(s))),
        ApplyResult::Student(None) => {
            Err(ApiError::NotFound(format!("student {roll_no} not found")))
        }
        other => Err(unexpected(&other)),
    }
}

async fn delete(
    st: web::Data<ApiState>,
    req: HttpRequest,
    roll_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let roll_no = parse_id("roll_no", &roll_no)?;
    let applied = st.propose(&req, Command::StudentDelete { roll_no }).await?;
    match applied.result {
        ApplyResult::Deleted(deleted) => Ok(ok_json(
            json!({ "index": applied.index, "deleted": deleted }),
        )),
        other => Err(unexpected(&other)),
    }
}

async fn list(st: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let applied = st.read(&req, Command::StudentList).await?;
    match applied.result {
        ApplyResult::Students(list) => Ok(ok_json(json!(list))),
        other => Err(unexpected(&other)),
    }
}
