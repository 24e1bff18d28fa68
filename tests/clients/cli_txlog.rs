//! `raftkv txlog verify`, run as a user would: files that agree, a gap, a different line at one
//! index, a snapshot marker's jump, rotated files, an unreadable file — exit codes and the places
//! named in the output.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn verify(paths: &[&Path]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["txlog", "verify"])
        .args(paths)
        .output()
        .expect("run raftkv");
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn line(index: u64, term: u64) -> String {
    format!("{index:012} t{term} kv.put key=\"k{index}\" value=\"v\" -> ok version={index}\n")
}

fn lines(indexes: std::ops::RangeInclusive<u64>) -> String {
    indexes.map(|i| line(i, 1)).collect()
}

const MARKER_WORDS: &str = "snapshot -- entries up to and including this index were installed \
                            from a snapshot, not applied here";

fn marker(index: u64, term: u64) -> String {
    format!("{index:012} t{term} {MARKER_WORDS}\n")
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

#[test]
fn agreeing_files_pass_with_a_summary_per_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = write(dir.path(), "node-1.log", &lines(1..=20));
    let two = write(dir.path(), "node-2.log", &lines(1..=12));
    // Installed a snapshot at 15 instead of applying 4..=15.
    let three = write(
        dir.path(),
        "node-3.log",
        &(lines(1..=3) + &marker(15, 1) + &lines(16..=18)),
    );
    let run = verify(&[&one, &two, &three]);
    assert_eq!(run.code, 0, "{run:?}");
    let expected = format!(
        "{}: indexes 1..=20, 20 lines, 0 markers\n\
         {}: indexes 1..=12, 12 lines, 0 markers\n\
         {}: indexes 1..=18, 7 lines, 1 markers\n",
        one.display(),
        two.display(),
        three.display()
    );
    assert_eq!(run.stdout, expected);
    // The same files, found through their directory.
    let run = verify(&[dir.path()]);
    assert_eq!((run.code, run.stdout), (0, expected));
}

#[test]
fn a_gap_is_named_by_file_line_and_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = write(dir.path(), "node-1.log", &lines(1..=10));
    let gappy = write(dir.path(), "node-2.log", &(lines(1..=4) + &lines(6..=10)));
    let run = verify(&[&one, &gappy]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = format!(
        "{}:5: index 6 does not follow 4: a gap, and only a snapshot marker may jump",
        gappy.display()
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
    assert!(run.stdout.contains(line(6, 1).trim_end()), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("txlog verify: 1 violations in 1 files\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_different_line_at_one_index_shows_both_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = write(dir.path(), "node-1.log", &lines(1..=10));
    let other = lines(1..=6) + &line(7, 2) + &lines(8..=9);
    let two = write(dir.path(), "node-2.log", &other);
    let run = verify(&[&one, &two]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = format!(
        "{two}:7: index 7 differs from {one}:7\n  {one}:7: {a}\n  {two}:7: {b}\n",
        one = one.display(),
        two = two.display(),
        a = line(7, 1).trim_end(),
        b = line(7, 2).trim_end(),
    );
    assert!(run.stdout.starts_with(&expected), "{}", run.stdout);
}

#[test]
fn a_marker_may_jump_but_not_go_back_and_only_a_marker_may_jump() {
    let dir = tempfile::tempdir().expect("temp dir");
    let back = write(
        dir.path(),
        "node-1.log",
        &(lines(1..=5) + &marker(3, 1) + &lines(6..=7)),
    );
    let run = verify(&[&back]);
    assert_eq!(run.code, 1, "{run:?}");
    let expected = format!(
        "{}:6: index 3 is a snapshot marker that does not move past 5",
        back.display()
    );
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
}

#[test]
fn rotated_files_are_read_as_one_node_oldest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "node-1.log.000000000001", &lines(1..=4));
    write(dir.path(), "node-1.log.000000000005", &lines(5..=8));
    write(dir.path(), "node-1.log", &lines(9..=10));
    write(dir.path(), "node-2.log", &lines(1..=10));
    let run = verify(&[dir.path()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    // A stale history in the same directory is left out unless named.
    write(dir.path(), "node-1.log.stale-1700000000", &lines(1..=2));
    assert_eq!(verify(&[dir.path()]).code, 0);
}

#[test]
fn an_unreadable_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let one = write(dir.path(), "node-1.log", &lines(1..=3));
    let missing = dir.path().join("node-9.log");
    let run = verify(&[&one, &missing]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("node-9.log"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}
