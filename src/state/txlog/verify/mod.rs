//! Checking transaction log files against each other, as `raftkv txlog verify` does: the
//! product's promise, read from the files alone.
//!
//! Rules:
//! - every line is a transaction log line (an applied entry or a snapshot marker);
//! - within one node's files (rotated ones oldest first, then the active one) each index is the
//!   one before plus one, except that a snapshot marker may jump forward;
//! - a line with the same index is the same in every node's files (markers are not compared:
//!   a marker stands for lines its node never applied).
//!
//! The files are streamed and walked together in index order (a merge), so memory holds one line
//! per node whatever the files' length. A torn tail (a last line without its newline, or a line
//! holding a NUL) is reported as a note, not a violation: it is what a crash leaves, and the node
//! cuts it when it opens the file.

mod collect;
mod merge;
mod stream;

use std::io;
use std::path::PathBuf;

use crate::raft::Index;

pub use collect::collect;

/// Something the check found, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A line breaks a rule of its own node's files.
    Rule {
        /// Where the line is.
        at: LineAt,
        /// The line's index, when it has one.
        index: Option<Index>,
        /// What is wrong; with an index, it reads after "index N " ("does not follow 5: …").
        what: String,
    },
    /// Two nodes' lines for one index differ; `first` is from the earlier node on the command line.
    Differs {
        /// The index.
        index: Index,
        /// The line of the earlier node.
        first: LineAt,
        /// The line of the later node.
        other: LineAt,
    },
    /// Not a violation: a crash's torn tail from this line to the end of the file, which the node
    /// cuts when it opens the file.
    TornTail {
        /// Where the tail starts.
        at: LineAt,
        /// Its length.
        bytes: u64,
    },
}

impl Finding {
    /// Whether this breaks a rule (a torn tail does not).
    pub fn is_violation(&self) -> bool {
        !matches!(self, Finding::TornTail { .. })
    }
}

/// A place in a file, with the line's text when it is worth showing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAt {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line_number: u64,
    /// The line without its newline, lossily decoded (empty when not shown).
    pub text: String,
}

/// What one file held, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// The file.
    pub file: PathBuf,
    /// The first and last index of its lines that follow the rules; `None` for no such line.
    pub indexes: Option<(Index, Index)>,
    /// Complete lines, markers included (a torn tail is not counted).
    pub lines: u64,
    /// Snapshot markers among them.
    pub markers: u64,
}

/// A file that could not be opened or read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct Unreadable {
    /// The file or directory.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: io::Error,
}

/// Checks `nodes` (each one node's files, oldest first: see [`collect`]) against the rules,
/// handing each finding to `report` as it is found, and returns a summary per file.
pub fn verify(
    nodes: &[Vec<PathBuf>],
    report: &mut dyn FnMut(Finding),
) -> Result<Vec<FileSummary>, Unreadable> {
    // Every file opens before anything is reported, so an unreadable one is found first.
    for path in nodes.iter().flatten() {
        std::fs::File::open(path).map_err(|source| Unreadable {
            path: path.clone(),
            source,
        })?;
    }
    let mut streams: Vec<stream::NodeStream> = nodes
        .iter()
        .map(|files| stream::NodeStream::new(files.clone()))
        .collect();
    merge::merge(&mut streams, report)?;
    Ok(streams
        .into_iter()
        .flat_map(stream::NodeStream::into_summaries)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::txlog::testing::{noop_line, noop_lines};
    use std::path::Path;

    fn marker(index: Index, term: u64) -> String {
        let mut out = String::new();
        crate::state::txlog::head::render_marker(&mut out, index, term);
        out
    }

    /// Writes each (name, content) into `dir`, verifies the directory, returns what was found.
    fn check(dir: &Path, files: &[(&str, String)]) -> (Vec<Finding>, Vec<FileSummary>) {
        for (name, content) in files {
            std::fs::write(dir.join(name), content).expect("write");
        }
        let nodes = collect(&[dir.to_path_buf()]).expect("collect");
        let mut findings = Vec::new();
        let summaries = verify(&nodes, &mut |f| findings.push(f)).expect("readable");
        (findings, summaries)
    }

    #[test]
    fn prefixes_of_one_history_agree_and_are_summed_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (findings, summaries) = check(
            dir.path(),
            &[
                ("node-1.log", noop_lines(1..=10, 1)),
                ("node-2.log", noop_lines(1..=7, 1)),
                // Rotated, and restored from a snapshot at 5.
                ("node-3.log.000000000001", noop_lines(1..=2, 1)),
                ("node-3.log", marker(5, 1) + &noop_lines(6..=10, 1)),
                ("node-4.log", String::new()),
            ],
        );
        assert_eq!(findings, vec![]);
        let shown: Vec<_> = summaries
            .iter()
            .map(|s| (s.indexes, s.lines, s.markers))
            .collect();
        assert_eq!(
            shown,
            vec![
                (Some((1, 10)), 10, 0),
                (Some((1, 7)), 7, 0),
                (Some((1, 2)), 2, 0),
                (Some((5, 10)), 6, 1),
                (None, 0, 0),
            ]
        );
    }

    #[test]
    fn a_gap_a_repeat_and_a_different_line_are_each_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gap = noop_lines(1..=3, 1) + &noop_lines(5..=6, 1);
        let repeat = noop_lines(1..=3, 1) + &noop_line(3, 1) + &noop_line(4, 1);
        let differs = noop_lines(1..=2, 1) + "000000000003 t2 noop -> ok\n";
        let (findings, _) = check(
            dir.path(),
            &[
                ("node-1.log", noop_lines(1..=6, 1)),
                ("node-2.log", gap),
                ("node-3.log", repeat),
                ("node-4.log", differs),
            ],
        );
        let node = |n: u64, line_number: u64, text: &str| LineAt {
            file: dir.path().join(format!("node-{n}.log")),
            line_number,
            text: text.to_string(),
        };
        assert_eq!(
            findings,
            vec![
                Finding::Differs {
                    index: 3,
                    first: node(1, 3, "000000000003 t1 noop -> ok"),
                    other: node(4, 3, "000000000003 t2 noop -> ok"),
                },
                Finding::Rule {
                    at: node(2, 4, "000000000005 t1 noop -> ok"),
                    index: Some(5),
                    what: "does not follow 3: a gap, and only a snapshot marker may jump"
                        .to_string(),
                },
                Finding::Rule {
                    at: node(3, 4, "000000000003 t1 noop -> ok"),
                    index: Some(3),
                    what: "does not follow 3: repeated or out of order".to_string(),
                },
            ]
        );
    }

    #[test]
    fn markers_are_not_compared_and_torn_tails_are_notes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut torn = noop_lines(1..=2, 1).into_bytes();
        torn.extend([0u8; 300]);
        torn.extend(noop_line(3, 1).as_bytes());
        std::fs::write(dir.path().join("node-2.log"), torn).expect("write");
        let (findings, summaries) = check(
            dir.path(),
            &[
                ("node-1.log", noop_lines(1..=4, 1)),
                ("node-3.log", marker(3, 1) + &noop_line(4, 1)),
            ],
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(!findings[0].is_violation());
        let Finding::TornTail { at, bytes } = &findings[0] else {
            panic!("{findings:?}")
        };
        assert_eq!((at.line_number, *bytes), (3, 300 + 27));
        assert_eq!(summaries[1].lines, 2);
    }

    #[test]
    fn a_rotated_file_must_start_where_its_name_says_and_continue_its_node() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (findings, _) = check(
            dir.path(),
            &[
                ("node-1.log.000000000001", noop_lines(1..=3, 1)),
                ("node-1.log.000000000004", noop_lines(5..=6, 1)),
                ("node-1.log", "not ours\n".to_string() + &noop_line(7, 1)),
            ],
        );
        let what: Vec<String> = findings
            .iter()
            .map(|f| match f {
                Finding::Rule { at, what, .. } => format!("{}: {what}", at.line_number),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(what.len(), 3, "{what:?}");
        assert!(what[0].starts_with("1: starts the file, whose name says it starts at 4"));
        assert!(what[1].starts_with("1: does not follow 3: a gap"));
        assert!(what[2].starts_with("1: not a transaction log line"));
    }
}
