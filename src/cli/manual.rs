//! `raftkv completion SHELL` and `raftkv man [--out DIR]`: both generated from the clap
//! definition in [`super::args`], so they list exactly the commands and flags the binary parses.

use std::path::Path;

use clap::CommandFactory;

use super::args::Cli;
use super::error::CliError;
use super::output::emit;

/// Prints the completion script for `shell` to standard output.
pub fn completion(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "raftkv", &mut script);
    emit(&script);
    Ok(())
}

/// Prints raftkv(1) to standard output, or writes it and one page per subcommand into `out`.
pub fn man(out: Option<&Path>) -> Result<(), CliError> {
    let command = Cli::command();
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| CliError::Local(format!("rendering the man page: {e}")))?;
            emit(&page);
        }
        Some(dir) => {
            let failed = |e: std::io::Error| CliError::Local(format!("{}: {e}", dir.display()));
            std::fs::create_dir_all(dir).map_err(failed)?;
            clap_mangen::generate_to(command, dir).map_err(failed)?;
        }
    }
    Ok(())
}
