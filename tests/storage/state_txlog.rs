//! The transaction log file: one line per applied entry, restart without duplicates, repair of a
//! torn tail, rejection of a corrupt middle, one write per batch.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use raftkv::raft::{Entry, Payload};
use raftkv::state::{
    encode, Command, Request, StateConfig, StateMachine, TxLog, TxLogError, TxLogOptions,
};

fn machine() -> StateMachine {
    StateMachine::new(StateConfig::default()).expect("valid config")
}

fn command(index: u64, command: Command) -> Entry {
    Entry {
        index,
        term: 2,
        payload: Payload::Command(encode(&Request::new(command))),
    }
}

/// A varied history: a no-op, students, keys, stacks, a session, an undecodable payload.
fn history() -> Vec<Entry> {
    vec![
        Entry {
            index: 1,
            term: 1,
            payload: Payload::Noop,
        },
        command(
            2,
            Command::StudentPut {
                roll_no: 7,
                name: "Ada \"the first\"".into(),
                address: "1 Main St\nFlat 2".into(),
                phone: "555".into(),
            },
        ),
        command(3, Command::StudentGet { roll_no: 7 }),
        command(
            4,
            Command::KvPut {
                key: "k".into(),
                value: Bytes::from_static(b"line1\nline2"),
            },
        ),
        command(5, Command::StackCreate { label: 1 }),
        Entry {
            index: 6,
            term: 2,
            payload: Payload::Command(encode(&Request::with_session(
                3,
                1,
                Command::StackPop { stack_id: 1 },
            ))),
        },
        Entry {
            index: 7,
            term: 2,
            payload: Payload::Command(Bytes::from_static(b"\xc1garbage")),
        },
        command(8, Command::StudentDelete { roll_no: 7 }),
    ]
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("readable log")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_entry_gives_one_line_with_contiguous_indexes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = TxLog::open(dir.path(), 3).expect("open");
    assert_eq!(log.path(), dir.path().join("node-3.log"));
    let results = machine().apply_batch(&history(), &mut log).expect("batch");
    assert_eq!(results.len(), 8);
    assert_eq!(log.last_index(), 8);
    let text = lines(log.path());
    assert_eq!(text.len(), 8, "{text:#?}");
    for (i, line) in text.iter().enumerate() {
        assert!(line.starts_with(&format!("{:012} t", i + 1)), "{line}");
    }
    assert_eq!(text[0], "000000000001 t1 noop -> ok");
    assert_eq!(
        text[1],
        r#"000000000002 t2 student.put roll=7 name="Ada \"the first\"" address="1 Main St\nFlat 2" phone="555" -> ok"#
    );
    assert!(text[2].starts_with("000000000003 t2 student.get roll=7 -> student roll=7 name="));
    assert_eq!(
        text[3],
        r#"000000000004 t2 kv.put key="k" value="line1\nline2" -> ok version=2"#
    );
    assert_eq!(text[4], "000000000005 t2 stack.create label=1 -> stack=1");
    assert_eq!(
        text[5],
        "000000000006 t2 stack.pop stack=1 client=3 seq=1 -> error stack-empty"
    );
    assert!(text[6].starts_with("000000000007 t2 undecodable -> error bad-command \"undecodable"));
    assert_eq!(text[7], "000000000008 t2 student.delete roll=7 -> deleted");
}

#[test]
fn a_restart_that_reapplies_from_index_one_duplicates_nothing_and_misses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let entries = history();
    {
        let mut log = TxLog::open(dir.path(), 1).expect("open");
        let mut sm = machine();
        sm.apply_batch(&entries[..3], &mut log)
            .expect("first batch");
        sm.apply_batch(&entries[3..5], &mut log)
            .expect("second batch");
    }
    // The whole history in one file, written without interruption, for comparison.
    let reference = tempfile::tempdir().expect("temp dir");
    let mut log = TxLog::open(reference.path(), 1).expect("open");
    machine().apply_batch(&entries, &mut log).expect("batch");
    let expected = lines(log.path());

    let mut log = TxLog::open(dir.path(), 1).expect("reopen");
    assert_eq!(log.last_index(), 5);
    let mut sm = machine();
    // Re-applied in other batch sizes than before: only indexes after 5 may be written.
    sm.apply_batch(&entries[..4], &mut log).expect("replay");
    assert_eq!(log.pending_bytes(), 0);
    sm.apply_batch(&entries[4..], &mut log).expect("rest");
    assert_eq!(lines(log.path()), expected);
}

#[test]
fn a_torn_last_line_is_cut_away_and_rewritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let entries = history();
    let path = {
        let mut log = TxLog::open(dir.path(), 2).expect("open");
        machine()
            .apply_batch(&entries[..4], &mut log)
            .expect("batch");
        log.path().to_path_buf()
    };
    let complete = fs::read(&path).expect("read");
    let mut file = OpenOptions::new().append(true).open(&path).expect("append");
    file.write_all(b"000000000005 t2 stack.cre")
        .expect("torn write");
    drop(file);

    let mut log = TxLog::open(dir.path(), 2).expect("reopen");
    assert_eq!(log.last_index(), 4);
    assert_eq!(
        fs::read(&path).expect("read"),
        complete,
        "the torn line is gone"
    );
    machine().apply_batch(&entries, &mut log).expect("reapply");
    let text = lines(&path);
    assert_eq!(text.len(), 8);
    assert_eq!(text[4], "000000000005 t2 stack.create label=1 -> stack=1");
}

#[test]
fn a_torn_first_line_leaves_an_empty_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("node-4.log"), b"00000000").expect("write");
    let log = TxLog::open(dir.path(), 4).expect("open");
    assert_eq!(log.last_index(), 0);
    assert_eq!(fs::metadata(log.path()).expect("stat").len(), 0);
}

#[test]
fn a_long_torn_tail_without_newline_is_cut_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node-1.log");
    // A crash can leave a zero-filled tail longer than any line.
    let mut content = b"000000000001 t1 noop -> ok\n".to_vec();
    content.extend(vec![0u8; 200_000]);
    fs::write(&path, &content).expect("write");
    let log = TxLog::open(dir.path(), 1).expect("open");
    assert_eq!(log.last_index(), 1);
    assert_eq!(fs::metadata(&path).expect("stat").len(), 27);
}

#[test]
fn a_power_cut_hole_of_nuls_and_the_lines_after_it_are_cut_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node-1.log");
    let good = b"000000000001 t1 noop -> ok\n000000000002 t1 noop -> ok\n";
    // The size grew past lines 3 and 4 but only line 4's page was written.
    let mut content = good.to_vec();
    content.extend(vec![0u8; 27]);
    content.extend(b"000000000004 t1 noop -> ok\n");
    fs::write(&path, &content).expect("write");
    let mut log = TxLog::open(dir.path(), 1).expect("open");
    assert_eq!(log.last_index(), 2);
    assert_eq!(fs::read(&path).expect("read"), good, "cut, never kept");
    machine()
        .apply_batch(&history()[..4], &mut log)
        .expect("reapply");
    let text = lines(&path);
    assert_eq!(text.len(), 4);
    assert!(
        text[2].starts_with("000000000003 t2 student.get"),
        "{}",
        text[2]
    );
}

fn assert_corrupt(content: &[u8], expected_line: u64, reason_part: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node-9.log");
    fs::write(&path, content).expect("write");
    match TxLog::open(dir.path(), 9) {
        Err(TxLogError::Corrupt {
            path: p,
            line_number,
            reason,
        }) => {
            assert_eq!(p, path);
            assert_eq!(line_number, expected_line);
            assert!(reason.contains(reason_part), "{reason}");
        }
        other => panic!("expected a corrupt-line error, got {other:?}"),
    }
    assert_eq!(
        fs::read(&path).expect("read"),
        content,
        "a corrupt file is left alone"
    );
}

#[test]
fn a_corrupt_middle_line_is_an_error_naming_file_and_line() {
    assert_corrupt(
        b"000000000001 t1 noop -> ok\nhello there\n000000000003 t1 noop -> ok\n",
        2,
        "index",
    );
    let message = {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("node-9.log"), b"x\n").expect("write");
        TxLog::open(dir.path(), 9).unwrap_err().to_string()
    };
    assert!(message.contains("node-9.log:1:"), "{message}");
}

#[test]
fn out_of_order_or_overlong_lines_are_errors() {
    assert_corrupt(
        b"000000000001 t1 noop -> ok\n000000000003 t1 noop -> ok\n",
        2,
        "does not follow 1",
    );
    assert_corrupt(
        b"000000000001 t1 noop -> ok\n000000000001 t1 noop -> ok\n",
        2,
        "does not follow 1",
    );
    let mut long = b"000000000001 t1 noop -> ok\n".to_vec();
    long.extend(vec![b'a'; 100_000]);
    long.extend(b"\n000000000003 t1 noop -> ok\n");
    assert_corrupt(&long, 2, "longer than");
}

/// Counts the `write` calls that reach the file.
struct CountingFile {
    file: File,
    writes: Arc<AtomicUsize>,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[test]
fn each_batch_is_written_with_one_write_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let writes = Arc::new(AtomicUsize::new(0));
    let counter = writes.clone();
    let mut log = TxLog::open_with(dir.path(), 1, TxLogOptions::default(), move |file| {
        CountingFile {
            file,
            writes: counter.clone(),
        }
    })
    .expect("open");
    let entries = history();
    let mut sm = machine();
    sm.apply_batch(&entries[..5], &mut log).expect("batch");
    assert_eq!(writes.load(Ordering::SeqCst), 1);
    sm.apply_batch(&entries[5..], &mut log).expect("batch");
    assert_eq!(writes.load(Ordering::SeqCst), 2);
    // An empty batch writes nothing.
    sm.apply_batch(&[], &mut log).expect("empty batch");
    assert_eq!(writes.load(Ordering::SeqCst), 2);
    assert_eq!(lines(log.path()).len(), 8);
}

#[test]
fn pushed_lines_wait_in_the_buffer_until_flush() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = TxLog::open(dir.path(), 1).expect("open");
    let mut sm = machine();
    let op = raftkv::state::Operation::Noop;
    let applied = sm.apply_operation(1, 1, &op);
    assert!(log.push(1, 1, &op, &applied));
    assert!(
        !log.push(1, 1, &op, &applied),
        "an index already logged is skipped"
    );
    assert!(log.pending_bytes() > 0);
    assert_eq!(fs::metadata(log.path()).expect("stat").len(), 0);
    log.flush().expect("flush");
    assert_eq!(log.pending_bytes(), 0);
    assert_eq!(lines(log.path()), vec!["000000000001 t1 noop -> ok"]);
}

/// A writer that always fails, like a full disk.
struct FullDisk;

impl Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("no space left on device"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_write_is_reported_and_every_later_flush_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log =
        TxLog::open_with(dir.path(), 1, TxLogOptions::default(), |_| FullDisk).expect("open");
    let mut sm = machine();
    let err = sm.apply_batch(&history()[..2], &mut log).unwrap_err();
    assert!(matches!(err, TxLogError::Io { .. }), "{err}");
    assert_eq!(
        sm.applied_index(),
        2,
        "the entries were applied all the same"
    );
    assert!(matches!(log.flush(), Err(TxLogError::Failed { .. })));
}

#[test]
fn a_second_open_of_the_same_file_is_refused_until_the_first_is_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = TxLog::open(dir.path(), 5).expect("open");
    match TxLog::open(dir.path(), 5) {
        Err(TxLogError::Locked { path }) => assert_eq!(path, dir.path().join("node-5.log")),
        other => panic!("expected the file to be locked, got {other:?}"),
    }
    // Another node's file in the same directory is its own.
    let other_node = TxLog::open(dir.path(), 6).expect("open node 6's log");
    drop((first, other_node));
    TxLog::open(dir.path(), 5).expect("reopen after close");
}
