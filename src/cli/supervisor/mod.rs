//! `raftkv cluster`: every node of a config as a child process of this one, with prefixed output,
//! controlled through a Unix socket in the data directory (`raftkv cluster stop 2`), and stopped all
//! together on Ctrl-C or SIGTERM.
//!
//! Runs on a current-thread tokio runtime: the children are spawned from the main thread, which is
//! what Linux's parent-death signal watches, and one thread keeps the bookkeeping simple.

mod control;
mod hints;
mod painter;
mod process;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};

pub use control::{send as ask_supervisor, Request};
pub use process::socket_path;

use super::args::ClusterAction;
use super::endpoints::load_config;
use super::error::CliError;
use crate::config::Config;
use painter::Painter;
use process::{Launch, NodeProcess, STOP_GRACE};

/// `raftkv cluster stop|start|restart|ps`: asks the running supervisor and prints its answer.
pub fn control(config_path: Option<&Path>, action: &ClusterAction) -> Result<(), CliError> {
    let config = load_config(config_path)?;
    let socket = socket_path(&config.cluster().data_dir);
    let answer = control::send(&socket, Request::from_action(action))?;
    if !answer.is_empty() {
        super::output::emit(format!("{answer}\n").as_bytes());
    }
    Ok(())
}

/// `raftkv cluster`: runs until Ctrl-C or SIGTERM; returns the exit code.
pub fn run(
    config_path: Option<&Path>,
    log_format: crate::cli::logging::LogFormat,
    ui_controls: bool,
) -> Result<i32, CliError> {
    let config = load_config(config_path)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Local(format!("cannot find the raftkv binary: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Local(format!("cannot start the runtime: {e}")))?;
    let launch = Launch {
        exe,
        config: config_path.map(Path::to_path_buf),
        log_format,
        // Absolute, so a node started from another directory finds it.
        ui_controls: ui_controls
            .then(|| std::path::absolute(socket_path(&config.cluster().data_dir)))
            .transpose()
            .map_err(|e| CliError::Local(format!("cannot name the control socket: {e}")))?,
    };
    runtime.block_on(supervise(config, launch))
}

/// The nodes this supervisor runs, by id.
struct Supervisor {
    launch: Launch,
    painter: Painter,
    nodes: BTreeMap<u64, NodeProcess>,
    ids: Vec<u64>,
}

async fn supervise(config: Config, launch: Launch) -> Result<i32, CliError> {
    let data_dir = config.cluster().data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        CliError::Local(format!(
            "cannot create data dir {}: {e}",
            data_dir.display()
        ))
    })?;
    // A local cluster needs no setup: its nodes share one machine, so one secret file made here
    // serves them all (a multi-host cluster copies one file to every host instead).
    let secret = &config.cluster().secret_file;
    match crate::config::secret::write_new_secret(secret) {
        Ok(true) => println!("wrote a new cluster secret to {}", secret.display()),
        Ok(false) => {}
        Err(e) => {
            return Err(CliError::Local(format!(
                "cannot write the cluster secret {}: {e}",
                secret.display()
            )))
        }
    }
    let socket = socket_path(&data_dir);
    let listener = bind_control(&socket).await?;
    let _remove_socket = RemoveOnDrop(socket.clone());
    let longest = config
        .ids()
        .iter()
        .map(|&id| Painter::node_name(id).len())
        .max()
        .unwrap_or(0);
    let mut sup = Supervisor {
        launch: launch.clone(),
        painter: Painter::new(longest),
        nodes: BTreeMap::new(),
        ids: config.ids(),
    };
    let signals = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    let (mut int, mut term) = match signals {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            return Err(CliError::Local(format!("cannot handle signals: {e}")))
        }
    };
    hints::print_addresses(&sup.painter, &config);
    for id in config.ids() {
        if let Err(e) = sup.start(id) {
            sup.stop_all().await;
            return Err(CliError::Local(e));
        }
    }
    sup.painter.say(&format!(
        "control socket {} (raftkv cluster stop|start|restart|kill|pause|resume N)",
        socket.display()
    ));
    hints::spawn_leader_watch(sup.painter.clone(), config, launch.config.as_deref());
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => sup.serve(stream).await,
                Err(e) => sup.painter.say(&format!("control socket: {e}")),
            },
        }
    }
    sup.painter.say("stopping every node");
    sup.stop_all().await;
    sup.painter.say("all nodes stopped");
    Ok(0)
}

impl Supervisor {
    /// Starts node `id` unless it runs.
    fn start(&mut self, id: u64) -> Result<String, String> {
        if !self.ids.contains(&id) {
            return Err(format!("no node {id} in the config (ids {:?})", self.ids));
        }
        if self.nodes.get(&id).is_some_and(NodeProcess::is_running) {
            return Err(format!("node {id} already runs"));
        }
        let process = NodeProcess::spawn(&self.launch, id, &self.painter)
            .map_err(|e| format!("cannot start node {id}: {e}"))?;
        let pid = process.pid();
        self.painter
            .node_line(id, format!("started (pid {pid})").as_bytes());
        self.nodes.insert(id, process);
        Ok(format!("node {id} started (pid {pid})"))
    }

    /// Stops node `id` gracefully (SIGKILL after the grace period).
    async fn stop(&mut self, id: u64) -> Result<String, String> {
        let process = self
            .nodes
            .get_mut(&id)
            .filter(|p| p.is_running())
            .ok_or_else(|| format!("node {id} is not running"))?;
        process.terminate();
        let status = process.wait_or_kill(STOP_GRACE).await;
        Ok(match status {
            Some(s) => format!("node {id} stopped ({s})"),
            None => format!("node {id} stopped"),
        })
    }

    /// Stops every running node at once and waits for all of them.
    async fn stop_all(&mut self) {
        for process in self.nodes.values() {
            process.terminate();
        }
        let waits = self.nodes.values_mut().map(|p| p.wait_or_kill(STOP_GRACE));
        futures::future::join_all(waits).await;
    }

    /// Answers one control connection.
    async fn serve(&mut self, mut stream: UnixStream) {
        let mut buf = [0u8; control::MAX_REQUEST_BYTES];
        let mut len = 0;
        // The client sends one short line and shuts down its side; a silent one is not waited for
        // long, since the supervisor serves one connection at a time.
        let read = async {
            while len < buf.len() {
                match stream.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => len += n,
                }
            }
        };
        let _ = tokio::time::timeout(control::REQUEST_TIMEOUT, read).await;
        let line = String::from_utf8_lossy(&buf[..len]).to_string();
        let result = match Request::parse(line.trim()) {
            Ok(request) => {
                self.painter.say(&format!("control: {}", request.to_line()));
                self.handle(request).await
            }
            Err(e) => Err(e),
        };
        let answer = match result {
            Ok(text) => format!("ok {text}\n"),
            Err(text) => format!("error {text}\n"),
        };
        let _ = stream.write_all(answer.as_bytes()).await;
    }

    async fn handle(&mut self, request: Request) -> Result<String, String> {
        match request {
            Request::Stop(id) => self.stop(id).await,
            Request::Start(id) => self.start(id),
            Request::Restart(id) => {
                let stopped = self.stop(id).await;
                let started = self.start(id)?;
                Ok(match stopped {
                    Ok(s) => format!("{s}; {started}"),
                    Err(_) => started,
                })
            }
            Request::Kill(id) => {
                let process = self
                    .nodes
                    .get_mut(&id)
                    .filter(|p| p.is_running())
                    .ok_or_else(|| format!("node {id} is not running"))?;
                let status = process.wait_or_kill(std::time::Duration::ZERO).await;
                Ok(match status {
                    Some(s) => format!("node {id} killed ({s})"),
                    None => format!("node {id} killed"),
                })
            }
            Request::Pause(id) => self.running(id).map(|p| {
                p.pause();
                format!("node {id} paused")
            }),
            Request::Resume(id) => self.running(id).map(|p| {
                p.resume();
                format!("node {id} resumed")
            }),
            Request::Ps => Ok(self.ps()),
        }
    }

    /// Node `id`'s process, if it runs.
    fn running(&self, id: u64) -> Result<&NodeProcess, String> {
        self.nodes
            .get(&id)
            .filter(|p| p.is_running())
            .ok_or_else(|| format!("node {id} is not running"))
    }

    /// One line per configured node: `node1 running pid 1234` or `node2 stopped`.
    fn ps(&self) -> String {
        let lines: Vec<String> = self
            .ids
            .iter()
            .map(|&id| match self.nodes.get(&id) {
                Some(p) if p.is_running() => {
                    format!("{} running pid {}", Painter::node_name(id), p.pid())
                }
                _ => format!("{} stopped", Painter::node_name(id)),
            })
            .collect();
        format!("\n{}", lines.join("\n"))
    }
}

/// Binds the control socket, refusing to run twice for one data dir and clearing a stale socket.
async fn bind_control(socket: &Path) -> Result<UnixListener, CliError> {
    if socket.exists() {
        if UnixStream::connect(socket).await.is_ok() {
            return Err(CliError::Usage(format!(
                "a `raftkv cluster` supervisor already runs for this data dir (socket {})",
                socket.display()
            )));
        }
        // Left by a supervisor that was killed: nobody listens.
        let _ = std::fs::remove_file(socket);
    }
    UnixListener::bind(socket).map_err(|e| {
        CliError::Local(format!(
            "cannot listen on control socket {}: {e}",
            socket.display()
        ))
    })
}

/// Removes the control socket when the supervisor ends, by return or by panic.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
