//! Printing results: etcdctl-style ASCII tables, and the one place that picks a format.

use super::args::WriteOut;

/// A table: a header row and data rows of the same width.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.header.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells);
    }

    /// Renders with `+---+` borders and centred headers, like `etcdctl -w table`.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let border = {
            let mut s = String::from("+");
            for w in &widths {
                s.push_str(&"-".repeat(w + 2));
                s.push('+');
            }
            s
        };
        let line = |cells: &[String], centre: bool| {
            let mut s = String::from("|");
            for (cell, w) in cells.iter().zip(&widths) {
                if centre {
                    s.push_str(&format!(" {cell:^w$} |"));
                } else {
                    s.push_str(&format!(" {cell:<w$} |"));
                }
            }
            s
        };
        let mut out = vec![border.clone(), line(&self.header, true), border.clone()];
        out.extend(self.rows.iter().map(|r| line(r, false)));
        out.push(border);
        out.join("\n") + "\n"
    }

    /// Each row as comma-separated cells, like etcdctl's simple output.
    pub fn render_simple(&self) -> String {
        self.rows.iter().map(|r| r.join(", ") + "\n").collect()
    }
}

/// Prints `table` in `format`, or `json` (one line) for JSON output.
pub fn print(format: WriteOut, table: &Table, json: &serde_json::Value) {
    match format {
        WriteOut::Simple => emit(table.render_simple().as_bytes()),
        WriteOut::Table => emit(table.render().as_bytes()),
        WriteOut::Json => emit(format!("{json}\n").as_bytes()),
    }
}

/// Writes to stdout; a closed pipe (`raftkv get k | head -c1`) is not an error worth a panic.
pub fn emit(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_every_column_to_its_widest_cell() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "node1".into()]);
        t.row(vec!["10".into(), "n".into()]);
        assert_eq!(
            t.render(),
            "+----+-------+\n\
             | ID | NAME  |\n\
             +----+-------+\n\
             | 1  | node1 |\n\
             | 10 | n     |\n\
             +----+-------+\n"
        );
        assert_eq!(t.render_simple(), "1, node1\n10, n\n");
    }
}
