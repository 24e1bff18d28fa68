//! Log lines for people and for log shippers, through `log` + `env_logger`.
//!
//! `logfmt` (the default) writes one `key=value` line per record, values quoted when they hold a
//! space, a quote or `=`; `json` writes one JSON object per line. Both carry the same fields:
//! `ts` (RFC 3339, UTC, milliseconds), `level`, `node` (when the process runs one), `target` (the
//! module) and `msg`. `RUST_LOG` chooses what is logged, as with any `env_logger` program.

use std::io::Write;

use clap::ValueEnum;

/// How log records are written (`--log-format`, `RAFTKV_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `ts=… level=info node=1 target=raftkv::replicator msg="…"`.
    #[default]
    Logfmt,
    /// `{"ts":"…","level":"info","node":1,"target":"…","msg":"…"}`.
    Json,
}

/// Installs the logger for this process; `node` is the id a node process runs as.
pub fn init(format: LogFormat, node: Option<u64>) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.format(move |buf, record| {
        let ts = buf.timestamp_millis().to_string();
        let level = record.level().as_str().to_ascii_lowercase();
        let msg = record.args().to_string();
        let line = match format {
            LogFormat::Logfmt => logfmt_line(&ts, &level, node, record.target(), &msg),
            LogFormat::Json => json_line(&ts, &level, node, record.target(), &msg),
        };
        writeln!(buf, "{line}")
    });
    builder.init();
}

fn logfmt_line(ts: &str, level: &str, node: Option<u64>, target: &str, msg: &str) -> String {
    let mut line = format!("ts={ts} level={level}");
    if let Some(id) = node {
        line.push_str(&format!(" node={id}"));
    }
    line.push_str(&format!(
        " target={} msg={}",
        logfmt_value(target),
        logfmt_value(msg)
    ));
    line
}

/// A logfmt value: bare when it is a plain token, else quoted with `"` and `\` escaped and line
/// breaks written as `\n`, so one record is always one line.
fn logfmt_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_line(ts: &str, level: &str, node: Option<u64>, target: &str, msg: &str) -> String {
    let mut object = serde_json::Map::new();
    object.insert("ts".into(), ts.into());
    object.insert("level".into(), level.into());
    if let Some(id) = node {
        object.insert("node".into(), id.into());
    }
    object.insert("target".into(), target.into());
    object.insert("msg".into(), msg.into());
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::{json_line, logfmt_line, logfmt_value};

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        assert_eq!(logfmt_value("raftkv::replicator"), "raftkv::replicator");
        assert_eq!(logfmt_value(""), "\"\"");
        assert_eq!(logfmt_value("a b"), "\"a b\"");
        assert_eq!(logfmt_value("k=v"), "\"k=v\"");
        assert_eq!(logfmt_value("say \"hi\"\nbye"), "\"say \\\"hi\\\"\\nbye\"");
        let line = logfmt_line("2026-12-07T00:00:00.000Z", "info", Some(3), "raftkv", "led");
        assert_eq!(
            line,
            "ts=2026-12-07T00:00:00.000Z level=info node=3 target=raftkv msg=led"
        );
    }

    #[test]
    fn json_lines_parse_back_with_every_field() {
        let line = json_line("t", "warn", None, "raftkv::cluster", "peer \"2\"\nlost");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "peer \"2\"\nlost");
        assert!(v.get("node").is_none());
        assert!(!line.contains('\n'));
    }
}
