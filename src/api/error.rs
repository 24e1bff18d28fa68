//! The one place where failures become HTTP status codes and JSON error bodies.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::replicator::ClientError;
use crate::state::ApplyResult;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the body is {got} bytes or more; the limit is {limit}")]
    TooLarge { got: usize, limit: usize },
    /// A key longer than `max_key_bytes` (413).
    #[error("the key is {got} bytes; the limit is {limit} (max_key_bytes)")]
    KeyTooLarge { got: usize, limit: usize },
    #[error("{0}")]
    NotFound(String),
    #[error("no route for {method} {path}")]
    UnknownRoute { method: String, path: String },
    #[error("the stack is empty")]
    StackEmpty,
    /// A compare-and-swap found the key at another version.
    #[error("the key is at version {version}")]
    VersionMismatch { version: u64 },
    #[error("request seq is older than this client's last one")]
    StaleSession,
    /// Redirect to the leader's HTTP address (307 keeps the method and body, so `curl -L` works).
    #[error("not the leader; redirecting to {location}")]
    Redirect { location: String },
    #[error("no leader is known; retry shortly")]
    NoLeader,
    #[error("the request timed out; it may or may not have taken effect")]
    Timeout,
    #[error("{0}")]
    Unavailable(String),
    /// The node holds as many requests as it admits (or its core refuses more for now).
    #[error("{0}")]
    Overloaded(String),
    #[error("{0}")]
    Internal(String),
    /// Auth is on and the request carries no valid credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    PermissionDenied(String),
}

impl From<crate::state::auth::AuthError> for ApiError {
    fn from(e: crate::state::auth::AuthError) -> Self {
        use crate::state::auth::AuthError;
        match e {
            AuthError::PermissionDenied => ApiError::PermissionDenied(e.to_string()),
            AuthError::UserEmpty | AuthError::InvalidAuthToken | AuthError::AuthFailed => {
                ApiError::Unauthenticated(e.to_string())
            }
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// Every value of [`ApiError::code`]: the fixed `error` labels of the response counters.
pub(super) const CODES: [&str; 16] = [
    "bad_request",
    "too_large",
    "key_too_large",
    "not_found",
    "unknown_route",
    "stack_empty",
    "version_mismatch",
    "stale_request",
    "not_leader",
    "no_leader",
    "timeout",
    "unavailable",
    "overloaded",
    "internal",
    "unauthenticated",
    "permission_denied",
];

impl ApiError {
    /// The `error` field of the JSON body. Invariant: one of [`CODES`].
    pub(super) fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::KeyTooLarge { .. } => "key_too_large",
            ApiError::NotFound(_) => "not_found",
            ApiError::UnknownRoute { .. } => "unknown_route",
            ApiError::StackEmpty => "stack_empty",
            ApiError::VersionMismatch { .. } => "version_mismatch",
            ApiError::StaleSession => "stale_request",
            ApiError::Redirect { .. } => "not_leader",
            ApiError::NoLeader => "no_leader",
            ApiError::Timeout => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Overloaded(_) => "overloaded",
            ApiError::Internal(_) => "internal",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::PermissionDenied(_) => "permission_denied",
        }
    }

    /// Maps a replicator failure; `redirect` turns a known leader id into its URL for this request.
    pub fn from_client(err: ClientError, redirect: impl FnOnce(u64) -> Option<String>) -> Self {
        match err {
            ClientError::NotLeader { leader: Some(id) } => match redirect(id) {
                Some(location) => ApiError::Redirect { location },
                None => ApiError::NoLeader,
            },
            ClientError::NotLeader { leader: None } | ClientError::NoLeader => ApiError::NoLeader,
            ClientError::Timeout => ApiError::Timeout,
            ClientError::Dropped => ApiError::Unavailable(err.to_string()),
            ClientError::Busy | ClientError::Limit(_) => ApiError::Overloaded(err.to_string()),
            ClientError::Stopping | ClientError::Retry(_) => ApiError::Unavailable(err.to_string()),
            ClientError::Invalid(why) => ApiError::BadRequest(why),
        }
    }

    /// Maps a replicated error result; `None` when the result is a success.
    pub fn from_result(result: &ApplyResult, what: &str) -> Option<Self> {
        match result {
            ApplyResult::NotFound => Some(ApiError::NotFound(format!("{what} not found"))),
            ApplyResult::StackEmpty => Some(ApiError::StackEmpty),
            ApplyResult::VersionMismatch { version } => {
                Some(ApiError::VersionMismatch { version: *version })
            }
            ApplyResult::BadCommand(why) => Some(ApiError::BadRequest(why.clone())),
            ApplyResult::StaleSession => Some(ApiError::StaleSession),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } | ApiError::KeyTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::NotFound(_) | ApiError::UnknownRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::StackEmpty | ApiError::StaleSession | ApiError::VersionMismatch { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::Redirect { .. } => StatusCode::TEMPORARY_REDIRECT,
            ApiError::NoLeader | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Overloaded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        let mut builder = HttpResponse::build(self.status_code());
        match self {
            ApiError::Redirect { location } => {
                builder.insert_header((header::LOCATION, location.as_str()));
                body["location"] = json!(location);
            }
            ApiError::NoLeader | ApiError::Unavailable(_) | ApiError::Overloaded(_) => {
                builder.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Timeout => body["outcome"] = json!("unknown"),
            ApiError::Unauthenticated(_) => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"raftkv\""));
            }
            ApiError::VersionMismatch { version } => body["version"] = json!(version),
            _ => {}
        }
        builder.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response counters file an error under its code; a code missing from `CODES` would be
    /// counted as `other`.
    #[test]
    fn every_error_code_is_one_of_the_counter_labels() {
        let all = [
            ApiError::BadRequest(String::new()),
            ApiError::TooLarge { got: 2, limit: 1 },
            ApiError::KeyTooLarge { got: 2, limit: 1 },
            ApiError::NotFound(String::new()),
            ApiError::UnknownRoute {
                method: "GET".into(),
                path: "/".into(),
            },
            ApiError::StackEmpty,
            ApiError::VersionMismatch { version: 1 },
            ApiError::StaleSession,
            ApiError::Redirect {
                location: "http://127.0.0.1:1/".into(),
            },
            ApiError::NoLeader,
            ApiError::Timeout,
            ApiError::Unavailable(String::new()),
            ApiError::Overloaded(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Unauthenticated(String::new()),
            ApiError::PermissionDenied(String::new()),
        ];
        let codes: Vec<&str> = all.iter().map(ApiError::code).collect();
        assert_eq!(codes, CODES);
    }
}
