//! The chaos run's HTML report: one self-contained file (inline SVG, no script) with the verdict
//! and counts, a timeline of faults and leader changes, the operations by outcome over time,
//! latency over time, and on a violation the smallest window of operations that shows it.

use std::fmt::Write;
use std::time::Duration;

use raftkv_lincheck::{KvInput, KvOutput, Verdict};

use super::history::{Counts, Event, EventKind, Op, Outcome};

pub struct Report<'a> {
    pub seed: u64,
    pub duration: Duration,
    pub nodes: Vec<u64>,
    pub counts: Counts,
    pub verdict: &'a Verdict,
    pub check_took: Duration,
    pub ops: &'a [Op],
    /// For each operation the checker saw, its index in `ops`.
    pub history_index: &'a [usize],
    pub events: &'a [Event],
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 60.0;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn describe_input(input: &KvInput<String, String>) -> String {
    match input {
        KvInput::Get { key } => format!("read {key}"),
        KvInput::Put { key, value } => format!("write {key} = {value}"),
        KvInput::Delete { key } => format!("delete {key}"),
        KvInput::Cas { key, expected, new } => format!(
            "cas {key}: {} → {new}",
            expected.as_deref().unwrap_or("(absent)")
        ),
    }
}

fn describe_output(op: &Op) -> String {
    match (&op.output, op.outcome) {
        (Some(KvOutput::Done), _) => "ok".into(),
        (Some(KvOutput::NotFound), _) => "not found".into(),
        (Some(KvOutput::Value(v)), _) => v.clone().unwrap_or_else(|| "(absent)".into()),
        (Some(KvOutput::Swapped(s)), _) => if *s { "swapped" } else { "not swapped" }.into(),
        (None, Outcome::Failed) => format!("failed: {}", op.error.as_deref().unwrap_or("")),
        (None, _) => format!("indeterminate: {}", op.error.as_deref().unwrap_or("")),
    }
}

impl Report<'_> {
    fn total_ms(&self) -> f64 {
        let last = self.ops.iter().map(|o| o.ret_ms).fold(0.0, f64::max);
        (self.duration.as_secs_f64() * 1000.0).max(last).max(1.0)
    }

    fn x(&self, ms: f64) -> f64 {
        LEFT + (WIDTH - LEFT - 10.0) * (ms / self.total_ms())
    }

    /// Seconds along the bottom of a chart `height` high.
    fn axis(&self, out: &mut String, height: f64) {
        let secs = (self.total_ms() / 1000.0).ceil() as u64;
        let step = (secs / 10).max(1);
        for s in (0..=secs).step_by(step as usize) {
            let x = self.x(s as f64 * 1000.0);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{height}" stroke="#edf0f4"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{s}s</text>"##,
                height + 14.0
            );
        }
    }

    fn timeline(&self) -> String {
        let mut out = String::new();
        let height = 90.0;
        self.axis(&mut out, height);
        let mut open: Vec<(f64, &str)> = Vec::new();
        let mut lane = 0;
        for event in self.events {
            match event.kind {
                EventKind::FaultStart => open.push((event.at_ms, &event.text)),
                EventKind::FaultEnd => {
                    for (start, text) in open.drain(..) {
                        let (x1, x2) = (self.x(start), self.x(event.at_ms));
                        let y = 8.0 + 22.0 * f64::from(lane % 2);
                        lane += 1;
                        let _ = write!(
                            out,
                            r##"<rect x="{x1:.1}" y="{y}" width="{:.1}" height="18" fill="#fed7d7" stroke="#e53e3e"><title>{}</title></rect><text x="{:.1}" y="{:.1}" class="label">{}</text>"##,
                            (x2 - x1).max(1.0),
                            esc(text),
                            x1 + 3.0,
                            y + 13.0,
                            esc(text)
                        );
                    }
                }
                EventKind::Leader => {
                    let x = self.x(event.at_ms);
                    let _ = write!(
                        out,
                        r##"<line x1="{x:.1}" y1="52" x2="{x:.1}" y2="{height}" stroke="#b7791f" stroke-width="2"><title>{}</title></line><text x="{:.1}" y="{}" class="label" fill="#b7791f">{}</text>"##,
                        esc(&event.text),
                        x + 2.0,
                        66.0 + 12.0 * f64::from(lane % 2 == 0),
                        esc(event.text.split(" leads").next().unwrap_or(""))
                    );
                }
            }
        }
        svg(&out, height + 20.0)
    }

    fn throughput(&self) -> String {
        let mut out = String::new();
        let height = 120.0;
        self.axis(&mut out, height);
        let bucket_ms = 500.0;
        let buckets = (self.total_ms() / bucket_ms).ceil() as usize + 1;
        let mut counts = vec![[0usize; 3]; buckets];
        for op in self.ops {
            let b = (op.call_ms / bucket_ms) as usize;
            let kind = match op.outcome {
                Outcome::Ok => 0,
                Outcome::Failed => 1,
                Outcome::Unknown => 2,
            };
            counts[b.min(buckets - 1)][kind] += 1;
        }
        let peak = counts
            .iter()
            .map(|c| c.iter().sum::<usize>())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let colours = ["#48bb78", "#a0aec0", "#ed8936"];
        for (b, c) in counts.iter().enumerate() {
            let x = self.x(b as f64 * bucket_ms);
            let w = (self.x(bucket_ms) - LEFT - 1.0).max(1.0);
            let mut y = height;
            for (kind, &n) in c.iter().enumerate() {
                let h = height * n as f64 / peak;
                y -= h;
                if n > 0 {
                    let _ = write!(
                        out,
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{}"><title>{n} {}</title></rect>"##,
                        colours[kind],
                        ["ok", "failed", "indeterminate"][kind]
                    );
                }
            }
        }
        let _ = write!(
            out,
            r##"<text x="4" y="12" class="tick">{:.0}/s</text><text x="4" y="{height}" class="tick">0</text>"##,
            peak * 1000.0 / bucket_ms
        );
        svg(&out, height + 20.0)
    }

    fn latency(&self) -> String {
        let mut out = String::new();
        let height = 140.0;
        self.axis(&mut out, height);
        // Log scale from 1 ms to the slowest answer.
        let slowest = self
            .ops
            .iter()
            .map(|o| o.ret_ms - o.call_ms)
            .fold(10.0, f64::max);
        let top = slowest.log10().ceil().max(1.0);
        let y = |ms: f64| height - height * (ms.max(1.0).log10() / top);
        for decade in 0..=top as u32 {
            let ms = 10f64.powi(decade as i32);
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" y1="{:.1}" x2="{WIDTH}" y2="{:.1}" stroke="#edf0f4"/><text x="4" y="{:.1}" class="tick">{ms} ms</text>"##,
                y(ms),
                y(ms),
                y(ms) + 4.0
            );
        }
        for op in self.ops {
            let colour = match (op.outcome, &op.input) {
                (Outcome::Failed, _) => "#a0aec0",
                (Outcome::Unknown, _) => "#dd6b20",
                (_, KvInput::Get { .. }) => "#3182ce",
                (_, KvInput::Cas { .. }) => "#805ad5",
                _ => "#38a169",
            };
            let _ = write!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{colour}" fill-opacity="0.6"/>"##,
                self.x(op.call_ms),
                y(op.ret_ms - op.call_ms)
            );
        }
        svg(&out, height + 20.0)
    }

    /// The operations around a violation: the end of the longest linearizable prefix and the
    /// operation that cannot follow it, with every operation on that key overlapping them.
    fn violation(&self) -> String {
        let Verdict::Illegal(v) = self.verdict else {
            return String::new();
        };
        let stuck = &self.ops[self.history_index[v.stuck]];
        let tail_start = v.prefix.len().saturating_sub(v.prefix_tail.len().max(1));
        let from = v.prefix[tail_start..]
            .iter()
            .map(|&i| self.ops[self.history_index[i]].call_ms)
            .fold(stuck.call_ms, f64::min);
        let key = stuck.input.key().clone();
        let mut rows = String::new();
        for (i, op) in self.ops.iter().enumerate() {
            let overlaps = op.ret_ms >= from && op.call_ms <= stuck.ret_ms;
            if op.input.key() != &key || !overlaps || op.outcome == Outcome::Failed {
                continue;
            }
            let mark = if std::ptr::eq(op, stuck) {
                " class=\"stuck\""
            } else {
                ""
            };
            let _ = write!(
                rows,
                "<tr{mark}><td>{i}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                op.call_ms,
                op.ret_ms,
                op.client,
                op.node,
                esc(&describe_input(&op.input)),
                esc(&describe_output(op))
            );
        }
        format!(
            "<h2>The violation</h2><pre>{}</pre><p>Every operation on <code>{}</code> between \
             {from:.1} ms and {:.1} ms (the highlighted one cannot be placed):</p>\
             <table><tr><th>#</th><th>call (ms)</th><th>return (ms)</th><th>client</th>\
             <th>node</th><th>operation</th><th>answer</th></tr>{rows}</table>",
            esc(&v.to_string()),
            esc(&key),
            stuck.ret_ms
        )
    }

    pub fn html(&self) -> String {
        let (word, colour) = match self.verdict {
            Verdict::Ok => ("linearizable", "#2f855a"),
            Verdict::Illegal(_) => ("NOT linearizable", "#c53030"),
            Verdict::Unknown(_) => ("undecided (the checker's budget ran out)", "#b7791f"),
        };
        let c = self.counts;
        let mut events = String::new();
        for e in self.events {
            let _ = write!(
                events,
                "<tr><td>{:.1}</td><td>{}</td></tr>",
                e.at_ms / 1000.0,
                esc(&e.text)
            );
        }
        format!(
            r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raftkv chaos: {word}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2430; max-width: 1040px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 16px; margin-top: 26px; }}
.verdict {{ color: {colour}; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 8px; border-bottom: 1px solid #edf0f4; text-align: left; }}
tr.stuck td {{ background: #fed7d7; font-weight: 600; }}
svg {{ display: block; background: #fff; border: 1px solid #dde2ea; }}
.tick {{ font-size: 10px; fill: #718096; }} .label {{ font-size: 11px; }}
.key span {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }}
</style></head><body>
<h1>raftkv chaos: <span class="verdict">{word}</span></h1>
<p>{} operations over {:.1} s on nodes {:?}: <b>{}</b> ok, <b>{}</b> failed (refused, no effect),
<b>{}</b> indeterminate (timed out or lost: may or may not have taken effect). {} reads, {} writes,
{} compare-and-sets. Checked in {:.1?}. Seed {} (<code>raftkv chaos --seed {}</code> replays the
nemesis' and clients' choices, not their timing).</p>
<h2>Faults and leaders</h2>{}
<h2>Operations over time</h2><div class="key"><span style="background:#48bb78"></span>ok<span style="background:#a0aec0"></span>failed<span style="background:#ed8936"></span>indeterminate</div>{}
<h2>Latency</h2><div class="key"><span style="background:#3182ce"></span>read<span style="background:#38a169"></span>write<span style="background:#805ad5"></span>compare-and-set<span style="background:#a0aec0"></span>failed<span style="background:#dd6b20"></span>indeterminate</div>{}
{}
<h2>Events</h2><table><tr><th>s</th><th>event</th></tr>{events}</table>
</body></html>
"##,
            self.ops.len(),
            self.duration.as_secs_f64(),
            self.nodes,
            c.ok,
            c.failed,
            c.unknown,
            c.reads,
            c.writes,
            c.cas,
            self.check_took,
            self.seed,
            self.seed,
            self.timeline(),
            self.throughput(),
            self.latency(),
            self.violation(),
        )
    }
}

fn svg(body: &str, height: f64) -> String {
    format!(
        r##"<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">{body}</svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::chaos::history::{checker_history, index_of_checked};
    use raftkv_lincheck::{Budget, KvModel};

    fn op(
        client: u64,
        call_ms: f64,
        ret_ms: f64,
        input: KvInput<String, String>,
        output: KvOutput<String>,
    ) -> Op {
        Op {
            client,
            node: 1,
            call_ms,
            ret_ms,
            input,
            output: Some(output),
            outcome: Outcome::Ok,
            error: None,
        }
    }

    #[test]
    fn a_violation_is_shown_with_the_operations_around_it() {
        let key = || "k".to_string();
        let ops = vec![
            op(
                1,
                0.0,
                10.0,
                KvInput::Put {
                    key: key(),
                    value: "a".into(),
                },
                KvOutput::Done,
            ),
            // Reads a value nobody wrote, after the write finished.
            op(
                2,
                20.0,
                30.0,
                KvInput::Get { key: key() },
                KvOutput::Value(Some("b".into())),
            ),
        ];
        let verdict = raftkv_lincheck::check::<KvModel<String, String>>(
            &checker_history(&ops),
            Budget::steps(1000),
        )
        .unwrap();
        assert!(verdict.is_illegal());
        let html = Report {
            seed: 1,
            duration: Duration::from_millis(40),
            nodes: vec![1, 2, 3],
            counts: Counts::of(&ops),
            verdict: &verdict,
            check_took: Duration::ZERO,
            ops: &ops,
            history_index: &index_of_checked(&ops),
            events: &[],
        }
        .html();
        assert!(html.contains("<span class=\"verdict\">NOT linearizable</span>"));
        assert!(html.contains("<tr class=\"stuck\"><td>1</td>"), "{html}");
        assert!(html.contains("write k = a"));
    }
}
