//! The cluster layer's frame counters as Prometheus series, read at scrape time: the bridge
//! counts with plain atomics and knows nothing of Prometheus.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use crate::cluster::Counters;

/// Encodes a bridge's [`Counters`] on every scrape.
#[derive(Debug)]
pub(super) struct ClusterCollector(pub Counters);

impl Collector for ClusterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c = self.0.snapshot();
        counter(
            &mut encoder,
            "network_messages_sent",
            "Raft messages handed to a peer's socket (a broadcast to 4 peers counts 4)",
            c.sent,
        )?;
        counter(
            &mut encoder,
            "network_messages_received",
            "Raft messages from peers delivered to this node",
            c.received,
        )?;
        counter(
            &mut encoder,
            "network_peer_reconnects",
            "Connections to a peer made again after the previous one was lost",
            c.reconnects,
        )?;
        let dropped = [
            ("queue_full", c.dropped_queue_full),
            ("unreachable", c.dropped_unreachable),
            ("decode", c.dropped_decode),
            ("unknown_sender", c.dropped_unknown_sender),
            ("oversized", c.dropped_oversized),
            ("inbox_full", c.dropped_inbox_full),
            ("fault_out", c.dropped_fault_out),
            ("fault_in", c.dropped_fault_in),
            ("auth", c.dropped_auth),
            ("replay", c.dropped_replay),
        ];
        labelled(
            &mut encoder,
            "network_messages_dropped",
            "Raft messages or frames dropped, by reason (one series per reason; their sum is \
             every drop)",
            "reason",
            dropped.iter().map(|&(reason, n)| (reason.to_string(), n)),
        )?;
        let closed = [
            ("protocol", c.guard_protocol),
            ("timeout", c.guard_timeout),
            ("evicted", c.guard_evicted),
            ("refused", c.guard_refused),
        ];
        labelled(
            &mut encoder,
            "network_raft_port_connections_closed",
            "Inbound raft-port connections the guard closed, by reason (authentication \
             failures count in raftkv_network_messages_dropped_total{reason=\"auth\"})",
            "reason",
            closed.iter().map(|&(reason, n)| (reason.to_string(), n)),
        )?;
        let peers = self.0.peer_bytes();
        labelled(
            &mut encoder,
            "network_peer_sent_bytes",
            "Bytes of sealed frames sent to each peer",
            "to",
            peers.iter().map(|(id, b)| (id.to_string(), b.sent)),
        )?;
        labelled(
            &mut encoder,
            "network_peer_received_bytes",
            "Bytes of authenticated frames received from each peer",
            "from",
            peers.iter().map(|(id, b)| (id.to_string(), b.received)),
        )
    }
}

/// One unlabelled counter; `name` without `_total`, which the encoder appends.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let value = ConstCounter::new(value);
    value.encode(encoder.encode_descriptor(name, help, None, value.metric_type())?)
}

/// One counter family with a single label.
fn labelled(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl Iterator<Item = (String, u64)>,
) -> Result<(), std::fmt::Error> {
    let kind = ConstCounter::new(0u64).metric_type();
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (label_value, n) in values {
        let labels = [(label, label_value)];
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
