//! `raftkv secret new FILE`, `raftkv secret install FROM TO` and `raftkv secret show FILE`.

use super::args::SecretAction;
use super::error::CliError;
use crate::config::secret::{install_secrets, read_secrets, write_new_secret};

/// Runs a `secret` command; returns the exit code.
pub fn run(action: &SecretAction) -> Result<i32, CliError> {
    match action {
        SecretAction::New { file, if_missing } => {
            let written = write_new_secret(file)
                .map_err(|e| CliError::Local(format!("cannot write {}: {e}", file.display())))?;
            if !written && !if_missing {
                return Err(CliError::Usage(format!(
                    "{} exists; it is not replaced (add --if-missing to accept it)",
                    file.display()
                )));
            }
            if written {
                println!("wrote a new cluster secret to {}", file.display());
            }
            Ok(0)
        }
        SecretAction::Install { from, to } => {
            let count = install_secrets(from, to).map_err(CliError::Usage)?;
            println!(
                "installed {count} secret(s) from {} to {}",
                from.display(),
                to.display()
            );
            Ok(0)
        }
        SecretAction::Show { file } => {
            let secrets = read_secrets(file).map_err(CliError::Usage)?;
            for (i, secret) in secrets.iter().enumerate() {
                let role = if i == 0 {
                    "seals and opens"
                } else {
                    "opens (rollover)"
                };
                let id = crate::cluster::seal::hex(&secret.key_id());
                println!("key {id}  {role}");
            }
            Ok(0)
        }
    }
}
