//! `raftkv completion SHELL` and `raftkv man`, checked by the tools that consume them: each shell
//! parses its script without running it, and groff or man renders the pages. A shell or renderer
//! that is not installed is skipped with a note on stderr (bash is always there).

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `raftkv args...`; its stdout, after asserting that it succeeded with nothing on stderr.
fn raftkv(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run raftkv");
    assert!(out.status.success(), "raftkv {args:?}: {out:?}");
    assert!(out.stderr.is_empty(), "raftkv {args:?}: {out:?}");
    out.stdout
}

/// Whether `program` can be started at all (`program --version`).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `program args...` with `input` on stdin; its exit status and output.
fn feed(program: &str, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// The script for `shell` names the subcommands and the shell's syntax check accepts it.
fn check_completion(shell: &str, syntax_check: &[&str]) {
    if !installed(shell) {
        eprintln!("skipped: {shell} is not installed, its completion script is not checked");
        return;
    }
    let script = raftkv(&["completion", shell]);
    let text = String::from_utf8(script.clone()).expect("a UTF-8 script");
    for word in [
        "member",
        "put",
        "cas",
        "completion",
        "--endpoints",
        "--write-out",
    ] {
        assert!(
            text.contains(word),
            "{shell} script does not mention {word}"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("raftkv.{shell}"));
    std::fs::write(&file, &script).expect("write script");
    let out = Command::new(shell)
        .args(syntax_check)
        .arg(&file)
        .output()
        .expect("run the shell");
    assert!(out.status.success(), "{shell} rejects the script: {out:?}");
}

#[test]
fn the_bash_completion_script_parses_and_knows_the_subcommands() {
    check_completion("bash", &["-n"]);
    // Sourced, it registers a completion function for raftkv.
    let script = raftkv(&["completion", "bash"]);
    let out = feed(
        "bash",
        &["-c", "source /dev/stdin && complete -p raftkv"],
        &script,
    );
    let registered = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(registered.contains("raftkv"), "{registered}");
}

#[test]
fn the_zsh_and_fish_completion_scripts_parse_where_the_shells_exist() {
    check_completion("zsh", &["-n"]);
    check_completion("fish", &["--no-execute"]);
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_raftkv"))
        .args(["completion", "tcsh"])
        .output()
        .expect("run raftkv");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Renders a roff page as text with groff (or man), when either is installed.
fn render(page: &[u8]) -> Option<String> {
    let out = if installed("groff") {
        feed("groff", &["-man", "-Tutf8"], page)
    } else if installed("man") {
        feed("man", &["-l", "-"], page)
    } else {
        eprintln!("skipped: neither groff nor man is installed, the page is not rendered");
        return None;
    };
    assert!(out.status.success(), "rendering failed: {out:?}");
    // Terminal output draws bold and underline by overstriking (`X\bX`, `_\bX`): keep the letters.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        match c {
            '\u{8}' => {
                text.pop();
            }
            c => text.push(c),
        }
    }
    Some(text)
}

#[test]
fn man_prints_the_raftkv_page_as_roff() {
    let page = raftkv(&["man"]);
    let text = String::from_utf8(page.clone()).expect("UTF-8 roff");
    assert!(text.contains(".TH raftkv 1"), "{text}");
    if let Some(rendered) = render(&page) {
        for word in ["raftkv", "member", "completion", "--endpoints"] {
            // groff may hyphenate with U+2010 or escape '-' as U+2212; compare letters only.
            let plain = rendered.replace(['\u{2010}', '\u{2212}'], "-");
            assert!(plain.contains(word), "{word} missing from:\n{rendered}");
        }
    }
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("man1");
    raftkv(&["man", "--out", out.to_str().expect("UTF-8 path")]);
    for name in [
        "raftkv.1",
        "raftkv-put.1",
        "raftkv-cas.1",
        "raftkv-member.1",
        "raftkv-member-list.1",
        "raftkv-completion.1",
        "raftkv-bench-sweep.1",
    ] {
        let page = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = String::from_utf8_lossy(&page);
        let title = name.trim_end_matches(".1");
        assert!(text.contains(&format!(".TH {title} 1")), "{name}:\n{text}");
        if let Some(rendered) = render(&page) {
            assert!(!rendered.trim().is_empty(), "{name} renders empty");
        }
    }
    assert!(
        !out.join("raftkv-help.1").exists(),
        "no page for clap's help subcommand"
    );
}
