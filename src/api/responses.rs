//! Counts HTTP responses by status and API error code, for `raftkv_http_responses_total` in
//! `/metrics`. A middleware does the counting, so handlers stay untouched.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;

use super::error::CODES;
use super::{ApiError, ApiState};
use crate::raft::NodeId;

/// Statuses counted under their own number: those the API answers with. Any other is counted
/// under its class (`"2xx"` … `"5xx"`), so the label set stays fixed.
const STATUSES: [u16; 11] = [200, 307, 400, 404, 405, 409, 413, 429, 500, 503, 504];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const STATUS_SLOTS: usize = STATUSES.len() + CLASSES.len();

/// The `error` slot (label `none`) of a response that is not an error.
const NONE_SLOT: usize = CODES.len();
/// The `error` slot (label `other`) of an error response not built from an [`ApiError`]
/// (actix-web's own, such as 405 for a known path with another method).
const OTHER_SLOT: usize = CODES.len() + 1;
const ERROR_SLOTS: usize = CODES.len() + 2;

/// Response counts by (status, error code): a fixed grid of atomics, shared by every HTTP worker
/// without a lock.
#[derive(Debug)]
pub struct ResponseCounters {
    counts: [[AtomicU64; ERROR_SLOTS]; STATUS_SLOTS],
}

impl Default for ResponseCounters {
    fn default() -> Self {
        ResponseCounters {
            counts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl ResponseCounters {
    /// Counts one response; `error` is the error it was built from, if any.
    fn record(&self, status: StatusCode, error: Option<&actix_web::Error>) {
        let error_slot = match error {
            Some(e) => match e.as_error::<ApiError>() {
                Some(api) => code_slot(api.code()),
                None => OTHER_SLOT,
            },
            None if status.as_u16() >= 400 => OTHER_SLOT,
            None => NONE_SLOT,
        };
        // Relaxed: each counter is independent and only ever read for display.
        self.counts[status_slot(status)][error_slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Appends `raftkv_http_responses_total` in the Prometheus text format: one line per
    /// (status, error) pair seen at least once.
    pub fn render(&self, node: NodeId, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP raftkv_http_responses_total HTTP responses, by status and API error code."
        );
        let _ = writeln!(out, "# TYPE raftkv_http_responses_total counter");
        for (status_slot, row) in self.counts.iter().enumerate() {
            for (error_slot, count) in row.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "raftkv_http_responses_total{{node=\"{node}\",status=\"{}\",error=\"{}\"}} {count}",
                    status_label(status_slot),
                    error_label(error_slot)
                );
            }
        }
    }
}

/// Middleware for `actix_web::middleware::from_fn`: counts every response of the app in its
/// [`ApiState`]'s counters (an app without an `ApiState` is served uncounted).
pub async fn count_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let counters = req
        .app_data::<web::Data<ApiState>>()
        .map(|st| std::sync::Arc::clone(&st.responses));
    let result = next.call(req).await;
    if let Some(counters) = counters {
        match &result {
            Ok(res) => counters.record(res.status(), res.response().error()),
            Err(e) => counters.record(e.as_response_error().status_code(), Some(e)),
        }
    }
    result
}

fn status_slot(status: StatusCode) -> usize {
    let code = status.as_u16();
    match STATUSES.iter().position(|&s| s == code) {
        Some(slot) => slot,
        // StatusCode guarantees 100..=999; classes above 5xx are not HTTP, so they join 5xx.
        None => STATUSES.len() + usize::from(code / 100).clamp(1, CLASSES.len()) - 1,
    }
}

fn status_label(slot: usize) -> String {
    match STATUSES.get(slot) {
        Some(code) => code.to_string(),
        None => CLASSES[slot - STATUSES.len()].to_string(),
    }
}

fn code_slot(code: &str) -> usize {
    let slot = CODES.iter().position(|&c| c == code);
    debug_assert!(
        slot.is_some(),
        "ApiError code {code:?} is missing from CODES"
    );
    slot.unwrap_or(OTHER_SLOT)
}

fn error_label(slot: usize) -> &'static str {
    match slot {
        NONE_SLOT => "none",
        OTHER_SLOT => "other",
        _ => CODES[slot],
    }
}
