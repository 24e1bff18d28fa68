use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// raftkv: a small, fast, correct replicated data store built on Raft.
#[derive(Parser)]
#[command(name = "raftkv", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node of a cluster.
    Node {
        /// This node's id in the config.
        #[arg(long)]
        id: u64,
        /// The cluster's TOML config (default: the embedded 5-node local cluster).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Node { id, config } => raftkv::cli::node::run_node(id, config.as_deref()),
    };
    std::process::exit(code);
}
