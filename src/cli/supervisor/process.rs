//! One node as a child process of the supervisor: spawned from the same binary, its output copied
//! line by line under its prefix, stopped with SIGTERM (then SIGKILL), and never left behind.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::painter::Painter;

/// How long a node may take to stop after SIGTERM (it hands leadership over first) before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running or exited node process.
pub struct NodeProcess {
    pid: u32,
    /// `None` while the process runs; its exit status afterwards.
    exit: watch::Receiver<Option<ExitStatus>>,
}

/// How to start a node: the binary, and the config argument to pass on (`None`: the default).
#[derive(Clone, Debug)]
pub struct Launch {
    pub exe: PathBuf,
    pub config: Option<PathBuf>,
    /// Passed on to every node as `--log-format`.
    pub log_format: crate::cli::logging::LogFormat,
    /// The control socket, passed to every node as `RAFTKV_UI_CONTROL_SOCKET` when the cluster
    /// view may control members (`raftkv cluster --ui-controls`).
    pub ui_controls: Option<PathBuf>,
}

impl NodeProcess {
    /// Starts node `id`; must be called inside the supervisor's tokio runtime.
    pub fn spawn(launch: &Launch, id: u64, painter: &Painter) -> std::io::Result<NodeProcess> {
        let mut cmd = Command::new(&launch.exe);
        cmd.arg("node").arg("--id").arg(id.to_string());
        match &launch.config {
            Some(config) => cmd.arg("--config").arg(config),
            None => cmd.arg("--default-cluster"),
        };
        if let Some(format) = clap::ValueEnum::to_possible_value(&launch.log_format) {
            cmd.arg("--log-format").arg(format.get_name());
        }
        match &launch.ui_controls {
            Some(socket) => cmd.env(crate::api::UI_CONTROL_SOCKET_ENV, socket),
            None => cmd.env_remove(crate::api::UI_CONTROL_SOCKET_ENV),
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Dropping the handle (a panic unwinding the supervisor) kills the node.
            .kill_on_drop(true);
        detach_from_terminal_and_die_with_parent(&mut cmd);
        let mut child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the child exited before it was watched"))?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(copy_lines(out, id, painter.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(copy_lines(err, id, painter.clone()));
        }
        let (tx, exit) = watch::channel(None);
        let painter = painter.clone();
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => {
                    painter.node_line(id, format!("exited ({status})").as_bytes());
                    let _ = tx.send(Some(status));
                }
                Err(e) => {
                    painter.node_line(id, format!("cannot wait for the process: {e}").as_bytes())
                }
            }
        });
        Ok(NodeProcess { pid, exit })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process still runs (as far as the supervisor has seen).
    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Sends SIGTERM if the process still runs (the node stops gracefully), and SIGCONT so that
    /// a paused one handles it.
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
        self.signal(libc::SIGCONT);
    }

    /// Freezes the process (SIGSTOP).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a frozen process run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Waits for the process to exit, sending SIGKILL if it outlives `grace`.
    pub async fn wait_or_kill(&mut self, grace: Duration) -> Option<ExitStatus> {
        let exited = tokio::time::timeout(grace, self.exit.wait_for(Option::is_some))
            .await
            .is_ok();
        if !exited {
            self.signal(libc::SIGKILL);
        }
        let status = *self.exit.wait_for(Option::is_some).await.ok()?;
        status
    }

    fn signal(&self, signal: libc::c_int) {
        if !self.is_running() {
            // Reaped already: the pid may belong to someone else now.
            return;
        }
        let pid = libc::pid_t::try_from(self.pid).expect("pids fit in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Puts the child in its own process group, so that Ctrl-C reaches only the supervisor (which then
/// stops the nodes in order), and asks Linux to SIGTERM it if the supervisor dies without cleaning
/// up (SIGKILL, abort): no orphans either way.
fn detach_from_terminal_and_die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe system calls,
    // without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            let _ = parent;
            Ok(())
        });
    }
}

/// Copies `stream` to stdout line by line under node `id`'s prefix (bytes kept as they are).
async fn copy_lines(stream: impl AsyncRead + Unpin, id: u64, painter: Painter) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                painter.node_line(id, &line);
            }
        }
    }
}

/// The supervisor's control socket for a cluster whose data lives in `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("raftkv-cluster.sock")
}
