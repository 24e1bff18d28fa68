//! The etcd v3 gRPC API's wire contract: code generated from `proto/etcd/` at build time.
//!
//! `pb` holds the messages, the tonic server traits and clients, and the serde impls (proto3 JSON
//! mapping with etcd's snake_case names) for the JSON gateway. The services are implemented on
//! top of these types in this module: one file per etcd service, `context` for what they share
//! (identity for response headers, errors as etcd's statuses, forwarding to the leader),
//! `convert` between the protobuf messages and the state machine's etcd types, `server` to serve
//! them on a runtime of their own.

/// Generated code, one module per protobuf package so the cross-package paths resolve.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod pb {
    /// `etcdserverpb`: the KV, Watch, Lease, Cluster, Maintenance and Auth services.
    pub mod etcdserverpb {
        tonic::include_proto!("etcdserverpb");
        include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
    }
    /// `mvccpb`: `KeyValue` and watch `Event`.
    pub mod mvccpb {
        tonic::include_proto!("mvccpb");
        include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
    }
    /// `authpb`: `User`, `Role`, `Permission`.
    pub mod authpb {
        tonic::include_proto!("authpb");
        include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
    }
}

mod auth;
mod cluster;
mod context;
pub mod convert;
mod kv;
mod lease;
mod maintenance;
mod server;
pub mod watch;

pub use auth::AuthService;
pub use cluster::ClusterService;
pub use context::{EtcdContext, AUTHORIZATION};
pub use kv::KvService;
pub use lease::LeaseService;
pub use maintenance::MaintenanceService;
pub use server::spawn;
pub use watch::WatchService;

#[cfg(test)]
mod tests;
