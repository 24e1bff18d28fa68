//! `raftkv chaos --duration 20s`: the command starts a cluster of its own, runs its clients and
//! its nemesis, checks the history and writes the report. The verdict must be "linearizable",
//! with faults injected and operations answered, and the report must hold its charts.

use crate::support::cli::raftkv;
use crate::support::machine;

#[test]
fn chaos_for_twenty_seconds_is_linearizable_and_writes_its_report() {
    // Five processes and a nemesis that pauses and kills them: alone, so its timing is its own.
    let _whole = machine::whole();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let run = raftkv(&[
        "chaos",
        "--duration",
        "20s",
        "--seed",
        "7",
        "--report",
        report.to_str().unwrap(),
    ]);
    eprintln!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, 0, "chaos failed: {run:?}");
    let out = &run.stdout;
    assert!(out.contains("verdict: linearizable\n"), "{out}");
    let number = |prefix: &str, word: &str| -> u64 {
        let line = out.lines().find(|l| l.starts_with(prefix)).expect(prefix);
        let before = line.split(word).next().unwrap();
        before
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count before {word:?} in {line:?}"))
    };
    let ok = number("operations:", " ok");
    assert!(ok > 200, "only {ok} operations answered:\n{out}");
    let faults = out
        .lines()
        .find(|l| l.starts_with("faults: "))
        .expect("a faults line");
    assert_ne!(faults, "faults: none", "{out}");
    // Progress is shown while it runs.
    assert!(
        run.stderr.matches("chaos: t=").count() >= 15,
        "{}",
        run.stderr
    );

    let html = std::fs::read_to_string(&report).expect("the report is written");
    assert!(html.contains("raftkv chaos: <span class=\"verdict\">linearizable</span>"));
    assert!(html.matches("<svg").count() >= 3, "the three charts");
    assert!(html.contains("leads term"), "leader changes in the report");
    if let Ok(keep) = std::env::var("RAFTKV_CHAOS_REPORT") {
        std::fs::copy(&report, keep).expect("copy the report");
    }
}
