//! A sweep's results as CSV: one row per point, a fixed header, plain fields (names and numbers,
//! never a comma or a quote), so any spreadsheet or `awk -F,` reads them and `bench plot` can
//! read them back strictly.

use std::io::Write;
use std::path::Path;

use super::report::Summary;
use crate::cli::error::CliError;

/// The first line of every sweep CSV; [`Row::to_csv`] writes the fields in this order.
pub const HEADER: &str = "target,cluster_size,op,clients,value_size,throughput_ops,\
                          p50_ms,p90_ms,p99_ms,p999_ms,max_ms,errors,retries,ok,duration_s";

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `raftkv` or `etcd`.
    pub target: String,
    /// Members in the cluster, when known.
    pub cluster_size: Option<usize>,
    /// `put`, `get` or `mixed`.
    pub op: String,
    pub clients: usize,
    pub value_size: usize,
    pub throughput_ops: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub retries: u64,
    pub ok: u64,
    pub duration_s: f64,
}

impl Row {
    /// The row for one run's summary.
    pub fn new(summary: &Summary, cluster_size: Option<usize>) -> Row {
        Row {
            target: summary.target_name(),
            cluster_size,
            op: summary.op_name(),
            clients: summary.clients,
            value_size: summary.value_size,
            throughput_ops: summary.throughput(),
            p50_ms: summary.ms(0.50),
            p90_ms: summary.ms(0.90),
            p99_ms: summary.ms(0.99),
            p999_ms: summary.ms(0.999),
            max_ms: summary.max_ms(),
            errors: summary.errors,
            retries: summary.retries,
            ok: summary.ok,
            duration_s: summary.elapsed.as_secs_f64(),
        }
    }

    /// The CSV line, without its newline.
    pub fn to_csv(&self) -> String {
        format!(
            "{},{},{},{},{},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{:.3}",
            self.target,
            self.cluster_size.map(|n| n.to_string()).unwrap_or_default(),
            self.op,
            self.clients,
            self.value_size,
            self.throughput_ops,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.errors,
            self.retries,
            self.ok,
            self.duration_s,
        )
    }

    /// Parses one CSV line written by [`Row::to_csv`].
    pub fn parse(line: &str) -> Result<Row, String> {
        let fields: Vec<&str> = line.split(',').collect();
        let expected = HEADER.split(',').count();
        if fields.len() != expected {
            return Err(format!("{} fields, expected {expected}", fields.len()));
        }
        let name = |i: usize| -> Result<String, String> {
            let f = fields[i];
            let plain = !f.is_empty()
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            plain
                .then(|| f.to_string())
                .ok_or_else(|| format!("field {} is {f:?}, not a plain name", column(i)))
        };
        Ok(Row {
            target: name(0)?,
            cluster_size: match fields[1] {
                "" => None,
                n => Some(number(n, 1)?),
            },
            op: name(2)?,
            clients: number(fields[3], 3)?,
            value_size: number(fields[4], 4)?,
            throughput_ops: real(fields[5], 5)?,
            p50_ms: real(fields[6], 6)?,
            p90_ms: real(fields[7], 7)?,
            p99_ms: real(fields[8], 8)?,
            p999_ms: real(fields[9], 9)?,
            max_ms: real(fields[10], 10)?,
            errors: number(fields[11], 11)?,
            retries: number(fields[12], 12)?,
            ok: number(fields[13], 13)?,
            duration_s: real(fields[14], 14)?,
        })
    }
}

/// The name of column `i`.
fn column(i: usize) -> &'static str {
    HEADER.split(',').nth(i).unwrap_or("?")
}

fn number<T: std::str::FromStr>(text: &str, i: usize) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{} is {text:?}, not a whole number", column(i)))
}

fn real(text: &str, i: usize) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{} is {text:?}, not a number", column(i)))
}

/// A CSV being written one row at a time, flushed after each, so an interrupted sweep keeps the
/// points it finished.
pub struct CsvWriter {
    file: std::fs::File,
}

impl CsvWriter {
    /// Creates (or replaces) `path` and writes the header.
    pub fn create(path: &Path) -> Result<CsvWriter, CliError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, &e))?;
        }
        let mut file = std::fs::File::create(path).map_err(|e| file_error(path, &e))?;
        writeln!(file, "{HEADER}").map_err(|e| file_error(path, &e))?;
        Ok(CsvWriter { file })
    }

    /// Appends `row`.
    pub fn append(&mut self, row: &Row, path: &Path) -> Result<(), CliError> {
        writeln!(self.file, "{}", row.to_csv())
            .and_then(|()| self.file.flush())
            .map_err(|e| file_error(path, &e))
    }
}

/// Writes `rows` to `path` under the header.
pub fn write(path: &Path, rows: &[Row]) -> Result<(), CliError> {
    let mut csv = CsvWriter::create(path)?;
    rows.iter().try_for_each(|row| csv.append(row, path))
}

/// Reads a sweep CSV: the header, then rows; an error names the file and line.
pub fn read(path: &Path) -> Result<Vec<Row>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, &e))?;
    parse(&text).map_err(|(line, why)| CliError::Usage(format!("{}:{line}: {why}", path.display())))
}

/// Parses a whole CSV; an error carries its 1-based line number.
pub fn parse(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim_end() == HEADER => {}
        Some((_, header)) => {
            return Err((1, format!("the header is {header:?}, expected {HEADER:?}")));
        }
        None => return Err((1, "empty file, expected the header".into())),
    }
    lines
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| Row::parse(line.trim_end()).map_err(|why| (i + 1, why)))
        .collect()
}

/// A file that could not be read or written, as a one-line error.
pub fn file_error(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Local(format!("{}: {e}", path.display()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A plausible row for tests.
    pub fn row(clients: usize, throughput: f64, p99: f64) -> Row {
        Row {
            target: "raftkv".into(),
            cluster_size: Some(3),
            op: "put".into(),
            clients,
            value_size: 256,
            throughput_ops: throughput,
            p50_ms: p99 / 4.0,
            p90_ms: p99 / 2.0,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            max_ms: p99 * 3.0,
            errors: 0,
            retries: 7,
            ok: 1000,
            duration_s: 5.0,
        }
    }

    #[test]
    fn a_row_reads_back_as_written() {
        let rows = [row(1, 1234.5, 0.75), row(1024, 20000.0, 125.25)];
        let lines: Vec<String> = rows.iter().map(Row::to_csv).collect();
        let text = format!("{HEADER}\n{}\n", lines.join("\n"));
        let read = parse(&text).expect("parses");
        // Written values are rounded (to 0.001 ms): what reads back writes the same line again.
        let again: Vec<String> = read.iter().map(Row::to_csv).collect();
        assert_eq!(again, lines);
        assert_eq!((read[1].clients, read[1].p99_ms), (1024, 125.25));
        assert_eq!(read[0].p50_ms, 0.188);
    }

    #[test]
    fn an_unknown_cluster_size_is_an_empty_cell() {
        let mut r = row(4, 10.0, 1.0);
        r.cluster_size = None;
        assert!(r.to_csv().starts_with("raftkv,,put,4,256,"));
        assert_eq!(Row::parse(&r.to_csv()), Ok(r));
    }

    #[test]
    fn bad_input_names_the_line_and_the_field() {
        assert_eq!(parse("a,b\n").unwrap_err().0, 1);
        let bad = format!("{HEADER}\n{}\nraftkv,3,put,x\n", row(1, 1.0, 1.0).to_csv());
        assert_eq!(parse(&bad).unwrap_err().0, 3);
        let line = row(1, 1.0, 1.0).to_csv().replace(",put,", ",\"put\",");
        assert!(Row::parse(&line).unwrap_err().contains("op"));
        let line = row(1, 1.0, 1.0)
            .to_csv()
            .replacen(",1,256,", ",one,256,", 1);
        assert!(Row::parse(&line).unwrap_err().contains("clients"));
    }
}
