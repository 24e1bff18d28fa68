//! One node's Prometheus metrics, served by `GET /metrics` in the Prometheus text format.
//!
//! A [`NodeMetrics`] is made once per node, by the replicator's constructor, and handed out as
//! cheap clones (every handle is an `Arc`): the replicator counts and times what it drives, the
//! log writer times its fsyncs, the HTTP middleware times requests. Three kinds of series:
//!
//! - counters and histograms, updated where the event happens;
//! - gauges that copy the core's state (term, indexes, leadership), set by the replicator just
//!   before each scrape is encoded (`GetMetrics`), so nothing on the hot path keeps them fresh;
//! - the cluster layer's frame counters ([`cluster::ClusterCollector`]), read at scrape time, so
//!   the cluster layer stays free of any metrics type.
//!
//! Names follow etcd's (`etcd_server_*`, `etcd_disk_*`, `etcd_network_*`) with the `raftkv_`
//! prefix where the meaning is the same; durations are in seconds and counters end in `_total`.
//!
//! No series carries a `node` label: every series on one endpoint is one node's, and Prometheus
//! adds `instance` to each scrape, so a node label would only repeat it. `raftkv_server_id`
//! maps an instance to its Raft node id for dashboards that want the id.

mod cluster;
mod http;

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use http::{ForwardLabels, HttpLabels, HttpMetrics, ResponseLabels};

use crate::raft::NodeId;

/// The `Content-Type` of the exposition `GET /metrics` answers with.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `server_id` label of `raftkv_server_id`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerIdLabel {
    server_id: String,
}

/// Every metric of one node. Clones share the same series.
#[derive(Clone, Debug)]
pub struct NodeMetrics {
    registry: Arc<Registry>,
    /// Set at scrape time from the core: 1 if this node knows a leader (itself included).
    pub has_leader: Gauge,
    /// Set at scrape time: 1 if this node leads.
    pub is_leader: Gauge,
    /// Set at scrape time: the current term.
    pub term: Gauge,
    /// Set at scrape time: the highest index known committed, and the highest applied.
    pub commit_index: Gauge,
    pub applied_index: Gauge,
    /// Set at scrape time: proposals waiting for their entry to apply.
    pub proposals_pending: Gauge,
    /// Set at scrape time: the newest snapshot's index (0: none), and the first index the
    /// in-memory log holds.
    pub snapshot_index: Gauge,
    pub log_first_index: Gauge,
    pub leader_changes_seen: Counter,
    /// Proposals this node accepted as leader (entries appended to its log for a client).
    pub proposals_accepted: Counter,
    /// Entries this node learned committed, and entries it applied.
    pub proposals_committed: Counter,
    pub proposals_applied: Counter,
    /// Proposals refused (not leader, busy) or whose client stopped waiting (deadline).
    pub proposals_failed: Counter,
    pub reads: Counter,
    /// Campaigns started (a pre-vote, or a candidacy on TimeoutNow), and of those the ones an
    /// election timeout began.
    pub elections_started: Counter,
    pub election_timeouts: Counter,
    /// Snapshots of the own state written, writes that failed, and leaders' snapshots installed.
    pub snapshots_written: Counter,
    pub snapshot_failures: Counter,
    pub snapshots_installed: Counter,
    /// One `fsync` of the log writer (`LogStore::sync`), in seconds.
    pub wal_fsync_duration: Histogram,
    /// Applying one chunk of committed entries to the state machine, in seconds.
    pub apply_duration: Histogram,
    /// Writing one snapshot file of the state machine, in seconds.
    pub snapshot_save_duration: Histogram,
    /// On the leader: from accepting a proposal to learning its entry committed, in seconds.
    pub proposal_commit_duration: Histogram,
    pub http: HttpMetrics,
}

impl NodeMetrics {
    /// Registers every series of node `id`; `cluster` is its bridge's live counters.
    pub fn new(id: NodeId, cluster: crate::cluster::Counters) -> Self {
        let mut registry = Registry::with_prefix("raftkv");
        let m = NodeMetrics {
            registry: Arc::default(),
            has_leader: Gauge::default(),
            is_leader: Gauge::default(),
            term: Gauge::default(),
            commit_index: Gauge::default(),
            applied_index: Gauge::default(),
            proposals_pending: Gauge::default(),
            snapshot_index: Gauge::default(),
            log_first_index: Gauge::default(),
            leader_changes_seen: Counter::default(),
            proposals_accepted: Counter::default(),
            proposals_committed: Counter::default(),
            proposals_applied: Counter::default(),
            proposals_failed: Counter::default(),
            reads: Counter::default(),
            elections_started: Counter::default(),
            election_timeouts: Counter::default(),
            snapshots_written: Counter::default(),
            snapshot_failures: Counter::default(),
            snapshots_installed: Counter::default(),
            // 100 µs to about 13 s: local SSDs sync in well under etcd's 1 ms first bucket.
            wal_fsync_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            apply_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            // 1 ms to about 33 s: a snapshot is the whole state machine.
            snapshot_save_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            proposal_commit_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            http: HttpMetrics::default(),
        };
        m.register(&mut registry, id, cluster);
        NodeMetrics {
            registry: Arc::new(registry),
            ..m
        }
    }

    fn register(&self, r: &mut Registry, id: NodeId, cluster: crate::cluster::Counters) {
        let server_id = Family::<ServerIdLabel, Gauge>::default();
        server_id
            .get_or_create(&ServerIdLabel {
                server_id: id.to_string(),
            })
            .set(1);
        r.register(
            "server_id",
            "1 for the server_id label holding this node's Raft id",
            server_id,
        );
        let gauges = [
            (
                "server_has_leader",
                "1 if a leader exists (as far as this node knows), else 0",
                &self.has_leader,
            ),
            (
                "server_is_leader",
                "1 if this node is the leader, else 0",
                &self.is_leader,
            ),
            ("server_term", "The current Raft term", &self.term),
            (
                "server_commit_index",
                "The highest log index known committed",
                &self.commit_index,
            ),
            (
                "server_applied_index",
                "The highest log index applied to the state machine",
                &self.applied_index,
            ),
            (
                "server_proposals_pending",
                "Proposals waiting for their entry to apply",
                &self.proposals_pending,
            ),
            (
                "server_snapshot_index",
                "The index of the newest snapshot held (0: none)",
                &self.snapshot_index,
            ),
            (
                "server_log_first_index",
                "The first index of the in-memory log; entries before it were compacted",
                &self.log_first_index,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        // Registered without `_total`: the encoder appends it to every counter.
        let counters = [
            (
                "server_leader_changes_seen",
                "Leader changes seen by this node",
                &self.leader_changes_seen,
            ),
            (
                "server_proposals_accepted",
                "Proposals this node accepted as leader",
                &self.proposals_accepted,
            ),
            (
                "server_proposals_committed",
                "Log entries this node learned committed",
                &self.proposals_committed,
            ),
            (
                "server_proposals_applied",
                "Log entries this node applied",
                &self.proposals_applied,
            ),
            (
                "server_proposals_failed",
                "Proposals refused, or whose client stopped waiting",
                &self.proposals_failed,
            ),
            (
                "server_reads",
                "Reads served (local or linearizable)",
                &self.reads,
            ),
            (
                "server_elections_started",
                "Campaigns this node started (pre-votes, or candidacies on TimeoutNow)",
                &self.elections_started,
            ),
            (
                "server_election_timeouts",
                "Campaigns begun by an election timeout rather than a leadership transfer",
                &self.election_timeouts,
            ),
            (
                "server_snapshots_written",
                "Snapshots this node wrote of its state machine",
                &self.snapshots_written,
            ),
            (
                "server_snapshot_failures",
                "Snapshot writes that failed (the log was left uncompacted)",
                &self.snapshot_failures,
            ),
            (
                "server_snapshots_installed",
                "Snapshots received from a leader and installed",
                &self.snapshots_installed,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let histograms = [
            (
                "disk_wal_fsync_duration_seconds",
                "The latency of fsync called by the log writer",
                &self.wal_fsync_duration,
            ),
            (
                "server_apply_duration_seconds",
                "The latency of applying one chunk of committed entries",
                &self.apply_duration,
            ),
            (
                "disk_snapshot_save_duration_seconds",
                "The latency of writing one state-machine snapshot file",
                &self.snapshot_save_duration,
            ),
            (
                "server_proposal_commit_duration_seconds",
                "On the leader, from accepting a proposal to learning its entry committed",
                &self.proposal_commit_duration,
            ),
        ];
        for (name, help, histogram) in histograms {
            r.register(name, help, histogram.clone());
        }
        self.http.register(r);
        r.register_collector(Box::new(cluster::ClusterCollector(cluster)));
    }

    /// Encodes every series in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl NodeMetrics {
    /// The value of one series as encoded, named with its labels as in the exposition
    /// (`raftkv_disk_wal_fsync_duration_seconds_count`,
    /// `raftkv_network_messages_dropped_total{reason="auth"}`), for benchmarks and tests.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.encode().lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.parse().ok()
        })
    }
}

/// Sets a gauge from a count (indexes and terms fit an `i64` for any real log).
pub(crate) fn set_gauge(gauge: &Gauge, value: u64) {
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
}
