//! HTTP series: request latency and responses by status and API error code. The API's
//! middleware fills them; the label values it may use are bounded there (route patterns, not
//! paths; listed statuses, other ones by class).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `raftkv_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// A method the API serves, or `other`.
    pub method: String,
    /// The matched route's pattern with `:name` segments (`/v1/kv/:key`), or `unmatched`.
    pub route: String,
    /// The status code, or its class (`4xx`) for one the API does not answer with itself.
    pub code: String,
}

/// Labels of `raftkv_http_responses_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    /// As [`HttpLabels::code`].
    pub status: String,
    /// The API error code of the JSON body, `none` for a success, `other` for an error not
    /// built by the API (actix-web's own).
    pub error: String,
}

/// Labels of `raftkv_http_forwarded_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForwardLabels {
    /// `relayed` (the leader answered, whatever its status), `unreachable` (nothing sent),
    /// `timeout`, `failed` (sent, outcome unknown), `overloaded` (no place in flight left), or
    /// `second_hop` (a forwarded request reached
    /// a node that no longer leads and was refused rather than forwarded again).
    pub outcome: &'static str,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// The HTTP series of one node.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    /// From a request entering the app to its response being ready, in seconds.
    pub request_duration: HistogramFamily,
    pub responses: Family<ResponseLabels, Counter>,
    /// Leader-only requests a follower forwarded to its leader, by outcome.
    pub forwarded: Family<ForwardLabels, Counter>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        fn histogram() -> Histogram {
            // 100 µs to about 6.5 s: a write waits for a quorum's fsync; 5 s is the timeout.
            Histogram::new(exponential_buckets(0.0001, 2.0, 17))
        }
        HttpMetrics {
            request_duration: Family::new_with_constructor(histogram),
            responses: Family::default(),
            forwarded: Family::default(),
        }
    }
}

impl HttpMetrics {
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route pattern and status code",
            self.request_duration.clone(),
        );
        r.register(
            "http_responses",
            "HTTP responses, by status and API error code",
            self.responses.clone(),
        );
        r.register(
            "http_forwarded_requests",
            "Leader-only HTTP requests this node forwarded to the leader, by outcome",
            self.forwarded.clone(),
        );
    }
}
