//! Reading transaction log files back: the lines' structure, and the cross-node checks.
#![allow(dead_code)]

/// One transaction log line, split into what the checks need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub index: u64,
    pub term: u64,
    /// `stack.pop`, `student.put`, `noop`, ….
    pub op: String,
    /// The `name=value` arguments before ` -> ` (values kept as written, quotes included).
    pub args: Vec<(String, String)>,
    /// What follows ` -> `, without the ` [replay]` mark.
    pub result: String,
    /// The entry repeated a client's last request: nothing was applied again.
    pub replay: bool,
}

impl Line {
    /// Parses a line written by the node (panics on anything else: the file is the node's).
    pub fn parse(text: &str) -> Line {
        let (left, right) = text
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("not a transaction log line: {text:?}"));
        let mut words = left.split(' ');
        let index = words.next().and_then(|w| w.parse().ok());
        let term = words
            .next()
            .and_then(|w| w.strip_prefix('t'))
            .and_then(|w| w.parse().ok());
        let (Some(index), Some(term)) = (index, term) else {
            panic!("no index and term in {text:?}");
        };
        let op = words.next().unwrap_or_default().to_string();
        let args = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (result, replay) = match right.strip_suffix(" [replay]") {
            Some(result) => (result.to_string(), true),
            None => (right.to_string(), false),
        };
        Line {
            index,
            term,
            op,
            args,
            result,
            replay,
        }
    }

    /// The value of argument `name`, parsed.
    pub fn arg<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// True for a snapshot marker line (`<index> t<term> snapshot -- …`): the node installed the
/// entries through `index` from a snapshot instead of applying them.
pub fn is_marker(line: &str) -> bool {
    line.split(' ').nth(2) == Some("snapshot") && !line.contains(" -> ")
}

/// The index a line starts with.
fn index_of(line: &str) -> u64 {
    line.split(' ')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no index in {line:?}"))
}

/// Checks the promise without panicking: each log holds indexes 1, 2, 3, … once, in order, except
/// right after a snapshot marker (which may jump forward), and a line with the same index is the
/// same in every log (markers are not compared). Returns the merged history, index → line, or
/// what is wrong.
pub fn merged_history(
    logs: &[(u64, Vec<String>)],
) -> Result<std::collections::BTreeMap<u64, (u64, String)>, String> {
    let mut merged = std::collections::BTreeMap::new();
    for (id, log) in logs {
        let mut expected = 1;
        for (n, line) in log.iter().enumerate() {
            let index = index_of(line);
            if is_marker(line) {
                if index + 1 < expected {
                    return Err(format!("node {id}'s marker at line {} goes back", n + 1));
                }
                expected = index + 1;
                continue;
            }
            if index != expected {
                return Err(format!(
                    "node {id}'s transaction log skips or repeats at line {} (index {index}, \
                     expected {expected})",
                    n + 1
                ));
            }
            expected += 1;
            match merged.get(&index) {
                Some((other, held)) if held != line => {
                    return Err(format!(
                        "node {id} and node {other} disagree at index {index}:\n  {line}\n  {held}"
                    ))
                }
                Some(_) => {}
                None => {
                    merged.insert(index, (*id, line.clone()));
                }
            }
        }
    }
    Ok(merged)
}

/// Asserts what [`merged_history`] checks, and that some log holds every index up to the highest
/// (a marker covers an index only for its own node). Returns the whole history, one line per index.
pub fn assert_prefixes_of_longest(logs: &[(u64, Vec<String>)]) -> Vec<String> {
    let merged = merged_history(logs).unwrap_or_else(|e| panic!("{e}"));
    let mut history = Vec::with_capacity(merged.len());
    for (expected, (index, (_, line))) in (1..).zip(merged) {
        assert_eq!(
            index, expected,
            "no node's transaction log holds index {expected}"
        );
        history.push(line);
    }
    history
}

/// True when every log ends at the same index and [`merged_history`] finds nothing wrong.
pub fn histories_agree(logs: &[Vec<String>]) -> bool {
    let last = |log: &Vec<String>| log.last().map_or(0, |l| index_of(l));
    let tagged: Vec<(u64, Vec<String>)> = (1..).zip(logs.iter().cloned()).collect();
    logs.iter().all(|l| last(l) == last(&logs[0])) && merged_history(&tagged).is_ok()
}
