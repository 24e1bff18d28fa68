//! The bounds on one bench run's connections: a client count limit, and enough file descriptors
//! for one connection per client, checked before any client starts.

use crate::cli::error::CliError;

/// The most clients one run may have (each is a thread and a connection).
pub const CLIENTS_MAX: usize = 4096;
/// Descriptors kept free beside the clients' connections (stdio, discovery, CSV and SVG files).
const DESCRIPTORS_SPARE: u64 = 64;

/// Refuses a client count over [`CLIENTS_MAX`], and makes sure the process may open one
/// connection per client: raises the soft descriptor limit up to the hard one if it must.
pub fn check_clients(clients: usize) -> Result<(), CliError> {
    if clients > CLIENTS_MAX {
        return Err(CliError::Usage(format!(
            "{clients} clients: at most {CLIENTS_MAX} (one thread and one connection each)"
        )));
    }
    ensure_descriptors(clients as u64 + DESCRIPTORS_SPARE)
}

/// Makes the soft `RLIMIT_NOFILE` at least `needed`, or says why it cannot be.
#[cfg(unix)]
fn ensure_descriptors(needed: u64) -> Result<(), CliError> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into memory we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        // Unknown limit: let the connections find out.
        return Ok(());
    }
    // rlim_t is u64 on Linux but not on every unix.
    #[allow(clippy::unnecessary_cast)]
    let (soft, hard) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(CliError::Usage(format!(
            "this many clients need {needed} open files, but the hard limit is {hard} \
             (raise it with ulimit -Hn, or use fewer clients)"
        )));
    }
    limit.rlim_cur = needed as libc::rlim_t;
    // SAFETY: setrlimit reads one rlimit from memory we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(CliError::Usage(format!(
            "this many clients need {needed} open files; ulimit -n is {soft} and could not be \
             raised: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn ensure_descriptors(_needed: u64) -> Result<(), CliError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_count_over_the_limit_is_a_usage_error() {
        assert!(matches!(
            check_clients(CLIENTS_MAX + 1),
            Err(CliError::Usage(_))
        ));
        assert!(check_clients(1).is_ok());
    }
}
