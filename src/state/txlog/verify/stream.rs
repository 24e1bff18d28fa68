//! One node's files read as one stream of lines, checking the rules of a single node on the way.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{FileSummary, Finding, LineAt, Unreadable};
use crate::raft::Index;
use crate::state::txlog::files::split_rotation;
use crate::state::txlog::head::parse_head;
use crate::state::txlog::recover::{follows, MAX_LINE_BYTES};

/// A line that follows its node's rules, handed to the merge.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) index: Index,
    pub(super) marker: bool,
    /// The line without its newline.
    pub(super) text: Vec<u8>,
    /// Which of its node's files (see [`NodeStream::path`]).
    pub(super) file: usize,
    pub(super) line_number: u64,
}

impl Item {
    /// Where the line is, with its text.
    pub(super) fn at(&self, stream: &NodeStream) -> LineAt {
        LineAt {
            file: stream.path(self.file).to_path_buf(),
            line_number: self.line_number,
            text: String::from_utf8_lossy(&self.text).into_owned(),
        }
    }
}

/// The file being read.
struct Open {
    reader: BufReader<File>,
    /// Bytes read so far.
    offset: u64,
    line_number: u64,
    /// The first index its name promises (a rotated file), until its first line is seen.
    named_first: Option<Index>,
}

/// Reads a node's files in order, one line at a time.
pub(super) struct NodeStream {
    files: Vec<PathBuf>,
    /// Files opened so far; the last one is being read while `open` is `Some`.
    summaries: Vec<FileSummary>,
    open: Option<Open>,
    /// The index of the last line handed out, over all of the node's files.
    previous: Option<Index>,
    line: Vec<u8>,
}

impl NodeStream {
    /// A stream over `files`, oldest first.
    pub(super) fn new(files: Vec<PathBuf>) -> Self {
        NodeStream {
            files,
            summaries: Vec::new(),
            open: None,
            previous: None,
            line: Vec::with_capacity(256),
        }
    }

    /// The summary of every file read.
    pub(super) fn into_summaries(self) -> Vec<FileSummary> {
        self.summaries
    }

    /// The path of a file from an [`Item`].
    pub(super) fn path(&self, file: usize) -> &Path {
        &self.files[file]
    }

    /// The next line that follows the rules; lines that break one go to `report` instead.
    pub(super) fn next(
        &mut self,
        report: &mut dyn FnMut(Finding),
    ) -> Result<Option<Item>, Unreadable> {
        loop {
            if self.open.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let file = self.summaries.len() - 1;
            let path = &self.files[file];
            let unreadable = |source| Unreadable {
                path: path.clone(),
                source,
            };
            let open = self.open.as_mut().expect("opened above");
            self.line.clear();
            let n = (&mut open.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(unreadable)?;
            if n == 0 {
                self.open = None;
                continue;
            }
            let start = open.offset;
            open.offset += n as u64;
            open.line_number += 1;
            let line_number = open.line_number;
            // Built only for a finding: most lines have none.
            let at = |text: &[u8]| LineAt {
                file: path.clone(),
                line_number,
                text: String::from_utf8_lossy(text).into_owned(),
            };
            let complete = self.line.last() == Some(&b'\n');
            if !complete || self.line.contains(&0) {
                let overlong = !complete && n > MAX_LINE_BYTES && !self.line.contains(&0);
                if overlong && skip_line(&mut open.reader, &mut open.offset).map_err(unreadable)? {
                    let what = format!("longer than {MAX_LINE_BYTES} bytes: not ours");
                    report(rule(at(b""), None, what));
                    self.summaries[file].lines += 1;
                    continue;
                }
                let len = open.reader.get_ref().metadata().map_err(unreadable)?.len();
                report(Finding::TornTail {
                    at: at(b""),
                    bytes: len.saturating_sub(start),
                });
                self.open = None;
                continue;
            }
            let summary = &mut self.summaries[file];
            summary.lines += 1;
            let text = &self.line[..self.line.len() - 1];
            let head = match parse_head(text) {
                Ok(head) => head,
                Err(why) => {
                    let what = format!("not a transaction log line: {why}");
                    report(rule(at(text), None, what));
                    continue;
                }
            };
            if let Some(named) = open.named_first.take() {
                if named != head.index {
                    let what = format!("starts the file, whose name says it starts at {named}");
                    report(rule(at(text), Some(head.index), what));
                }
            }
            if let Some(previous) = self.previous {
                if let Err(what) = follows(previous, head.index, head.marker) {
                    report(rule(at(text), Some(head.index), what));
                    if head.index <= previous {
                        // Kept out of the merge, which needs rising indexes.
                        continue;
                    }
                }
            }
            self.previous = Some(head.index);
            summary.markers += u64::from(head.marker);
            summary.indexes = Some(match summary.indexes {
                None => (head.index, head.index),
                Some((first, _)) => (first, head.index),
            });
            return Ok(Some(Item {
                index: head.index,
                marker: head.marker,
                text: text.to_vec(),
                file,
                line_number,
            }));
        }
    }

    /// Opens the next file; false when there is none.
    fn open_next(&mut self) -> Result<bool, Unreadable> {
        let Some(path) = self.files.get(self.summaries.len()) else {
            return Ok(false);
        };
        let file = File::open(path).map_err(|source| Unreadable {
            path: path.clone(),
            source,
        })?;
        self.summaries.push(FileSummary {
            file: path.clone(),
            indexes: None,
            lines: 0,
            markers: 0,
        });
        self.open = Some(Open {
            reader: BufReader::new(file),
            offset: 0,
            line_number: 0,
            named_first: rotation_index(path),
        });
        Ok(true)
    }
}

/// The first index a rotated file's name promises.
fn rotation_index(path: &Path) -> Option<Index> {
    split_rotation(path.file_name()?.to_str()?).1
}

fn rule(at: LineAt, index: Option<Index>, what: String) -> Finding {
    Finding::Rule { at, index, what }
}

/// Reads on past the next newline, counting the bytes; false at the end of the file.
fn skip_line(reader: &mut impl BufRead, offset: &mut u64) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(pos + 1);
            *offset += pos as u64 + 1;
            return Ok(true);
        }
        let len = buf.len();
        reader.consume(len);
        *offset += len as u64;
    }
}
