//! The cluster level: nodes talking to each other. The ZeroMQ bridge (`raftkv::cluster`) on
//! loopback (`cluster_*`: delivery, faults, hostile peers, membership, restarts) and the fault
//! scenarios on real `raftkv node` processes (`fault_*`: leader crashes and kills, a minority, a
//! partition, crash mid-write, bad input, attacks on the raft port), and the cluster across hosts
//! (`hosts_containers`: three containers of the shipped image, faults made by Docker).

#[path = "../support/mod.rs"]
mod support;

mod cluster_delivery;
mod cluster_faults;
mod cluster_hostile;
mod cluster_membership;
mod cluster_restart;
mod cluster_throughput;
mod fault_bad_input;
mod fault_crash_write;
mod fault_leader_crash;
mod fault_leader_kills;
mod fault_minority;
mod fault_partition;
mod fault_raft_port;
mod hosts_containers;
