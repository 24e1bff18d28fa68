//! The end-of-run summary: throughput and latency percentiles, as text or one JSON line.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

use super::worker::{self, Measured, Shared};
use super::Workload;
use crate::cli::args::{BenchOp, BenchTarget, WriteOut};
use crate::cli::output::{emit, Table};

/// Everything the summary reports.
pub struct Summary {
    pub op: BenchOp,
    pub target: BenchTarget,
    pub clients: usize,
    pub value_size: usize,
    pub keys: u64,
    pub leader: String,
    /// The measuring window: from the moment every client had started to the stop signal.
    pub elapsed: Duration,
    /// Requests that succeeded, including those in flight when the window closed.
    pub ok: u64,
    /// Requests that succeeded within the window: the throughput's numerator.
    pub ok_in_window: u64,
    pub errors: u64,
    /// Attempts turned away as overloaded and sent again (their operations are not errors).
    pub retries: u64,
    pub latency_us: Histogram<u64>,
    pub last_error: Option<String>,
    /// The last overload answer, when there were retries.
    pub last_refusal: Option<String>,
}

impl Summary {
    /// Merges every worker's histogram into one summary.
    pub fn merge(
        args: &Workload,
        leader: &str,
        elapsed: Duration,
        ok_in_window: u64,
        shared: &Shared,
        measured: Vec<Measured>,
    ) -> Summary {
        let mut latency_us = worker::histogram();
        let (mut last_error, mut last_refusal) = (None, None);
        for m in measured {
            // Both histograms share the same bounds, so adding cannot fail.
            let _ = latency_us.add(&m.latency_us);
            last_error = last_error.or(m.last_error);
            last_refusal = last_refusal.or(m.last_refusal);
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
            ok_in_window,
            errors: shared.errors.load(Ordering::Relaxed),
            retries: shared.retries.load(Ordering::Relaxed),
            latency_us,
            last_error,
            last_refusal,
        }
    }

    /// Requests completed per second of the window.
    pub fn throughput(&self) -> f64 {
        self.ok_in_window as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at `quantile` (0..=1), in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The slowest request, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latency_us.max() as f64 / 1000.0
    }

    /// The operation's name as on the command line (`put`).
    pub fn op_name(&self) -> String {
        format!("{:?}", self.op).to_lowercase()
    }

    /// The target's name as on the command line (`raftkv`).
    pub fn target_name(&self) -> String {
        format!("{:?}", self.target).to_lowercase()
    }

    /// The one-line JSON form of the summary.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "target": self.target_name(), "op": self.op_name(), "clients": self.clients,
            "value_size": self.value_size, "keys": self.keys, "leader": self.leader,
            "duration_s": self.elapsed.as_secs_f64(), "ok": self.ok, "errors": self.errors,
            "retries": self.retries,
            "throughput_ops": self.throughput(),
            "latency_ms": {
                "p50": self.ms(0.50), "p90": self.ms(0.90), "p99": self.ms(0.99),
                "p999": self.ms(0.999), "max": self.max_ms(),
            },
            "last_error": self.last_error,
        })
    }

    /// The summary as a one-row table, like the sweep's.
    fn table(&self) -> Table {
        let mut table = Table::new(&[
            "TARGET", "OP", "CLIENTS", "VALUE", "KEYS", "SECONDS", "LEADER", "OK", "ERRORS",
            "RETRIES", "OPS/S", "P50 MS", "P90 MS", "P99 MS", "P99.9 MS", "MAX MS",
        ]);
        table.row(vec![
            self.target_name(),
            self.op_name(),
            self.clients.to_string(),
            self.value_size.to_string(),
            self.keys.to_string(),
            format!("{:.1}", self.elapsed.as_secs_f64()),
            self.leader.clone(),
            self.ok.to_string(),
            self.errors.to_string(),
            self.retries.to_string(),
            format!("{:.0}", self.throughput()),
            format!("{:.2}", self.ms(0.50)),
            format!("{:.2}", self.ms(0.90)),
            format!("{:.2}", self.ms(0.99)),
            format!("{:.2}", self.ms(0.999)),
            format!("{:.2}", self.max_ms()),
        ]);
        table
    }

    /// Prints the summary in `format`: a paragraph (simple), a one-row table, or JSON.
    pub fn print(&self, format: WriteOut) {
        let text = match format {
            WriteOut::Json => format!("{}\n", self.json()),
            WriteOut::Table => self.table().render(),
            WriteOut::Simple => {
                let mut s = format!(
                    "{} {}: {} clients, {}-byte values, {} keys, {:.1}s against {}\n\
                     requests:   {} ok, {} errors, {} retries (overloaded)\n\
                     throughput: {:.0} ops/s\n\
                     latency:    p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, \
                     max {:.2} ms\n",
                    self.target_name(),
                    self.op_name(),
                    self.clients,
                    self.value_size,
                    self.keys,
                    self.elapsed.as_secs_f64(),
                    self.leader,
                    self.ok,
                    self.errors,
                    self.retries,
                    self.throughput(),
                    self.ms(0.50),
                    self.ms(0.90),
                    self.ms(0.99),
                    self.ms(0.999),
                    self.max_ms(),
                );
                if let (Some(e), true) = (&self.last_error, self.errors > 0) {
                    s.push_str(&format!("last error: {e}\n"));
                }
                if let (Some(r), true) = (&self.last_refusal, self.retries > 0) {
                    s.push_str(&format!("last overload answer: {r}\n"));
                }
                s
            }
        };
        emit(text.as_bytes());
    }

    /// Why no request succeeded, for the error a run with none ends with.
    pub fn why_none_succeeded(&self) -> String {
        match (&self.last_error, &self.last_refusal) {
            (Some(e), _) => format!("{}: no request succeeded ({e})", self.leader),
            (None, Some(r)) => format!(
                "{}: no request succeeded ({} attempts turned away, last: {r})",
                self.leader, self.retries
            ),
            (None, None) => format!("{}: no request succeeded (no answer)", self.leader),
        }
    }
}
