//! The end-of-run summary: throughput and latency percentiles, as text or one JSON line.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

use super::worker::{self, Measured, Shared};
use crate::cli::args::{BenchArgs, BenchOp, BenchTarget, WriteOut};
use crate::cli::output::emit;

/// Everything the summary reports.
pub struct Summary {
    pub op: BenchOp,
    pub target: BenchTarget,
    pub clients: usize,
    pub value_size: usize,
    pub keys: u64,
    pub leader: String,
    pub elapsed: Duration,
    pub ok: u64,
    pub errors: u64,
    pub latency_us: Histogram<u64>,
    pub last_error: Option<String>,
}

impl Summary {
    /// Merges every worker's histogram into one summary.
    pub fn merge(
        args: &BenchArgs,
        leader: &str,
        elapsed: Duration,
        shared: &Shared,
        measured: Vec<Measured>,
    ) -> Summary {
        let mut latency_us = worker::histogram();
        let mut last_error = None;
        for m in measured {
            // Both histograms share the same bounds, so adding cannot fail.
            let _ = latency_us.add(&m.latency_us);
            last_error = last_error.or(m.last_error);
        }
        Summary {
            op: args.op,
            target: args.target,
            clients: args.clients,
            value_size: args.value_size,
            keys: args.keys,
            leader: leader.to_string(),
            elapsed,
            ok: shared.ok.load(Ordering::Relaxed),
            errors: shared.errors.load(Ordering::Relaxed),
            latency_us,
            last_error,
        }
    }

    /// Completed requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at `quantile` (0..=1), in milliseconds.
    fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Prints the summary in `format` (table and simple print the same text).
    pub fn print(&self, format: WriteOut) {
        let op = format!("{:?}", self.op).to_lowercase();
        let target = format!("{:?}", self.target).to_lowercase();
        let max_ms = self.latency_us.max() as f64 / 1000.0;
        let text = match format {
            WriteOut::Json => format!(
                "{}\n",
                json!({
                    "target": target, "op": op, "clients": self.clients,
                    "value_size": self.value_size, "keys": self.keys, "leader": self.leader,
                    "duration_s": self.elapsed.as_secs_f64(), "ok": self.ok, "errors": self.errors,
                    "throughput_ops": self.throughput(),
                    "latency_ms": {
                        "p50": self.ms(0.50), "p90": self.ms(0.90), "p99": self.ms(0.99),
                        "max": max_ms,
                    },
                    "last_error": self.last_error,
                })
            ),
            WriteOut::Simple | WriteOut::Table => {
                let mut s = format!(
                    "{target} {op}: {} clients, {}-byte values, {} keys, {:.1}s against {}\n\
                     requests:   {} ok, {} errors\n\
                     throughput: {:.0} ops/s\n\
                     latency:    p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
                    self.clients,
                    self.value_size,
                    self.keys,
                    self.elapsed.as_secs_f64(),
                    self.leader,
                    self.ok,
                    self.errors,
                    self.throughput(),
                    self.ms(0.50),
                    self.ms(0.90),
                    self.ms(0.99),
                    max_ms,
                );
                if let (Some(e), true) = (&self.last_error, self.errors > 0) {
                    s.push_str(&format!("last error: {e}\n"));
                }
                s
            }
        };
        emit(text.as_bytes());
    }
}
