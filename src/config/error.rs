//! Why a configuration was refused, phrased for the person who edits the file.

use std::ops::Range;

use thiserror::Error;

use super::locate::{field_at, line_of};

/// A configuration that could not be read, parsed or accepted.
///
/// Every variant names the file; those about its content also name the line and the field.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: cannot read the file: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML, a value has the wrong type, or a check failed.
    #[error("{path}:{line}: {prefix}{message}", prefix = field_prefix(.field))]
    Invalid {
        path: String,
        line: usize,
        /// Dotted path such as `cluster.tick_ms` or `peers[1].raft`, when one can be named.
        field: Option<String>,
        message: String,
    },
}

impl ConfigError {
    /// An error about the value spanning `span` of `text`, naming `field` and the line.
    pub(super) fn at(
        path: &str,
        text: &str,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            path: path.to_string(),
            line: line_of(text, span.start),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Translates a TOML or serde error, locating its field from the span toml reports.
    pub(super) fn from_toml(path: &str, text: &str, error: &toml::de::Error) -> Self {
        let span = error.span().unwrap_or(0..0);
        // An empty span at the start stands for the whole document (a missing top-level field).
        let located = if span.is_empty() {
            None
        } else if error.message().starts_with("duplicate key") {
            // The parser keeps only the first definition, so name the key from the text itself.
            text.get(span.clone()).map(|key| key.trim().to_string())
        } else {
            field_at(text, span.start)
        };
        // serde reports a missing field with the span of the table that lacks it.
        let field = match (located, missing_field(error.message())) {
            (Some(table), Some(name)) => Some(format!("{table}.{name}")),
            (located, name) => located.or(name),
        };
        ConfigError::Invalid {
            path: path.to_string(),
            line: line_of(text, span.start),
            field,
            message: friendly(error.message()),
        }
    }
}

/// `"field: "`, or nothing when the error is not about one field (a syntax error, say).
fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

/// The field named by serde's "missing field `x`".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_string)
}

/// Rewrites serde's "invalid type: string \"x\", expected u64" as "expected an integer, found a
/// string", which is what a person editing TOML thinks in. Other messages pass through.
fn friendly(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    format!("expected {}, found {}", kind(expected), kind(found))
}

/// The TOML name of a serde type description.
fn kind(serde_kind: &str) -> &'static str {
    let word = serde_kind
        .trim_start_matches("a ")
        .trim_start_matches("an ")
        .split([' ', '`'])
        .next()
        .unwrap_or("");
    match word {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "integer" => {
            "an integer"
        }
        "f32" | "f64" | "floating" => "a float",
        "string" | "str" | "char" => "a string",
        "bool" | "boolean" => "a boolean",
        "sequence" | "array" => "an array",
        "map" | "struct" | "table" => "a table",
        _ => "another type",
    }
}

#[cfg(test)]
mod tests {
    use super::friendly;

    #[test]
    fn serde_type_errors_are_rephrased_in_toml_terms() {
        assert_eq!(
            friendly("invalid type: string \"fast\", expected u64"),
            "expected an integer, found a string"
        );
        assert_eq!(
            friendly("invalid type: integer `3`, expected a boolean"),
            "expected a boolean, found an integer"
        );
        assert_eq!(
            friendly("invalid type: sequence, expected struct RawCluster"),
            "expected a table, found an array"
        );
        assert_eq!(friendly("unknown field `x`"), "unknown field `x`");
    }
}
