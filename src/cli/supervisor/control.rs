//! The control channel between `raftkv cluster stop|start|restart|ps` and a running supervisor: a
//! Unix socket in the cluster's data directory. One request line per connection (`stop 2`); the
//! answer is `ok <text>` or `error <text>` on the first line, then any further lines of text.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::cli::args::ClusterAction;
use crate::cli::error::CliError;

/// Longer than a node's stop grace period, so a `restart` that needed SIGKILL still answers.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the supervisor waits for a request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on a request line: ids are small numbers.
pub const MAX_REQUEST_BYTES: usize = 64;

/// A parsed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Stop(u64),
    Start(u64),
    Restart(u64),
    /// SIGKILL: the process dies at once, as in a crash (nothing handed over, nothing flushed
    /// beyond what is already durable).
    Kill(u64),
    /// SIGSTOP: the process stays, frozen (a long GC pause, a VM stall).
    Pause(u64),
    /// SIGCONT after a pause.
    Resume(u64),
    Ps,
}

impl Request {
    /// The request line for `action` (without its newline).
    pub fn from_action(action: &ClusterAction) -> Request {
        match *action {
            ClusterAction::Stop { id } => Request::Stop(id),
            ClusterAction::Start { id } => Request::Start(id),
            ClusterAction::Restart { id } => Request::Restart(id),
            ClusterAction::Kill { id } => Request::Kill(id),
            ClusterAction::Pause { id } => Request::Pause(id),
            ClusterAction::Resume { id } => Request::Resume(id),
            ClusterAction::Ps => Request::Ps,
        }
    }

    /// `stop 2`.
    pub fn to_line(self) -> String {
        match self {
            Request::Stop(id) => format!("stop {id}"),
            Request::Start(id) => format!("start {id}"),
            Request::Restart(id) => format!("restart {id}"),
            Request::Kill(id) => format!("kill {id}"),
            Request::Pause(id) => format!("pause {id}"),
            Request::Resume(id) => format!("resume {id}"),
            Request::Ps => "ps".into(),
        }
    }

    /// Parses a request line.
    pub fn parse(line: &str) -> Result<Request, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let id = |w: Option<&&str>| -> Result<u64, String> {
            w.and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("expected a node id in {line:?}"))
        };
        match words.first().copied() {
            Some("stop") if words.len() == 2 => Ok(Request::Stop(id(words.get(1))?)),
            Some("start") if words.len() == 2 => Ok(Request::Start(id(words.get(1))?)),
            Some("restart") if words.len() == 2 => Ok(Request::Restart(id(words.get(1))?)),
            Some("kill") if words.len() == 2 => Ok(Request::Kill(id(words.get(1))?)),
            Some("pause") if words.len() == 2 => Ok(Request::Pause(id(words.get(1))?)),
            Some("resume") if words.len() == 2 => Ok(Request::Resume(id(words.get(1))?)),
            Some("ps") if words.len() == 1 => Ok(Request::Ps),
            _ => Err(format!("unknown request {line:?}")),
        }
    }
}

/// Sends `request` to the supervisor listening on `socket`; returns its answer text.
pub fn send(socket: &Path, request: Request) -> Result<String, CliError> {
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        CliError::Unreachable(format!(
            "no `raftkv cluster` supervisor answers on {} ({e}); is it running, from this \
             directory and with the same --config?",
            socket.display()
        ))
    })?;
    let talk = |stream: &mut UnixStream| -> std::io::Result<String> {
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        stream.write_all(format!("{}\n", request.to_line()).as_bytes())?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    let answer = talk(&mut stream)
        .map_err(|e| CliError::Local(format!("talking to the supervisor: {e}")))?;
    let (first, rest) = answer.split_once('\n').unwrap_or((answer.as_str(), ""));
    if let Some(text) = first.strip_prefix("ok") {
        let mut out = text.trim().to_string();
        if !rest.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(rest.trim_end());
        }
        Ok(out)
    } else {
        let reason = first.strip_prefix("error").unwrap_or(first).trim();
        Err(CliError::Answered {
            code: "supervisor".into(),
            message: if reason.is_empty() {
                "the supervisor closed the connection without an answer".into()
            } else {
                reason.to_string()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_round_trip() {
        for r in [
            Request::Stop(2),
            Request::Start(3),
            Request::Restart(11),
            Request::Kill(4),
            Request::Pause(5),
            Request::Resume(5),
            Request::Ps,
        ] {
            assert_eq!(Request::parse(&r.to_line()), Ok(r));
        }
        assert!(Request::parse("stop").is_err());
        assert!(Request::parse("stop x").is_err());
        assert!(Request::parse("pause").is_err());
        assert!(Request::parse("nuke 2").is_err());
        assert!(Request::parse("ps 1").is_err());
    }
}
