//! The little that is parsed back from a line: its index, its term and whether it is a snapshot
//! marker. The rest of a line is for people.
//!
//! A snapshot marker is the one line that is not an applied entry:
//!
//! `000000001234 t7 snapshot -- entries up to and including this index were installed from a
//! snapshot, not applied here` (one line), where 1234 and 7 are the snapshot's last index and its
//! term. It has no ` -> `, so it can never be read as an operation, and the next line is 1235.

use std::fmt::Write;

use crate::raft::{Index, Term};

/// Everything after `<index> t<term> ` on a marker line.
pub(super) const MARKER_WORDS: &str =
    "snapshot -- entries up to and including this index were installed from a snapshot, not applied here";

/// The parsed start of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The Raft index the line stands for.
    pub(crate) index: Index,
    /// The term of that entry (of the snapshot's last entry, for a marker).
    pub(crate) term: Term,
    /// A snapshot marker: the entries up to `index` were installed, not applied, on this node.
    pub(crate) marker: bool,
}

/// Appends the marker line for a snapshot ending at `index`, with its trailing newline.
pub(super) fn render_marker(out: &mut String, index: Index, term: Term) {
    let _ = writeln!(out, "{index:012} t{term} {MARKER_WORDS}");
}

/// The head of a complete line (without its newline), or why the line is not one of ours.
pub(crate) fn parse_head(line: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let mut fields = text.splitn(3, ' ');
    let index = fields.next().unwrap_or_default();
    let term = fields.next().unwrap_or_default();
    let rest = fields.next().unwrap_or_default();
    if index.len() < 12 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected an index of at least 12 digits, found {index:?}"
        ));
    }
    let index: Index = index
        .parse()
        .map_err(|_| format!("index {index} does not fit in 64 bits"))?;
    let term_digits = term.strip_prefix('t').unwrap_or_default();
    if term_digits.is_empty() || !term_digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a term like t3, found {term:?}"));
    }
    let term: Term = term_digits
        .parse()
        .map_err(|_| format!("term {term_digits} does not fit in 64 bits"))?;
    // Exact words, so that a damaged marker is not taken for one.
    let marker = rest.starts_with("snapshot ");
    if marker && rest != MARKER_WORDS {
        return Err("a snapshot marker with other words than ours".to_string());
    }
    if !marker && !rest.contains(" -> ") {
        return Err("no \" -> \" before the result".to_string());
    }
    Ok(Head {
        index,
        term,
        marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_line_gives_its_index_and_term() {
        let head = parse_head(b"000000000042 t3 noop -> ok").expect("ours");
        assert_eq!(
            head,
            Head {
                index: 42,
                term: 3,
                marker: false
            }
        );
    }

    #[test]
    fn a_marker_reads_as_documented_and_parses_back() {
        let mut out = String::new();
        render_marker(&mut out, 1234, 7);
        assert_eq!(
            out,
            "000000001234 t7 snapshot -- entries up to and including this index were installed \
             from a snapshot, not applied here\n"
        );
        let head = parse_head(out.trim_end().as_bytes()).expect("ours");
        assert_eq!(
            head,
            Head {
                index: 1234,
                term: 7,
                marker: true
            }
        );
    }

    #[test]
    fn foreign_lines_and_damaged_markers_are_rejected() {
        for bad in [
            &b"42 t3 noop -> ok"[..],
            b"000000000042 3 noop -> ok",
            b"000000000042 t3 noop",
            b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            b"000000000042 t3 noop -> \xff",
            b"000000000042 t99999999999999999999 noop -> ok",
            b"000000000042 t3 snapshot -- entries up to and including this index",
            b"000000000042 t3 snapshot -> ok",
            b"",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
