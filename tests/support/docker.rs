//! raftkv nodes as Docker containers on a private network: the image `deploy/image/build.sh`
//! builds (from this test build's binary), one container per node reached by its host name
//! (`node1`, `node2`, `node3`, the image's own config), each node's doors published on free
//! ports of 127.0.0.1. A [`Project`] removes its containers, volumes, network and image on drop,
//! and prints the containers' last log lines first if the test is failing.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::config::free_ports;

/// Runs `docker args`; its standard output (trimmed) or why it failed.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `docker args`, which must succeed.
pub fn must(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

/// `Ok` when a Docker Engine answers, else why not.
pub fn engine() -> Result<String, String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
}

/// Whether the test may run: a Docker Engine answers. Without one, the test fails when
/// `RAFTKV_REQUIRE_DOCKER=1` (CI, where an engine runs) and is skipped with a message elsewhere.
pub fn engine_or_skip(test: &str) -> bool {
    match engine() {
        Ok(_) => true,
        Err(why) if std::env::var("RAFTKV_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("{test}: no Docker Engine ({why}), and RAFTKV_REQUIRE_DOCKER=1")
        }
        Err(why) => {
            eprintln!("SKIPPED {test}: no Docker Engine answers: {why}");
            false
        }
    }
}

/// The host ports one container's doors are published on.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub http: u16,
    pub grpc: u16,
    pub text: u16,
}

/// Three raftkv containers and what they use, all named after one unique prefix.
pub struct Project {
    pub prefix: String,
    pub image: String,
    pub network: String,
    /// The first three octets of the network's /24 (`10.x.y`).
    pub subnet: String,
    pub ports: BTreeMap<u64, Published>,
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Project {
    /// Builds the image from this test build's `raftkv` binary with the shipped script, makes a
    /// network with a subnet of its own (so containers can be given addresses) and the cluster
    /// secret. No container runs yet.
    pub fn new(nodes: &[u64]) -> Project {
        let prefix = format!("raftkv-t{}", std::process::id());
        let image = format!("{prefix}:test");
        let mut project = Project {
            network: format!("{prefix}-net"),
            prefix,
            image,
            subnet: String::new(),
            ports: BTreeMap::new(),
            containers: Vec::new(),
            volumes: Vec::new(),
        };
        let script = format!("{}/deploy/image/build.sh", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .args([&script, "--binary", env!("CARGO_BIN_EXE_raftkv")])
            .args(["--tag", &project.image])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "deploy/image/build.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        project.subnet = project.create_network();
        let ports = free_ports(3 * nodes.len());
        for (i, &id) in nodes.iter().enumerate() {
            let published = Published {
                http: ports[3 * i],
                grpc: ports[3 * i + 1],
                text: ports[3 * i + 2],
            };
            project.ports.insert(id, published);
        }
        let secret = project.volume("secret");
        must(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{secret}:/secret"),
            &project.image,
            "secret",
            "new",
            "--if-missing",
            "/secret/cluster.secret",
        ]);
        project
    }

    /// A network on a free 10.x.y.0/24 (Docker refuses one that overlaps another).
    fn create_network(&self) -> String {
        let pid = std::process::id();
        for attempt in 0..50u32 {
            let n = pid.wrapping_mul(31).wrapping_add(attempt.wrapping_mul(97)) % 40_000;
            let subnet = format!("10.{}.{}", 100 + n / 256 % 150, n % 256);
            let created = docker(&[
                "network",
                "create",
                "--subnet",
                &format!("{subnet}.0/24"),
                &self.network,
            ]);
            match created {
                Ok(_) => return subnet,
                Err(e) if e.contains("overlap") => continue,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no free 10.x.y.0/24 subnet for the test network");
    }

    /// A named volume of this project (created on first use by `docker run`).
    fn volume(&mut self, name: &str) -> String {
        let volume = format!("{}-{name}", self.prefix);
        if !self.volumes.contains(&volume) {
            self.volumes.push(volume.clone());
        }
        volume
    }

    /// The container of node `id`.
    pub fn container(&self, id: u64) -> String {
        format!("{}-node{id}", self.prefix)
    }

    /// Starts node `id` at `<subnet>.<host>`, named `node<id>` on the network, its data in a
    /// volume of its own and the secret volume read-only.
    pub fn run(&mut self, id: u64, host: u8) {
        let name = self.container(id);
        let data = self.volume(&format!("data{id}"));
        let secret = self.volume("secret");
        let p = self.ports[&id];
        let ip = format!("{}.{host}", self.subnet);
        let publish = |port: u16, inner: u16| format!("127.0.0.1:{port}:{inner}");
        must(&[
            "run",
            "--detach",
            "--name",
            &name,
            "--hostname",
            &format!("node{id}"),
            "--network",
            &self.network,
            "--network-alias",
            &format!("node{id}"),
            "--ip",
            &ip,
            "--volume",
            &format!("{data}:/data"),
            "--volume",
            &format!("{secret}:/secret:ro"),
            "--publish",
            &publish(p.http, 8080),
            "--publish",
            &publish(p.grpc, 2379),
            "--publish",
            &publish(p.text, 11211),
            "--stop-timeout",
            "15",
            &self.image,
            "node",
            "--id",
            &id.to_string(),
        ]);
        self.containers.push(name);
    }

    /// Node `id`'s address on the network now.
    pub fn ip(&self, id: u64) -> String {
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            self.network
        );
        must(&["inspect", "--format", &format, &self.container(id)])
    }

    /// Docker's health status of node `id` (`starting`, `healthy`, `unhealthy`).
    pub fn health(&self, id: u64) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            &self.container(id),
        ])
        .unwrap_or_default()
    }

    /// Cuts node `id` off the network: it reaches no peer and no peer reaches it.
    pub fn disconnect(&self, id: u64) {
        must(&["network", "disconnect", &self.network, &self.container(id)]);
    }

    /// Puts node `id` back on the network under its name, at `<subnet>.<host>`.
    pub fn connect(&self, id: u64, host: u8) {
        must(&[
            "network",
            "connect",
            "--alias",
            &format!("node{id}"),
            "--ip",
            &format!("{}.{host}", self.subnet),
            &self.network,
            &self.container(id),
        ]);
    }

    /// `docker <verb> <node id's container>` (`kill`, `stop`, `start`).
    pub fn lifecycle(&self, verb: &str, id: u64) {
        must(&[verb, &self.container(id)]);
    }

    /// Runs `raftkv args` inside node `id`'s container (the image's CLI, against the node's own
    /// HTTP port); the exit status and both outputs.
    pub fn exec(&self, id: u64, args: &[&str]) -> (bool, String) {
        let out = Command::new("docker")
            .args(["exec", &self.container(id), "/usr/local/bin/raftkv"])
            .args(["--endpoints", "127.0.0.1:8080"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Copies node `id`'s transaction log out of its container (running or not).
    pub fn txlog(&self, id: u64) -> Vec<String> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let to = dir.path().join("txlog");
        must(&[
            "cp",
            &format!("{}:/data/logs/node-{id}.log", self.container(id)),
            to.to_str().expect("a UTF-8 path"),
        ]);
        std::fs::read_to_string(&to)
            .expect("the copied log")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `http://127.0.0.1:<port>` of node `id`'s HTTP door.
    pub fn http(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.ports[&id].http)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in &self.containers {
                // A node logs to stderr; `docker logs` replays each stream on its own.
                let out = Command::new("docker")
                    .args(["logs", "--tail", "40", name])
                    .output();
                if let Ok(out) = out {
                    eprintln!(
                        "--- last lines of {name} ---\n{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        for name in &self.containers {
            let _ = docker(&["rm", "--force", "--volumes", name]);
        }
        let _ = docker(&["network", "rm", &self.network]);
        for volume in &self.volumes {
            let _ = docker(&["volume", "rm", "--force", volume]);
        }
        let _ = docker(&["image", "rm", "--force", &self.image]);
    }
}

/// How long a container may take to become healthy: the image checks every 5 s.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
