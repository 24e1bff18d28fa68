//! The clients level: what a user or a client program sees. The `raftkv` command line (`cli_*`),
//! etcd's v3 gRPC API and etcd's own clients (`etcd_*`), and the memcached-style text protocol
//! (`text_*`). Client-facing security (TLS, authentication, limits) belongs here too, and the
//! cluster view in a real browser (`ui_browser`).

#[path = "../support/mod.rs"]
mod support;

mod cli_bench_sweep;
mod cli_chaos;
mod cli_client;
mod cli_cluster;
mod cli_manual;
mod cli_txlog;
mod cli_unavailable;
mod client_flood;
mod client_limits;
mod client_security;
mod etcd_grpc;
mod etcd_tools;
mod lease_auth;
mod text_protocol;
mod text_replication;
mod ui_browser;
