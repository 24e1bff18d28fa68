//! Printing results: etcdctl-style ASCII tables (drawn by comfy-table), and the one place that
//! picks a format.

use comfy_table::{Cell, CellAlignment, ContentLineStyle, LineStyle, TableStyle};

use super::args::WriteOut;

/// etcdctl's `-w table` look: `+---+` borders, a `+---+` line under the header and none between
/// rows (comfy-table's condensed ASCII preset, with `-` instead of `=` under the header).
const ETCDCTL_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('+', '-', '+', '+'))
    .header_lines(ContentLineStyle::new('|', '|', '|'))
    .header_separator(LineStyle::new('+', '-', '+', '+'))
    .content_lines(ContentLineStyle::new('|', '|', '|'))
    .bottom_border(LineStyle::new('+', '-', '+', '+'));

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

    /// Renders with borders and centred headers, like `etcdctl -w table`.
    pub fn render(&self) -> String {
        let mut table = comfy_table::Table::new();
        table
            .load_style(ETCDCTL_STYLE)
            .set_header(
                self.header
                    .iter()
                    .map(|h| Cell::new(h).set_alignment(CellAlignment::Center)),
            )
            .add_rows(self.rows.iter().cloned());
        table.to_string() + "\n"
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
        // A header that cannot sit exactly in the middle leans right (comfy-table's centring).
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "node1".into()]);
        t.row(vec!["10".into(), "n".into()]);
        assert_eq!(
            t.render(),
            "+----+-------+\n\
             | ID |  NAME |\n\
             +----+-------+\n\
             | 1  | node1 |\n\
             | 10 | n     |\n\
             +----+-------+\n"
        );
        assert_eq!(t.render_simple(), "1, node1\n10, n\n");
    }

    #[test]
    fn headers_are_centred_and_wide_characters_counted_once() {
        let mut t = Table::new(&["KEY", "V"]);
        t.row(vec!["é".into(), "value".into()]);
        assert_eq!(
            t.render(),
            "+-----+-------+\n\
             | KEY |   V   |\n\
             +-----+-------+\n\
             | é   | value |\n\
             +-----+-------+\n"
        );
    }
}
