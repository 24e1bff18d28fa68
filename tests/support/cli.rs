//! Running the `raftkv` command line in tests: one-shot commands with their exit code and output,
//! and a `raftkv cluster` supervisor process that is always stopped, even when the test panics.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

/// What a finished `raftkv` command printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        &self.stdout
    }

    /// Stdout's lines, trimmed.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().map(str::trim).collect()
    }
}

/// The environment variables that stand in for `raftkv`'s global flags: cleared for every run
/// unless a test sets one, so a developer's shell cannot change what a test sees.
const FLAG_VARIABLES: [&str; 8] = [
    "RAFTKV_CONFIG",
    "RAFTKV_ENDPOINTS",
    "RAFTKV_WRITE_OUT",
    "RAFTKV_COMMAND_TIMEOUT",
    "RAFTKV_CACERT",
    "RAFTKV_CERT",
    "RAFTKV_KEY",
    "RAFTKV_USER",
];

/// Runs `raftkv args...` to completion (stdin closed, no colour).
pub fn raftkv(args: &[&str]) -> Run {
    raftkv_env(args, &[])
}

/// Like [`raftkv`], with the environment variables `vars` set.
pub fn raftkv_env(args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_raftkv"));
    for name in FLAG_VARIABLES {
        command.env_remove(name);
    }
    let out = command
        .args(args)
        .envs(vars.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run raftkv");
    Run {
        // A signal death has no code: report it as -1, which no assertion expects.
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`raftkv`], with `input` on its standard input.
pub fn raftkv_stdin(args: &[&str], input: &[u8]) -> Run {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_raftkv"));
    for name in FLAG_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run raftkv");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for raftkv");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `raftkv cluster --config FILE` process with its output in a file.
pub struct Supervisor {
    child: Option<Child>,
    pub output: PathBuf,
}

impl Supervisor {
    /// Starts a supervisor for `config`, writing its output next to the config.
    pub fn start(config: &Path) -> Supervisor {
        Self::start_with(config, &[])
    }

    /// As [`Supervisor::start`], with `args` after `--config FILE` (e.g. `--ui-controls`).
    pub fn start_with(config: &Path, args: &[&str]) -> Supervisor {
        let output = config.with_file_name("supervisor.out");
        let out = File::create(&output).expect("supervisor output file");
        let err = out.try_clone().expect("clone output file");
        let child = Command::new(env!("CARGO_BIN_EXE_raftkv"))
            .arg("cluster")
            .arg("--config")
            .arg(config)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn raftkv cluster");
        Supervisor {
            child: Some(child),
            output,
        }
    }

    /// Everything the supervisor printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// The supervisor's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("supervisor runs").id()
    }

    /// Sends `signal` (e.g. "INT") and waits up to `timeout` for the supervisor to exit; its code.
    pub fn signal_and_wait(&mut self, signal: &str, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let status = wait_for("the supervisor to exit", timeout, || {
            child.try_wait().ok().flatten()
        });
        status.code()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM first: the supervisor stops its nodes; SIGKILL if it does not exit in time (its
        // nodes then get their parent-death signal).
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        if std::thread::panicking() {
            let out = self.output();
            let tail: Vec<&str> = out.lines().rev().take(30).collect();
            eprintln!("--- supervisor output (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
