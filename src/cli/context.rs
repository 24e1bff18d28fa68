//! What every client command gets: a connected [`Client`] and the chosen output format.

use super::args::{ReadConsistency, WriteOut};
use super::client::{Answer, Call, Client};
use super::error::CliError;
use super::output::{self, Table};

/// A client command's environment.
pub struct Ctx {
    pub client: Client,
    /// `--write-out` if given; each command has its own default.
    pub write_out: Option<WriteOut>,
}

impl Ctx {
    /// Makes `call` and insists on a 2xx answer.
    pub fn ok(&mut self, call: &Call) -> Result<Answer, CliError> {
        self.client.call(call)?.success()
    }

    /// Makes `call` and returns its 2xx JSON body.
    pub fn json(&mut self, call: &Call) -> Result<serde_json::Value, CliError> {
        self.ok(call)?.json()
    }

    /// The format to print in: `--write-out`, else `default`.
    pub fn format(&self, default: WriteOut) -> WriteOut {
        self.write_out.unwrap_or(default)
    }

    /// Prints one value: plain in simple output, as a one-row table, or as `json`.
    pub fn print_value(&self, column: &str, value: &str, json: &serde_json::Value) {
        let mut table = Table::new(&[column]);
        table.row(vec![value.to_string()]);
        output::print(self.format(WriteOut::Simple), &table, json);
    }
}

/// `?consistency=...` for a read path.
pub fn read_query(consistency: ReadConsistency) -> &'static str {
    match consistency {
        ReadConsistency::Linearizable => "",
        ReadConsistency::Local => "consistency=local",
        ReadConsistency::Log => "consistency=log",
    }
}

/// `path` with the consistency query appended (after `?` or `&`).
pub fn with_consistency(path: &str, consistency: ReadConsistency) -> String {
    match read_query(consistency) {
        "" => path.to_string(),
        q if path.contains('?') => format!("{path}&{q}"),
        q => format!("{path}?{q}"),
    }
}

/// A JSON number field of an answer, or an error naming what was missing.
pub fn field_u64(json: &serde_json::Value, name: &str) -> Result<u64, CliError> {
    json[name]
        .as_u64()
        .ok_or_else(|| CliError::Local(format!("the answer has no number {name:?}: {json}")))
}

/// A JSON signed number field of an answer.
pub fn field_i64(json: &serde_json::Value, name: &str) -> Result<i64, CliError> {
    json[name]
        .as_i64()
        .ok_or_else(|| CliError::Local(format!("the answer has no number {name:?}: {json}")))
}
