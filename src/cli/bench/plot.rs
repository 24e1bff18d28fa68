//! The sweep's picture: a standalone SVG with two panels side by side, throughput against clients
//! and p99 latency against clients (both with clients on a log2 axis, latency on a log axis), one
//! line per series and a shared legend below.
//!
//! A series is every row with the same target, cluster size, value size and operation. Colour
//! tells clusters and value sizes apart and the dash pattern tells the operation, so a put curve
//! and the get curve of the same cluster read as a pair. Hand-written: the picture needs lines, circles
//! and text, which is less code than adapting a plotting crate's styling.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::results::Row;
use super::scale::Scale;

const WIDTH: f64 = 1000.0;
/// Left edge of each panel's frame, and the frame's size.
const FRAME_LEFT: [f64; 2] = [80.0, 580.0];
const FRAME_WIDTH: f64 = 390.0;
const FRAME_TOP: f64 = 90.0;
const FRAME_HEIGHT: f64 = 320.0;
/// Points keep this far from the frame's left and right edges.
const INSET: f64 = 12.0;
const LEGEND_TOP: f64 = 480.0;
const LEGEND_ROW: f64 = 20.0;
/// Tableau 10: distinguishable, and still distinguishable for most colour-blind readers.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// What identifies a series, in legend order (raftkv first, then by size, value size, op).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    not_raftkv: bool,
    target: String,
    cluster_size: Option<usize>,
    value_size: usize,
    /// Puts before gets before anything else, as a sweep runs them.
    op_rank: u8,
    op: String,
}

impl SeriesKey {
    fn of(row: &Row) -> SeriesKey {
        SeriesKey {
            not_raftkv: row.target != "raftkv",
            target: row.target.clone(),
            cluster_size: row.cluster_size,
            value_size: row.value_size,
            op_rank: match row.op.as_str() {
                "put" => 0,
                "get" => 1,
                _ => 2,
            },
            op: row.op.clone(),
        }
    }

    /// The label's parts: target, cluster size, value size, operation.
    fn parts(&self) -> [String; 4] {
        [
            self.target.clone(),
            match self.cluster_size {
                Some(1) => "1 node".into(),
                Some(n) => format!("{n} nodes"),
                None => "? nodes".into(),
            },
            format!("{} values", bytes(self.value_size)),
            self.op.clone(),
        ]
    }
}

/// One line: its key, label, style and points (sorted by clients).
struct Series<'a> {
    label: String,
    colour: &'static str,
    dash: &'static str,
    rows: Vec<&'a Row>,
}

/// The SVG for `rows` (any order; an empty slice gives empty panels).
pub fn render(rows: &[Row]) -> String {
    let (series, common) = series_of(rows);
    let legend_columns = legend_columns(&series);
    let legend_rows = series.len().div_ceil(legend_columns);
    let height = LEGEND_TOP + legend_rows as f64 * LEGEND_ROW + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-size=\"18\">\
         Throughput and p99 latency against concurrent clients</text>\n\
         <text x=\"{}\" y=\"52\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n",
        WIDTH / 2.0,
        WIDTH / 2.0,
        escape(&common),
    );
    let clients = rows.iter().map(|r| r.clients as f64);
    let (c_min, c_max) = bounds(clients);
    let x = |panel: usize| {
        let left = FRAME_LEFT[panel];
        Scale::log2(c_min, c_max, left + INSET, left + FRAME_WIDTH - INSET)
    };
    let bottom = FRAME_TOP + FRAME_HEIGHT;
    let (_, t_max) = bounds(rows.iter().map(|r| r.throughput_ops));
    let (p_min, p_max) = bounds(rows.iter().map(|r| r.p99_ms).filter(|&v| v > 0.0));
    let panels = [
        Panel {
            id: "throughput",
            title: "throughput (ops/s)",
            x: x(0),
            y: Scale::linear_from_zero(t_max, bottom, FRAME_TOP),
            value: |r: &Row| r.throughput_ops,
            unit: "ops/s",
        },
        Panel {
            id: "p99",
            title: "p99 latency (ms, log scale)",
            x: x(1),
            y: Scale::log10(p_min, p_max, bottom, FRAME_TOP),
            value: |r: &Row| r.p99_ms,
            unit: "ms p99",
        },
    ];
    for (i, panel) in panels.iter().enumerate() {
        panel.draw(&mut svg, FRAME_LEFT[i], &series);
    }
    draw_legend(&mut svg, &series, legend_columns);
    svg.push_str("</svg>\n");
    svg
}

/// The series of `rows`, labelled by what differs between them, and the text of what they share.
fn series_of(rows: &[Row]) -> (Vec<Series<'_>>, String) {
    let mut grouped: BTreeMap<SeriesKey, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        grouped.entry(SeriesKey::of(row)).or_default().push(row);
    }
    let keys: Vec<&SeriesKey> = grouped.keys().collect();
    let all_parts: Vec<[String; 4]> = keys.iter().map(|k| k.parts()).collect();
    let varies: Vec<bool> = (0..4)
        .map(|i| all_parts.iter().any(|p| p[i] != all_parts[0][i]))
        .collect();
    let common = match all_parts.first() {
        Some(first) => (0..4)
            .filter(|&i| !varies[i])
            .map(|i| first[i].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        None => "no points".into(),
    };
    // A colour per cluster and value size (the dash tells the ops apart); when there is only one
    // of those, a colour per op.
    let group_of = |key: &SeriesKey| (key.target.clone(), key.cluster_size, key.value_size);
    let mut groups: Vec<_> = keys.iter().map(|k| group_of(k)).collect();
    groups.dedup();
    let by_series = groups.len() == 1;
    let series = grouped
        .iter()
        .zip(&all_parts)
        .enumerate()
        .map(|(i, ((key, rows), parts))| {
            let colour_index = if by_series {
                i
            } else {
                groups.iter().position(|g| *g == group_of(key)).unwrap_or(0)
            };
            let shown: Vec<&str> = (0..4)
                .filter(|&p| varies[p])
                .map(|p| parts[p].as_str())
                .collect();
            let mut rows = rows.clone();
            rows.sort_by_key(|r| r.clients);
            Series {
                label: if shown.is_empty() {
                    parts.join(", ")
                } else {
                    shown.join(", ")
                },
                colour: PALETTE[colour_index % PALETTE.len()],
                dash: match key.op.as_str() {
                    "put" => "none",
                    "get" => "7 4",
                    _ => "2 3",
                },
                rows,
            }
        })
        .collect();
    (series, common)
}

/// One of the two panels.
struct Panel {
    id: &'static str,
    title: &'static str,
    x: Scale,
    y: Scale,
    value: fn(&Row) -> f64,
    unit: &'static str,
}

impl Panel {
    fn draw(&self, svg: &mut String, left: f64, series: &[Series<'_>]) {
        let (top, bottom, right) = (FRAME_TOP, FRAME_TOP + FRAME_HEIGHT, left + FRAME_WIDTH);
        let _ = writeln!(svg, "<g class=\"panel\" id=\"{}\">", self.id);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            left + FRAME_WIDTH / 2.0,
            top - 14.0,
            escape(self.title)
        );
        for &t in self.y.ticks() {
            let y = self.y.map(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" \
                 stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                y + 4.0,
                escape(&self.y.label(t))
            );
        }
        for &t in self.x.ticks() {
            let x = self.x.map(t);
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" \
                 stroke=\"#e4e4e4\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}\
                 </text>",
                bottom + 16.0,
                escape(&self.x.label(t))
            );
        }
        let _ = writeln!(
            svg,
            "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{FRAME_WIDTH:.1}\" \
             height=\"{FRAME_HEIGHT:.1}\" fill=\"none\" stroke=\"#888\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">clients (log2 scale)</text>",
            left + FRAME_WIDTH / 2.0,
            bottom + 36.0
        );
        for s in series {
            self.draw_series(svg, s);
        }
        svg.push_str("</g>\n");
    }

    fn draw_series(&self, svg: &mut String, s: &Series<'_>) {
        let points: Vec<(f64, f64, &Row)> = s
            .rows
            .iter()
            .filter(|r| self.y.can_show((self.value)(r)))
            .map(|r| {
                (
                    self.x.map(r.clients as f64),
                    self.y.map((self.value)(r)),
                    *r,
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            "<g class=\"series\" data-series=\"{}\" stroke=\"{}\" fill=\"{}\">",
            escape(&s.label),
            s.colour,
            s.colour
        );
        let line: Vec<String> = points
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
            line.join(" "),
            s.dash
        );
        for (x, y, row) in &points {
            let _ = writeln!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\"><title>{}: {} clients, {} {}\
                 </title></circle>",
                escape(&s.label),
                row.clients,
                super::scale::short_number((self.value)(row)),
                self.unit
            );
        }
        svg.push_str("</g>\n");
    }
}

/// How many legend entries fit side by side.
fn legend_columns(series: &[Series<'_>]) -> usize {
    let longest = series.iter().map(|s| s.label.chars().count()).max();
    let entry_width = 50.0 + 7.0 * longest.unwrap_or(10) as f64;
    ((WIDTH - 80.0) / entry_width).floor().clamp(1.0, 4.0) as usize
}

fn draw_legend(svg: &mut String, series: &[Series<'_>], columns: usize) {
    let column_width = (WIDTH - 80.0) / columns as f64;
    svg.push_str("<g class=\"legend\">\n");
    for (i, s) in series.iter().enumerate() {
        let x = 80.0 + (i % columns) as f64 * column_width;
        let y = LEGEND_TOP + (i / columns) as f64 * LEGEND_ROW;
        let _ = writeln!(
            svg,
            "<g class=\"legend-item\"><line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" \
             stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>\
             <circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            x + 30.0,
            s.colour,
            s.dash,
            x + 15.0,
            s.colour,
            x + 38.0,
            y + 4.0,
            escape(&s.label)
        );
    }
    svg.push_str("</g>\n");
}

/// The smallest and largest of `values` (NaN-free), or (1, 1) when there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .unwrap_or((1.0, 1.0))
}

/// A byte count as people say it: 256 B, 4 KiB, 64 KiB, 1.5 MiB.
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

/// `text` with the five XML special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::results::tests::row;
    use super::*;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn each_series_is_drawn_once_per_panel_and_once_in_the_legend() {
        let mut rows = Vec::new();
        for (op, size) in [("put", 256), ("get", 256), ("put", 4096)] {
            for clients in [1, 4, 16] {
                let mut r = row(clients, 100.0 * clients as f64, clients as f64);
                r.op = op.into();
                r.value_size = size;
                rows.push(r);
            }
        }
        let svg = render(&rows);
        assert_eq!(count(&svg, "<g class=\"series\""), 2 * 3);
        assert_eq!(count(&svg, "<g class=\"legend-item\">"), 3);
        assert_eq!(count(&svg, "<circle"), 2 * 9 + 3);
        assert!(svg.contains("data-series=\"4 KiB values, put\""), "{svg}");
        assert!(
            svg.contains("raftkv, 3 nodes"),
            "what all share is the subtitle"
        );
    }

    #[test]
    fn a_clusters_put_and_get_share_a_colour_and_differ_in_dash() {
        let mut rows = Vec::new();
        for size in [3, 5] {
            for op in ["put", "get"] {
                let mut r = row(1, 100.0, 1.0);
                (r.cluster_size, r.op) = (Some(size), op.into());
                rows.push(r);
            }
        }
        let (series, common) = series_of(&rows);
        let style: Vec<(&str, &str, &str)> = series
            .iter()
            .map(|s| (s.label.as_str(), s.colour, s.dash))
            .collect();
        assert_eq!(
            style,
            [
                ("3 nodes, put", PALETTE[0], "none"),
                ("3 nodes, get", PALETTE[0], "7 4"),
                ("5 nodes, put", PALETTE[1], "none"),
                ("5 nodes, get", PALETTE[1], "7 4"),
            ]
        );
        assert_eq!(common, "raftkv, 256 B values");
        // One cluster: put and get get colours of their own.
        let (one, _) = series_of(&rows[..2]);
        assert_ne!(one[0].colour, one[1].colour);
    }

    #[test]
    fn points_are_ordered_by_clients_whatever_the_row_order() {
        let rows = vec![row(16, 300.0, 3.0), row(1, 100.0, 1.0), row(4, 200.0, 2.0)];
        let svg = render(&rows);
        let line = svg
            .lines()
            .find(|l| l.starts_with("<polyline"))
            .expect("a polyline");
        let xs: Vec<f64> = line
            .split('"')
            .nth(1)
            .expect("points")
            .split(' ')
            .map(|p| p.split(',').next().and_then(|x| x.parse().ok()).expect("x"))
            .collect();
        assert_eq!(xs.len(), 3);
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    }

    #[test]
    fn a_point_without_latency_is_left_off_the_log_panel_only() {
        let mut failed = row(4, 0.0, 0.0);
        failed.ok = 0;
        let svg = render(&[row(1, 100.0, 1.0), failed]);
        assert_eq!(count(&svg, "<circle"), 2 + 1 + 1);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&apos;");
        assert!(render(&[]).contains("no points"));
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(bytes(64), "64 B");
        assert_eq!(bytes(256), "256 B");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(65536), "64 KiB");
        assert_eq!(bytes(1000), "1000 B");
        assert_eq!(bytes(1 << 20), "1 MiB");
    }
}
