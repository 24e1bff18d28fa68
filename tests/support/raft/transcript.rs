//! Transcript files: a script of commands, each followed by the output it must produce.
//!
//! ```text
//! # A comment, kept as is.
//! command arg arg
//! ----
//! expected output, one or more non-empty lines
//! ```
//!
//! Cases are separated by blank lines. When behaviour changes on purpose, run the tests with
//! `RAFT_SCENARIOS_REWRITE=1` to write the actual output back into the files, then review the diff.

use std::path::Path;

/// The environment variable that makes [`check`] rewrite files instead of comparing them.
pub const REWRITE_VAR: &str = "RAFT_SCENARIOS_REWRITE";

const SEPARATOR: &str = "----";

/// One command and the output recorded for it.
struct Case {
    /// 1-based line of the command, for error messages.
    line: usize,
    command: String,
    expected: String,
}

/// A file split into the text between cases (comments, blank lines) and the cases themselves.
enum Chunk {
    Text(String),
    Case(Case),
}

fn parse(text: &str) -> Result<Vec<Chunk>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            chunks.push(Chunk::Text(line.to_string()));
            i += 1;
            continue;
        }
        if lines.get(i + 1) != Some(&SEPARATOR) {
            return Err(format!(
                "line {}: expected `{SEPARATOR}` after a command",
                i + 2
            ));
        }
        let mut end = i + 2;
        while end < lines.len() && !lines[end].trim().is_empty() {
            end += 1;
        }
        chunks.push(Chunk::Case(Case {
            line: i + 1,
            command: line.to_string(),
            expected: lines[i + 2..end].join("\n"),
        }));
        i = end;
    }
    Ok(chunks)
}

/// Runs every command of the file at `path` through `exec` (in order, on shared state the caller
/// keeps) and compares the output with the file, or rewrites the file when [`REWRITE_VAR`] is set.
pub fn check(path: &Path, mut exec: impl FnMut(&str) -> String) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let chunks = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rewritten = Vec::new();
    let mut mismatches = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Text(t) => rewritten.push(t),
            Chunk::Case(case) => {
                let mut actual = exec(&case.command);
                if actual.trim().is_empty() {
                    // A blank line would end the case: record "nothing happened" explicitly.
                    actual = "ok".to_string();
                }
                if actual != case.expected {
                    mismatches.push(format!(
                        "{}:{}: `{}`\n--- expected\n{}\n--- actual\n{}\n",
                        path.display(),
                        case.line,
                        case.command,
                        case.expected,
                        actual
                    ));
                }
                rewritten.push(format!("{}\n{SEPARATOR}\n{actual}", case.command));
            }
        }
    }
    if std::env::var_os(REWRITE_VAR).is_some() {
        let mut out = rewritten.join("\n");
        out.push('\n');
        std::fs::write(path, out)
            .unwrap_or_else(|e| panic!("cannot rewrite {}: {e}", path.display()));
        return;
    }
    assert!(
        mismatches.is_empty(),
        "{} case(s) differ (rerun with {REWRITE_VAR}=1 to accept):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
