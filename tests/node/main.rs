//! The node level: one node's behaviour, through its doors, on real `raftkv node` processes or
//! replicator actors in this process: the HTTP API and `/v1/kv`, health, metrics, admission control,
//! overload, forwarding to the leader, snapshots, membership on processes, the replicator itself,
//! and the config file (`config_*`).

#[path = "../support/mod.rs"]
mod support;

mod config_errors;
mod config_shipped;
mod kv_http;
mod node_admission;
mod node_forwarding;
mod node_health;
mod node_http;
mod node_membership;
mod node_metrics;
mod node_overload;
mod node_replicator;
mod node_snapshot;
