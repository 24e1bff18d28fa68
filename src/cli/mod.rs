//! The `raftkv` command line: `node`, the local `cluster` supervisor, client commands, `bench`,
//! the offline `secret` and `txlog` tools, and its own shell completion and man pages.
//!
//! Client commands talk HTTP to any node (`--endpoints`, default every node of the config), follow
//! redirects to the leader and retry elsewhere; a failure is one line on stderr and an exit code
//! from [`error`].

pub mod args;
pub mod bench;
mod chaos;
pub mod client;
pub mod context;
pub mod endpoint;
pub mod endpoints;
pub mod error;
pub mod kv;
pub mod logging;
pub mod manual;
pub mod member;
pub mod node;
pub mod output;
pub mod secret;
mod snapshot;
pub mod stack;
pub mod student;
pub mod supervisor;
pub mod txlog;

use clap::Parser;

use args::{
    Cli, Cmd, EndpointAction, GlobalOpts, LeaderAction, MemberAction, StackAction, StudentAction,
};
use client::Client;
use context::Ctx;
use error::CliError;
use ureq::http::Method;

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("raftkv: {e}");
            e.exit_code()
        }
    }
}

/// Runs a parsed command line; `Ok` carries the exit code of commands that choose their own.
pub fn run(cli: Cli) -> Result<i32, CliError> {
    let g = cli.global;
    client::set_transport(&g)?;
    match cli.command {
        Cmd::Node {
            id,
            name,
            join,
            default_cluster,
        } => {
            let id = match (id, name) {
                (Some(id), _) => id,
                (None, Some(name)) => match node::id_named(g.config.as_deref(), &name) {
                    Ok(id) => id,
                    Err(e) => {
                        eprintln!("raftkv: {e}");
                        return Ok(node::EXIT_START_FAILURE);
                    }
                },
                (None, None) => unreachable!("clap requires --id or --name"),
            };
            if g.config.is_none() && !default_cluster {
                eprintln!(
                    "raftkv: node {id}: no cluster config given; pass --config FILE (or set \
                     RAFTKV_CONFIG), or --default-cluster to run a node of the built-in local \
                     five-node cluster"
                );
                return Ok(node::EXIT_START_FAILURE);
            }
            logging::init(g.log_format, Some(id));
            Ok(node::run_node(id, g.config.as_deref(), join))
        }
        Cmd::Cluster {
            action: None,
            ui_controls,
        } => supervisor::run(g.config.as_deref(), g.log_format, ui_controls),
        Cmd::Cluster {
            action: Some(action),
            ..
        } => supervisor::control(g.config.as_deref(), &action).map(|()| 0),
        Cmd::Secret { action } => secret::run(&action),
        Cmd::Txlog { action } => txlog::run(&action),
        Cmd::Snapshot { action } => snapshot::run(&action, &g),
        Cmd::Completion { shell } => manual::completion(shell).map(|()| 0),
        Cmd::Man { out } => manual::man(out.as_deref()).map(|()| 0),
        Cmd::Chaos(args) => chaos::run(&args, g.config.as_deref()),
        Cmd::Bench(args) => {
            let endpoints = endpoints::resolve(&g.endpoints, g.config.as_deref())?;
            bench::run(&endpoints, &args, g.write_out).map(|()| 0)
        }
        command => client_command(command, g).map(|()| 0),
    }
}

/// The commands that talk to a running cluster through a [`Client`].
fn client_command(command: Cmd, g: GlobalOpts) -> Result<(), CliError> {
    let endpoints = endpoints::resolve(&g.endpoints, g.config.as_deref())?;
    let mut ctx = Ctx {
        client: Client::new(endpoints, g.command_timeout),
        write_out: g.write_out,
    };
    let ctx = &mut ctx;
    match command {
        Cmd::Put { key, value, ttl } => {
            let value = match value {
                Some(value) => value.into_bytes(),
                None => kv::value_from_stdin()?,
            };
            kv::put(ctx, &key, &value, kv::Condition::None, ttl)
        }
        Cmd::Cas {
            key,
            version,
            value,
            absent,
            ttl,
        } => {
            let condition = match version {
                Some(version) if !absent => kv::Condition::Version(version),
                _ => kv::Condition::Version(crate::state::ABSENT_VERSION),
            };
            kv::put(ctx, &key, value.as_bytes(), condition, ttl)
        }
        Cmd::Get {
            key,
            print_value_only: _,
            meta: true,
            read,
        } => kv::get_meta(ctx, &key, read.consistency),
        Cmd::Get {
            key,
            print_value_only,
            meta: false,
            read,
        } => kv::get(ctx, &key, print_value_only, read.consistency),
        Cmd::Del { key } => kv::del(ctx, &key),
        Cmd::Student { action } => match action {
            StudentAction::Put {
                roll,
                name,
                address,
                phone,
            } => student::put(ctx, roll, &name, &address, &phone),
            StudentAction::Get { roll, read } => student::get(ctx, roll, read.consistency),
            StudentAction::Del { roll } => student::del(ctx, roll),
            StudentAction::List { read } => student::list(ctx, read.consistency),
        },
        Cmd::Stack { action } => match action {
            StackAction::Create { label } => stack::create(ctx, label),
            StackAction::Id { label, read } => stack::id(ctx, label, read.consistency),
            StackAction::Push { id, item } => stack::push(ctx, id, item),
            StackAction::Pop { id } => stack::pop(ctx, id),
            StackAction::Top { id, read } => stack::top(ctx, id, read.consistency),
            StackAction::Size { id, read } => stack::size(ctx, id, read.consistency),
        },
        Cmd::Member { action } => match action {
            MemberAction::List => member::list(ctx),
            MemberAction::Add {
                id,
                raft,
                http,
                text,
                grpc,
                learner,
            } => {
                let body = serde_json::json!({
                    "id": id, "raft": raft, "http": http, "text": text, "grpc": grpc,
                    "learner": learner,
                });
                member::change(ctx, Method::POST, "/v1/members".into(), body, id, "added")
            }
            MemberAction::Remove { id } => {
                let path = format!("/v1/members/{id}");
                member::change(
                    ctx,
                    Method::DELETE,
                    path,
                    serde_json::Value::Null,
                    id,
                    "removed",
                )
            }
            MemberAction::Promote { id } => {
                let path = format!("/v1/members/{id}/promote");
                member::change(
                    ctx,
                    Method::POST,
                    path,
                    serde_json::Value::Null,
                    id,
                    "promoted",
                )
            }
        },
        Cmd::Leader {
            action: LeaderAction::Transfer { id },
        } => member::transfer(ctx, id),
        Cmd::Status
        | Cmd::Endpoint {
            action: EndpointAction::Status,
        } => member::status(ctx),
        Cmd::Endpoint {
            action: EndpointAction::Health,
        } => endpoint::health(ctx),
        Cmd::Endpoint {
            action: EndpointAction::Ready,
        } => endpoint::ready(ctx),
        Cmd::Node { .. }
        | Cmd::Cluster { .. }
        | Cmd::Bench(_)
        | Cmd::Chaos(_)
        | Cmd::Secret { .. }
        | Cmd::Txlog { .. }
        | Cmd::Snapshot { .. }
        | Cmd::Completion { .. }
        | Cmd::Man { .. } => {
            unreachable!("dispatched in run")
        }
    }
}
