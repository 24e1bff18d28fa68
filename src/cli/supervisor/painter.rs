//! Prefixed, coloured output lines (`node1 | ...`), like goreman's: one colour per process, names
//! padded to one width, each line written whole so that lines of different nodes never interleave.

use std::io::{IsTerminal, Write};

/// ANSI colours cycled over node ids (green, cyan, yellow, magenta, blue, red).
const PALETTE: [u8; 6] = [32, 36, 33, 35, 34, 31];

/// The name of the supervisor's own lines.
pub const SUPERVISOR: &str = "cluster";

/// Writes prefixed lines to stdout.
#[derive(Clone, Debug)]
pub struct Painter {
    width: usize,
    colour: bool,
}

impl Painter {
    /// A painter for names up to `longest_name` characters; colour only on a terminal, and never
    /// when `NO_COLOR` is set (no-color.org).
    pub fn new(longest_name: usize) -> Painter {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Painter {
            width: longest_name.max(SUPERVISOR.len()),
            colour,
        }
    }

    /// The display name of node `id`.
    pub fn node_name(id: u64) -> String {
        format!("node{id}")
    }

    /// Writes `text` (one line, without its newline) under node `id`'s prefix.
    pub fn node_line(&self, id: u64, text: &[u8]) {
        let colour = PALETTE[(id as usize).wrapping_sub(1) % PALETTE.len()];
        self.write(&Self::node_name(id), colour, text);
    }

    /// Writes one of the supervisor's own lines.
    pub fn say(&self, text: &str) {
        // Bold white: set apart from every node's colour.
        self.write(SUPERVISOR, 1, text.as_bytes());
    }

    fn write(&self, name: &str, colour: u8, text: &[u8]) {
        let mut line = Vec::with_capacity(self.width + text.len() + 16);
        let prefix = format!("{name:<w$} |", w = self.width);
        if self.colour {
            line.extend_from_slice(format!("\x1b[1;{colour}m{prefix}\x1b[0m ").as_bytes());
        } else {
            line.extend_from_slice(prefix.as_bytes());
            line.push(b' ');
        }
        line.extend_from_slice(text);
        line.push(b'\n');
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the supervisor from stopping its nodes.
        let _ = out.write_all(&line).and_then(|_| out.flush());
    }
}
