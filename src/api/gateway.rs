//! etcd's JSON gateway on the HTTP port: `POST /v3/kv/range` and the rest take and give etcd's
//! messages as JSON (proto3 mapping: keys and values in base64, 64-bit integers as strings), so
//! curl recipes written for etcd work unchanged. Each route calls the same service as gRPC.
//!
//! Errors are JSON too, as etcd's gateway writes them: `{"error", "message", "code"}` with the
//! gRPC code, under the HTTP status the gateway maps it to.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Code, Request, Status};

use crate::grpc::pb::etcdserverpb::auth_server::Auth;
use crate::grpc::pb::etcdserverpb::cluster_server::Cluster;
use crate::grpc::pb::etcdserverpb::kv_server::Kv;
use crate::grpc::pb::etcdserverpb::lease_server::Lease;
use crate::grpc::pb::etcdserverpb::maintenance_server::Maintenance;
use crate::grpc::pb::etcdserverpb::WatchRequest;
use crate::grpc::{
    AuthService, ClusterService, EtcdContext, KvService, LeaseService, MaintenanceService,
    AUTHORIZATION,
};

/// Responses of one `/v3/watch` buffered before a slow reader holds up its watch.
const WATCH_BUFFER: usize = 64;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v3/kv/range", web::post().to(range))
        .route("/v3/kv/put", web::post().to(put))
        .route("/v3/kv/deleterange", web::post().to(delete_range))
        .route("/v3/kv/txn", web::post().to(txn))
        .route("/v3/kv/compaction", web::post().to(compaction))
        .route("/v3/lease/grant", web::post().to(lease_grant))
        .route("/v3/lease/revoke", web::post().to(lease_revoke))
        .route("/v3/kv/lease/revoke", web::post().to(lease_revoke))
        .route("/v3/lease/timetolive", web::post().to(lease_time_to_live))
        .route(
            "/v3/kv/lease/timetolive",
            web::post().to(lease_time_to_live),
        )
        .route("/v3/lease/leases", web::post().to(lease_leases))
        .route("/v3/kv/lease/leases", web::post().to(lease_leases))
        .route("/v3/maintenance/status", web::post().to(status))
        .route("/v3/cluster/member/list", web::post().to(member_list))
        .route("/v3/watch", web::post().to(watch))
        .route("/v3/auth/authenticate", web::post().to(authenticate))
        .route("/v3/auth/status", web::post().to(auth_status))
        .route("/v3/auth/enable", web::post().to(auth_enable))
        .route("/v3/auth/disable", web::post().to(auth_disable))
        .route("/v3/auth/user/add", web::post().to(user_add))
        .route("/v3/auth/user/delete", web::post().to(user_delete))
        .route("/v3/auth/user/grant", web::post().to(user_grant_role))
        .route("/v3/auth/user/revoke", web::post().to(user_revoke_role))
        .route(
            "/v3/auth/user/changepw",
            web::post().to(user_change_password),
        )
        .route("/v3/auth/role/add", web::post().to(role_add))
        .route("/v3/auth/role/delete", web::post().to(role_delete))
        .route("/v3/auth/role/grant", web::post().to(role_grant_permission))
        .route(
            "/v3/auth/role/revoke",
            web::post().to(role_revoke_permission),
        );
}

/// The gRPC request for a gateway call, carrying the HTTP `Authorization` header (the token, as
/// etcd's gateway takes it) in the metadata the services read it from; without one, the user
/// the client certificate names, as on the gRPC door.
fn grpc_request<T>(req: &HttpRequest, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| tonic::metadata::MetadataValue::try_from(v).ok())
    {
        request.metadata_mut().insert(AUTHORIZATION, value);
    }
    if let Some(etcd) = req.app_data::<web::Data<EtcdContext>>() {
        let name = super::client_cert::certificate_name(req);
        etcd.identify_by_certificate(request.metadata_mut(), name);
    }
    request
}

/// The HTTP status etcd's gateway answers a gRPC code with.
fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_body(status: &Status) -> serde_json::Value {
    serde_json::json!({
        "error": status.message(),
        "message": status.message(),
        "code": status.code() as i32,
    })
}

fn error(status: Status) -> HttpResponse {
    HttpResponse::build(http_status(status.code())).json(error_body(&status))
}

/// Parses an etcd request from JSON; an empty body is the empty message, as in etcd's gateway.
pub fn parse_request<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Status::invalid_argument(format!("the body is not a valid JSON request: {e}")))
}

fn answer<T: Serialize>(result: Result<tonic::Response<T>, Status>) -> HttpResponse {
    match result {
        Ok(response) => HttpResponse::Ok().json(response.into_inner()),
        Err(status) => error(status),
    }
}

/// One gateway route: parses the body as `$request`, calls `$method` of `$service`.
macro_rules! route {
    ($name:ident, $service:ident, $method:ident) => {
        async fn $name(
            etcd: web::Data<EtcdContext>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> HttpResponse {
            match parse_request(&body) {
                Ok(request) => answer(
                    $service(etcd.get_ref().clone())
                        .$method(grpc_request(&req, request))
                        .await,
                ),
                Err(status) => error(status),
            }
        }
    };
}

route!(range, KvService, range);
route!(put, KvService, put);
route!(delete_range, KvService, delete_range);
route!(txn, KvService, txn);
route!(compaction, KvService, compact);
route!(lease_grant, LeaseService, lease_grant);
route!(lease_revoke, LeaseService, lease_revoke);
route!(lease_time_to_live, LeaseService, lease_time_to_live);
route!(lease_leases, LeaseService, lease_leases);
route!(status, MaintenanceService, status);
route!(member_list, ClusterService, member_list);
route!(authenticate, AuthService, authenticate);
route!(auth_status, AuthService, auth_status);
route!(auth_enable, AuthService, auth_enable);
route!(auth_disable, AuthService, auth_disable);
route!(user_add, AuthService, user_add);
route!(user_delete, AuthService, user_delete);
route!(user_grant_role, AuthService, user_grant_role);
route!(user_revoke_role, AuthService, user_revoke_role);
route!(user_change_password, AuthService, user_change_password);
route!(role_add, AuthService, role_add);
route!(role_delete, AuthService, role_delete);
route!(role_grant_permission, AuthService, role_grant_permission);
route!(role_revoke_permission, AuthService, role_revoke_permission);

/// `POST /v3/watch` with a watch request: a response that never ends, one JSON object per line,
/// `{"result": <WatchResponse>}` (or `{"error": …}` once, at the end), as etcd's gateway streams.
async fn watch(etcd: web::Data<EtcdContext>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let request: WatchRequest = match parse_request(&body) {
        Ok(request) => request,
        Err(status) => return error(status),
    };
    let caller = match etcd.caller(grpc_request(&req, ()).metadata()) {
        Ok(caller) => caller,
        Err(status) => return error(status),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(WATCH_BUFFER);
    // The one request, then a stream that stays open: the watch lasts until the reader leaves.
    let requests = futures::stream::iter([Ok(request)]).chain(futures::stream::pending());
    actix_web::rt::spawn(crate::grpc::watch::run(
        etcd.get_ref().clone(),
        caller,
        Box::pin(requests),
        tx,
    ));
    let lines = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(|item| {
        let value = match item {
            Ok(response) => serde_json::json!({ "result": response }),
            Err(status) => serde_json::json!({ "error": error_body(&status) }),
        };
        let mut line = serde_json::to_vec(&value).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, actix_web::Error>(web::Bytes::from(line))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(lines)
}
