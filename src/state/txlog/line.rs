//! The text of one transaction log line (parsed back by `head.rs`).
//!
//! `<index, 12+ digits> t<term> <operation> <arguments> [client=<id> seq=<n>] [at=<ms>] -> <result>
//! [replay]`, where `at` is the leader's clock stamp (ms since the Unix epoch), when the entry has one.
//!
//! e.g. `000000000042 t3 student.put roll=7 name="Ada" address="1 Main St" phone="555" -> ok`.

use std::fmt::Write;

use super::escape::{push_quoted_bytes, push_quoted_str};
use crate::raft::{Index, Term};
use crate::state::command::{Command, Operation};
use crate::state::machine::Applied;
use crate::state::mvcc::{EtcdCommand, EtcdOutcome, EtcdResult, KeyRange};
use crate::state::result::ApplyResult;
use crate::state::students::Student;

/// Appends the line for one applied entry, with its trailing newline.
pub(super) fn render(
    out: &mut String,
    index: Index,
    term: Term,
    op: &Operation,
    applied: &Applied,
) {
    let _ = write!(out, "{index:012} t{term} ");
    match op {
        Operation::Noop => out.push_str("noop"),
        Operation::Undecodable(_) => out.push_str("undecodable"),
        Operation::Membership(m) => {
            let _ = write!(out, "membership {m}");
        }
        Operation::Request(request) => {
            push_command(out, &request.command);
            if let Some(s) = request.session {
                let _ = write!(out, " client={} seq={}", s.client_id, s.seq);
            }
            if let Some(stamp) = request.stamp_ms {
                let _ = write!(out, " at={stamp}");
            }
        }
    }
    out.push_str(" -> ");
    push_result(out, &applied.result);
    if applied.replayed {
        out.push_str(" [replay]");
    }
    out.push('\n');
}

/// Appends the operation name and its arguments.
fn push_command(out: &mut String, command: &Command) {
    let _ = match command {
        Command::StudentPut {
            roll_no,
            name,
            address,
            phone,
        } => {
            let _ = write!(out, "student.put roll={roll_no}");
            push_student_fields(out, name, address, phone);
            Ok(())
        }
        Command::StudentDelete { roll_no } => write!(out, "student.delete roll={roll_no}"),
        Command::StudentGet { roll_no } => write!(out, "student.get roll={roll_no}"),
        Command::StudentList => write!(out, "student.list"),
        Command::KvPut { key, value } => {
            out.push_str("kv.put key=");
            push_quoted_str(out, key);
            out.push_str(" value=");
            push_quoted_bytes(out, value);
            Ok(())
        }
        Command::KvSet {
            key,
            value,
            ttl_secs,
        } => {
            out.push_str("kv.set");
            push_key_value(out, key, value);
            write!(out, " ttl={ttl_secs}")
        }
        Command::KvCas {
            key,
            value,
            ttl_secs,
            expected_version,
        } => {
            out.push_str("kv.cas");
            push_key_value(out, key, value);
            write!(out, " ttl={ttl_secs} expected={expected_version}")
        }
        Command::KvPurge => write!(out, "kv.purge"),
        Command::KvGetMeta { key } => {
            out.push_str("kv.getm key=");
            push_quoted_str(out, key);
            Ok(())
        }
        Command::KvDelete { key } => {
            out.push_str("kv.delete key=");
            push_quoted_str(out, key);
            Ok(())
        }
        Command::KvGet { key } => {
            out.push_str("kv.get key=");
            push_quoted_str(out, key);
            Ok(())
        }
        Command::StackCreate { label } => write!(out, "stack.create label={label}"),
        Command::StackId { label } => write!(out, "stack.id label={label}"),
        Command::StackPush { stack_id, item } => {
            write!(out, "stack.push stack={stack_id} item={item}")
        }
        Command::StackPop { stack_id } => write!(out, "stack.pop stack={stack_id}"),
        Command::StackTop { stack_id } => write!(out, "stack.top stack={stack_id}"),
        Command::StackSize { stack_id } => write!(out, "stack.size stack={stack_id}"),
        Command::Etcd(command) => {
            push_etcd_command(out, command);
            Ok(())
        }
        // Names and keys only: a password hash never reaches the transaction log.
        Command::Auth(change) => {
            out.push_str("auth change=");
            push_quoted_str(out, &change.describe());
            Ok(())
        }
    };
}

/// Appends ` key=".." value=".."`.
fn push_key_value(out: &mut String, key: &str, value: &[u8]) {
    out.push_str(" key=");
    push_quoted_str(out, key);
    out.push_str(" value=");
    push_quoted_bytes(out, value);
}

/// Appends ` name=".." address=".." phone=".."`.
fn push_student_fields(out: &mut String, name: &str, address: &str, phone: &str) {
    out.push_str(" name=");
    push_quoted_str(out, name);
    out.push_str(" address=");
    push_quoted_str(out, address);
    out.push_str(" phone=");
    push_quoted_str(out, phone);
}

/// Appends a result in the line's words: `ok`, `deleted`, `item=3`, `error stack-empty`, ….
pub(in crate::state) fn push_result(out: &mut String, result: &ApplyResult) {
    let _ = match result {
        ApplyResult::Noop | ApplyResult::Written => write!(out, "ok"),
        ApplyResult::Stored { version } => write!(out, "ok version={version}"),
        ApplyResult::Deleted(true) => write!(out, "deleted"),
        ApplyResult::Deleted(false) => write!(out, "absent"),
        ApplyResult::Student(None) | ApplyResult::Value(None) | ApplyResult::Record(None) => {
            write!(out, "none")
        }
        ApplyResult::Record(Some(r)) => {
            out.push_str("value=");
            push_quoted_bytes(out, &r.value);
            let _ = write!(out, " version={}", r.version);
            match r.expires_at_ms {
                Some(at) => write!(out, " expires_at={at}"),
                None => Ok(()),
            }
        }
        ApplyResult::Purged(n) => write!(out, "purged={n}"),
        ApplyResult::VersionMismatch { version } => {
            write!(out, "error version-mismatch version={version}")
        }
        ApplyResult::Student(Some(Student {
            roll_no,
            name,
            address,
            phone,
        })) => {
            let _ = write!(out, "student roll={roll_no}");
            push_student_fields(out, name, address, phone);
            Ok(())
        }
        ApplyResult::Value(Some(v)) => {
            out.push_str("value=");
            push_quoted_bytes(out, &v.value);
            write!(out, " version={}", v.version)
        }
        ApplyResult::Students(list) => write!(out, "students={}", list.len()),
        ApplyResult::StackId(id) => write!(out, "stack={id}"),
        ApplyResult::Item(item) => write!(out, "item={item}"),
        ApplyResult::Size(n) => write!(out, "size={n}"),
        ApplyResult::NotFound => write!(out, "error not-found"),
        ApplyResult::StackEmpty => write!(out, "error stack-empty"),
        ApplyResult::BadCommand(why) => {
            out.push_str("error bad-command ");
            push_quoted_str(out, why);
            Ok(())
        }
        ApplyResult::StaleSession => write!(out, "error stale-session"),
        ApplyResult::Etcd(r) => push_etcd_result(out, r),
        ApplyResult::AuthChanged => write!(out, "ok"),
        ApplyResult::AuthFailed(e) => {
            out.push_str("error auth ");
            push_quoted_str(out, &e.to_string());
            Ok(())
        }
    };
}

/// Appends an etcd operation: `etcd.put key=".." value=".." lease=N`, `etcd.txn compares=1
/// success=2 failure=0`, ….
fn push_etcd_command(out: &mut String, command: &EtcdCommand) {
    let range = |out: &mut String, name: &str, r: &KeyRange| {
        out.push_str(name);
        out.push_str(" key=");
        push_quoted_str(out, &r.key);
        if !r.range_end.is_empty() {
            out.push_str(" end=");
            push_quoted_bytes(out, &r.range_end);
        }
    };
    let _ = match command {
        EtcdCommand::Range(r) => {
            range(out, "etcd.range", &r.range);
            write!(out, " rev={}", r.revision)
        }
        EtcdCommand::Put(p) => {
            out.push_str("etcd.put");
            push_key_value(out, &p.key, &p.value);
            write!(out, " lease={}", p.lease)
        }
        EtcdCommand::DeleteRange(d) => {
            range(out, "etcd.delete", &d.range);
            Ok(())
        }
        EtcdCommand::Txn(t) => write!(
            out,
            "etcd.txn compares={} success={} failure={}",
            t.compare.len(),
            t.success.len(),
            t.failure.len()
        ),
        EtcdCommand::Compact { revision } => write!(out, "etcd.compact rev={revision}"),
        EtcdCommand::LeaseGrant { id, ttl } => write!(out, "lease.grant id={id} ttl={ttl}"),
        EtcdCommand::LeaseRevoke { id } => write!(out, "lease.revoke id={id}"),
        EtcdCommand::LeaseLeases => write!(out, "lease.list"),
        EtcdCommand::LeaseInfo { id } => write!(out, "lease.info id={id}"),
    };
}

/// Appends an etcd operation's outcome: `ok rev=N` plus what it produced, or `error "…"`.
fn push_etcd_result(out: &mut String, r: &EtcdResult) -> std::fmt::Result {
    match &r.outcome {
        Err(e) => {
            out.push_str("error etcd ");
            push_quoted_str(out, &e.to_string());
            Ok(())
        }
        Ok(outcome) => {
            write!(out, "ok rev={}", r.revision)?;
            match outcome {
                EtcdOutcome::Range(range) => write!(out, " count={}", range.count),
                EtcdOutcome::DeleteRange(d) => write!(out, " deleted={}", d.deleted),
                EtcdOutcome::Txn(t) => write!(out, " succeeded={}", t.succeeded),
                EtcdOutcome::LeaseGranted { id, ttl } => write!(out, " lease={id} ttl={ttl}"),
                EtcdOutcome::Leases(ids) => write!(out, " leases={}", ids.len()),
                EtcdOutcome::Put(_)
                | EtcdOutcome::Compacted
                | EtcdOutcome::LeaseRevoked
                | EtcdOutcome::Lease(_) => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::command::Request;

    fn line(op: &Operation, result: ApplyResult, replayed: bool) -> String {
        let mut out = String::new();
        render(&mut out, 42, 3, op, &Applied { result, replayed });
        out
    }

    #[test]
    fn a_student_put_reads_like_the_example() {
        let op = Operation::Request(Request::new(Command::StudentPut {
            roll_no: 7,
            name: "Ada".into(),
            address: "1 Main St".into(),
            phone: "555".into(),
        }));
        assert_eq!(
            line(&op, ApplyResult::Written, false),
            "000000000042 t3 student.put roll=7 name=\"Ada\" address=\"1 Main St\" phone=\"555\" -> ok\n"
        );
    }

    #[test]
    fn sessions_replays_and_errors_are_shown() {
        let op = Operation::Request(Request::with_session(
            5,
            9,
            Command::StackPop { stack_id: 2 },
        ));
        assert_eq!(
            line(&op, ApplyResult::StackEmpty, true),
            "000000000042 t3 stack.pop stack=2 client=5 seq=9 -> error stack-empty [replay]\n"
        );
    }

    #[test]
    fn expiry_commands_show_their_ttl_stamp_and_outcome() {
        let set = Command::KvSet {
            key: "k".into(),
            value: bytes::Bytes::from_static(b"v"),
            ttl_secs: 10,
        };
        let op = Operation::Request(Request::new(set).stamped(1_000));
        assert_eq!(
            line(&op, ApplyResult::Stored { version: 42 }, false),
            "000000000042 t3 kv.set key=\"k\" value=\"v\" ttl=10 at=1000 -> ok version=42\n"
        );
        let cas = Command::KvCas {
            key: "k".into(),
            value: bytes::Bytes::from_static(b"w"),
            ttl_secs: 0,
            expected_version: 7,
        };
        let op = Operation::Request(Request::with_session(1, 2, cas));
        assert_eq!(
            line(&op, ApplyResult::VersionMismatch { version: 9 }, false),
            "000000000042 t3 kv.cas key=\"k\" value=\"w\" ttl=0 expected=7 client=1 seq=2 \
             -> error version-mismatch version=9\n"
        );
        let op = Operation::Request(Request::new(Command::KvPurge).stamped(5));
        assert_eq!(
            line(&op, ApplyResult::Purged(3), false),
            "000000000042 t3 kv.purge at=5 -> purged=3\n"
        );
    }
}
