//! `/metrics` of real `raftkv node` processes, read with a Prometheus text-format parser
//! (`prometheus-parse`): after writes every node exposes etcd-named series with the right
//! types, histograms in seconds that observed the fsyncs, applies and requests, one leader, and
//! the peer bytes of both of its peers. The shipped Grafana dashboard uses only series that a
//! node exposes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::{wait_for, Cluster};
use prometheus_parse::{Sample, Scrape, Value};

const BOUND: Duration = Duration::from_secs(20);

/// Writes: more than `snapshot_entries` (its minimum, 100), so every node writes a snapshot.
const WRITES: u64 = 120;

/// What a series' `# TYPE` line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every name the issue asks for, with its type.
const EXPECTED: [(&str, Kind); 31] = [
    ("raftkv_server_id", Kind::Gauge),
    ("raftkv_server_has_leader", Kind::Gauge),
    ("raftkv_server_is_leader", Kind::Gauge),
    ("raftkv_server_term", Kind::Gauge),
    ("raftkv_server_commit_index", Kind::Gauge),
    ("raftkv_server_applied_index", Kind::Gauge),
    ("raftkv_server_proposals_pending", Kind::Gauge),
    ("raftkv_server_snapshot_index", Kind::Gauge),
    ("raftkv_server_log_first_index", Kind::Gauge),
    ("raftkv_server_leader_changes_seen_total", Kind::Counter),
    ("raftkv_server_proposals_accepted_total", Kind::Counter),
    ("raftkv_server_proposals_committed_total", Kind::Counter),
    ("raftkv_server_proposals_applied_total", Kind::Counter),
    ("raftkv_server_proposals_failed_total", Kind::Counter),
    ("raftkv_server_reads_total", Kind::Counter),
    ("raftkv_server_elections_started_total", Kind::Counter),
    ("raftkv_server_election_timeouts_total", Kind::Counter),
    ("raftkv_server_snapshots_written_total", Kind::Counter),
    ("raftkv_server_snapshot_failures_total", Kind::Counter),
    ("raftkv_server_snapshots_installed_total", Kind::Counter),
    ("raftkv_disk_wal_fsync_duration_seconds", Kind::Histogram),
    ("raftkv_server_apply_duration_seconds", Kind::Histogram),
    (
        "raftkv_disk_snapshot_save_duration_seconds",
        Kind::Histogram,
    ),
    (
        "raftkv_server_proposal_commit_duration_seconds",
        Kind::Histogram,
    ),
    ("raftkv_http_request_duration_seconds", Kind::Histogram),
    ("raftkv_http_responses_total", Kind::Counter),
    ("raftkv_network_messages_sent_total", Kind::Counter),
    ("raftkv_network_messages_received_total", Kind::Counter),
    ("raftkv_network_messages_dropped_total", Kind::Counter),
    ("raftkv_network_peer_sent_bytes_total", Kind::Counter),
    ("raftkv_network_peer_received_bytes_total", Kind::Counter),
];

/// One node's exposition, parsed.
struct Exposition {
    text: String,
    samples: Vec<Sample>,
}

/// Parses `text` with `prometheus-parse`, and fails unless the parser understood every sample
/// line: it skips lines it cannot read, so a malformed line would otherwise go unnoticed.
fn parse(text: &str) -> Result<Exposition, String> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = Scrape::parse(lines).map_err(|e| e.to_string())?;
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    // A histogram's buckets fold into one sample; its `_sum` and `_count` stay samples.
    let understood: usize = scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            Value::Histogram(buckets) => buckets.len(),
            _ => 1,
        })
        .sum();
    if understood != sample_lines {
        return Err(format!(
            "{sample_lines} sample lines, {understood} understood by the parser"
        ));
    }
    Ok(Exposition {
        text: text.to_string(),
        samples: scrape.samples,
    })
}

impl Exposition {
    fn kind(&self, name: &str) -> Option<Kind> {
        let s = self.samples.iter().find(|s| s.metric == name)?;
        match s.value {
            Value::Counter(_) => Some(Kind::Counter),
            Value::Gauge(_) => Some(Kind::Gauge),
            Value::Histogram(_) => Some(Kind::Histogram),
            _ => None,
        }
    }

    /// The value of the unlabelled counter or gauge `name`, or of the series with `label`.
    fn value(&self, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
        self.samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .find_map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) => Some(v),
                _ => None,
            })
    }

    /// Every series of histogram `name`: its finite bucket bounds and the `+Inf` count.
    fn histograms(&self, name: &str) -> Vec<(Vec<f64>, f64)> {
        self.samples
            .iter()
            .filter(|s| s.metric == name)
            .filter_map(|s| match &s.value {
                Value::Histogram(buckets) => {
                    let finite = buckets
                        .iter()
                        .map(|b| b.less_than)
                        .filter(|b| b.is_finite());
                    let total = buckets
                        .iter()
                        .find(|b| b.less_than.is_infinite())
                        .map(|b| b.count)?;
                    Some((finite.collect(), total))
                }
                _ => None,
            })
            .collect()
    }

    /// Every metric name a query may use: sample names, with `_bucket` for histograms.
    fn names(&self) -> BTreeSet<String> {
        self.text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }
}

fn scrape(c: &Cluster, id: u64) -> Exposition {
    let reply = c
        .request("GET", id, "/metrics", None)
        .unwrap_or_else(|e| panic!("node {id}: {e}"));
    assert_eq!(reply.status, 200, "node {id}: {reply:?}");
    parse(&reply.body).unwrap_or_else(|e| panic!("node {id}: {e}\n{}", reply.body))
}

#[test]
fn the_parser_check_fails_on_a_malformed_line_and_follows_type_lines() {
    let good = "# TYPE a_total counter\na_total 1\n# TYPE h histogram\n\
                h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\nb 3\n";
    let e = parse(good).expect("a well-formed exposition");
    assert_eq!(e.kind("a_total"), Some(Kind::Counter));
    assert_eq!(e.kind("h"), Some(Kind::Histogram));
    // No TYPE line: the parser calls it untyped, which no expectation above accepts.
    assert_eq!(e.kind("b"), None);
    assert_eq!(e.histograms("h"), vec![(vec![0.5], 2.0)]);

    let unclosed_labels = good.replace("a_total 1", "a_total{reason=\"x\" 1");
    assert!(parse(&unclosed_labels).is_err(), "{unclosed_labels}");
    let bad_value = good.replace("b 3", "b three");
    assert!(parse(&bad_value).is_err(), "{bad_value}");
}

#[test]
fn every_node_exposes_etcd_named_series_after_writes() {
    let c = Cluster::start_with(3, "snapshot_entries = 100");
    let leader = c.wait_for_leader(BOUND);
    for i in 0..WRITES {
        let reply = c
            .request_follow("PUT", leader, &format!("/v1/kv/k{i}"), Some(b"v"))
            .expect("the leader answers");
        assert_eq!(reply.status, 200, "write {i}: {reply:?}");
    }
    // Applying and snapshotting go on after the answers: wait for them on every node.
    let scrapes: BTreeMap<u64, Exposition> = (1..=3)
        .map(|id| {
            let e = wait_for("applied writes and a snapshot", BOUND, || {
                let e = scrape(&c, id);
                let applied = e.value("raftkv_server_proposals_applied_total", None)?;
                let snapshots = e.value("raftkv_server_snapshots_written_total", None)?;
                (applied >= WRITES as f64 && snapshots >= 1.0).then_some(e)
            });
            (id, e)
        })
        .collect();

    for (&id, e) in &scrapes {
        for (name, kind) in EXPECTED {
            assert_eq!(e.kind(name), Some(kind), "node {id}: {name}\n{}", e.text);
        }
        assert!(!e.text.contains("node=\""), "node {id}: a node label");
        assert_eq!(e.value("raftkv_server_has_leader", None), Some(1.0), "{id}");
        let committed = e.value("raftkv_server_proposals_committed_total", None);
        assert!(committed >= Some(WRITES as f64), "node {id}: {committed:?}");
        let server_id = id.to_string();
        let labelled = e.value("raftkv_server_id", Some(("server_id", &server_id)));
        assert_eq!(labelled, Some(1.0), "node {id}");
        // Every histogram is in seconds: bounds from 100 µs, none beyond a minute.
        for (name, kind) in EXPECTED {
            for (bounds, _) in e
                .histograms(name)
                .into_iter()
                .filter(|_| kind == Kind::Histogram)
            {
                let (first, last) = (bounds[0], bounds[bounds.len() - 1]);
                assert!(
                    first <= 0.001 && last <= 60.0,
                    "node {id}: {name} {bounds:?}"
                );
            }
        }
        for name in [
            "raftkv_disk_wal_fsync_duration_seconds",
            "raftkv_server_apply_duration_seconds",
            "raftkv_disk_snapshot_save_duration_seconds",
        ] {
            let observed: f64 = e.histograms(name).iter().map(|(_, n)| n).sum();
            assert!(observed > 0.0, "node {id}: nothing in {name}");
        }
        // The leader talks with both peers both ways; a follower only with the leader.
        let peers = (1..=3).filter(|&p| p != id && (id == leader || p == leader));
        for peer in peers.map(|p| p.to_string()) {
            for (name, label) in [
                ("raftkv_network_peer_sent_bytes_total", "to"),
                ("raftkv_network_peer_received_bytes_total", "from"),
            ] {
                let bytes = e.value(name, Some((label, &peer)));
                assert!(
                    bytes > Some(0.0),
                    "node {id}: {name} {label}={peer}: {bytes:?}"
                );
            }
        }
        let dropped = e.samples.iter().filter(|s| {
            s.metric == "raftkv_network_messages_dropped_total" && s.labels.get("reason").is_some()
        });
        assert_eq!(dropped.count(), 10, "node {id}: one series per drop reason");
    }

    let leaders: Vec<u64> = scrapes
        .iter()
        .filter(|(_, e)| e.value("raftkv_server_is_leader", None) == Some(1.0))
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(leaders, vec![leader]);
    let on_leader = &scrapes[&leader];
    let commits: f64 = on_leader
        .histograms("raftkv_server_proposal_commit_duration_seconds")
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(
        commits >= WRITES as f64,
        "{commits} proposals timed to commit"
    );
    // The writes' route pattern, never their paths.
    let puts = on_leader.samples.iter().find(|s| {
        s.metric == "raftkv_http_request_duration_seconds"
            && s.labels.get("method") == Some("PUT")
            && s.labels.get("code") == Some("200")
    });
    let puts = puts.unwrap_or_else(|| panic!("no PUT 200 series\n{}", on_leader.text));
    assert_eq!(puts.labels.get("route"), Some("/v1/kv/:key"));
    assert!(
        !on_leader.text.contains("/v1/kv/k1"),
        "a raw path as a label"
    );

    dashboard_uses_only_exposed_series(&on_leader.names());
}

/// `deploy/grafana/raftkv.json` is JSON, and every `raftkv_*` name in it is exposed.
fn dashboard_uses_only_exposed_series(exposed: &BTreeSet<String>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/raftkv.json");
    let text = std::fs::read_to_string(path).expect("the dashboard");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(json["panels"].as_array().is_some_and(|p| p.len() >= 11));
    let mut used = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("raftkv_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|&ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            .collect();
        rest = &rest[at + name.len()..];
        used.insert(name);
    }
    assert!(used.len() >= 12, "{used:?}");
    let missing: Vec<&String> = used.difference(exposed).collect();
    assert!(missing.is_empty(), "not exposed: {missing:?}");
}
