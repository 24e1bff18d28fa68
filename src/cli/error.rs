//! What a CLI command can fail with, and the exit code of each kind of failure.

/// The cluster answered, with an error (not found, empty stack, bad request).
pub const EXIT_ANSWERED_ERROR: i32 = 1;
/// Bad usage or an unusable config (clap also exits 2 on usage errors).
pub const EXIT_USAGE: i32 = 2;
/// The cluster could not answer: no endpoint reachable, no leader, timed out.
pub const EXIT_UNAVAILABLE: i32 = 3;

/// A failed command; its `Display` is the one line printed after `raftkv: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The cluster answered with an error (`code` is the API's error code, e.g. `not_found`).
    #[error("{message}")]
    Answered { code: String, message: String },
    /// Bad arguments or config.
    #[error("{0}")]
    Usage(String),
    /// Every endpoint was tried and none could answer; `attempts` says what each one did.
    #[error("no endpoint answered ({attempts})")]
    NoEndpoint { attempts: String },
    /// The cluster did not answer in time; a write may or may not have taken effect.
    #[error("timed out after {seconds:.1}s{outcome} ({last})")]
    Timeout {
        seconds: f64,
        /// Empty for reads; says the outcome is unknown for writes.
        outcome: &'static str,
        last: String,
    },
    /// Some endpoints answered `/health` with a failure or not at all (`raftkv endpoint health`).
    #[error("unhealthy endpoints: {endpoints}")]
    Unhealthy { endpoints: String },
    /// Something local could not be reached (the `raftkv cluster` supervisor's control socket).
    #[error("{0}")]
    Unreachable(String),
    /// A local failure that is not the cluster's (a socket, a child process, a file).
    #[error("{0}")]
    Local(String),
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Answered { .. } | CliError::Local(_) => EXIT_ANSWERED_ERROR,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::NoEndpoint { .. }
            | CliError::Timeout { .. }
            | CliError::Unhealthy { .. }
            | CliError::Unreachable(_) => EXIT_UNAVAILABLE,
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::Usage(e.to_string())
    }
}
