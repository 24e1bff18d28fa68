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

/// Asserts that every log is a prefix of the longest one (same index, same line) and that each
/// holds indexes 1, 2, 3, … once, in order. Returns the longest.
pub fn assert_prefixes_of_longest(logs: &[(u64, Vec<String>)]) -> Vec<String> {
    let (longest_id, longest) = logs
        .iter()
        .max_by_key(|(_, log)| log.len())
        .expect("at least one log");
    for (id, log) in logs {
        for (i, line) in log.iter().enumerate() {
            let parsed = Line::parse(line);
            assert_eq!(
                parsed.index,
                i as u64 + 1,
                "node {id}'s transaction log skips or repeats at line {}",
                i + 1
            );
            assert_eq!(
                line,
                &longest[i],
                "node {id} and node {longest_id} disagree at index {}",
                i + 1
            );
        }
    }
    longest.clone()
}
