//! Times HTTP requests and counts responses by status and API error code, for
//! `raftkv_http_request_duration_seconds` and `raftkv_http_responses_total` in `/metrics`. A
//! middleware does it, so handlers stay untouched.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::error::CODES;
use super::{ApiError, ApiState};
use crate::metrics::{HttpLabels, ResponseLabels};

/// Statuses counted under their own number: those the API answers with. Any other is counted
/// under its class (`"2xx"` … `"5xx"`), so the label set stays fixed.
const STATUSES: [u16; 11] = [200, 307, 400, 404, 405, 409, 413, 429, 500, 503, 504];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The `error` slot (label `none`) of a response that is not an error.
const NONE_SLOT: usize = CODES.len();
/// The `error` slot (label `other`) of an error response not built from an [`ApiError`]
/// (actix-web's own, such as 405 for a known path with another method).
const OTHER_SLOT: usize = CODES.len() + 1;

/// Middleware for `actix_web::middleware::from_fn`: times every request of the app and counts
/// its response in its [`ApiState`]'s metrics (an app without an `ApiState` is served
/// unmeasured).
pub async fn count_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let http = req
        .app_data::<web::Data<ApiState>>()
        .map(|st| st.metrics.http.clone());
    // A pattern, never the path: the label set stays bounded whatever clients ask for.
    let route = req
        .match_pattern()
        .map_or_else(|| "unmatched".into(), |p| route_label(&p));
    let method = method_label(req.method());
    let result = next.call(req).await;
    if let Some(http) = http {
        let (status, error) = match &result {
            Ok(res) => (res.status(), res.response().error()),
            Err(e) => (e.as_response_error().status_code(), Some(e)),
        };
        let code = status_label(status_slot(status));
        http.request_duration
            .get_or_create(&HttpLabels {
                method: method.into(),
                route,
                code: code.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        http.responses
            .get_or_create(&ResponseLabels {
                status: code,
                error: error_label(error_slot(status, error)).into(),
            })
            .inc();
    }
    result
}

/// A route pattern with each `{name:regex}` segment written `:name` (`/v1/kv/:key`): shorter
/// in a legend, and no braces inside a label value, which some exposition parsers mishandle.
fn route_label(pattern: &str) -> String {
    let mut label = String::with_capacity(pattern.len());
    // Inside a segment: its brace depth (a regex may hold braces of its own), and whether its
    // name ended (at the `:` before the regex).
    let (mut depth, mut named) = (0usize, false);
    for ch in pattern.chars() {
        match ch {
            '{' if depth == 0 => {
                depth = 1;
                named = false;
                label.push(':');
            }
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 1 => named = true,
            _ if depth == 0 => label.push(ch),
            _ if !named => label.push(ch),
            _ => {}
        }
    }
    label
}

/// The methods the API serves; any other is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// The `error` slot of a response; `error` is the error it was built from, if any.
fn error_slot(status: StatusCode, error: Option<&actix_web::Error>) -> usize {
    match error {
        Some(e) => match e.as_error::<ApiError>() {
            Some(api) => code_slot(api.code()),
            None => OTHER_SLOT,
        },
        None if status.as_u16() >= 400 => OTHER_SLOT,
        None => NONE_SLOT,
    }
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

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn a_route_label_names_segments_without_their_regex() {
        assert_eq!(route_label("/v1/kv/{key:.+}"), "/v1/kv/:key");
        assert_eq!(route_label("/v1/stacks/{id}/pop"), "/v1/stacks/:id/pop");
        assert_eq!(route_label("/a/{x:[0-9]{2}}/b/{y}"), "/a/:x/b/:y");
        assert_eq!(route_label("/metrics"), "/metrics");
    }
}
