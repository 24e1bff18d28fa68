//! Which HTTP endpoints a client command talks to: `--endpoints`, else every node of the config.

use std::path::Path;

use super::error::CliError;
use crate::config::{Address, Config};

/// Loads `--config FILE`, or the embedded five-node default.
pub fn load_config(path: Option<&Path>) -> Result<Config, CliError> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::default_cluster()),
    }
}

/// The endpoints to use, as `host:port`: the `--endpoints` given (a leading `http://` and a trailing
/// `/` are accepted), else every http address of the config, in file order.
pub fn resolve(given: &[String], config: Option<&Path>) -> Result<Vec<String>, CliError> {
    let given: Vec<&str> = given
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if given.is_empty() {
        let config = load_config(config)?;
        return Ok(config.peers().iter().map(|p| p.http.to_string()).collect());
    }
    given.into_iter().map(normalize).collect()
}

/// `http://127.0.0.1:12380/` → `127.0.0.1:12380`, checking the `host:port` shape.
pub fn normalize(endpoint: &str) -> Result<String, CliError> {
    let bare = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    if bare.contains("://") {
        return Err(CliError::Usage(format!(
            "endpoint {endpoint:?}: only http:// and https:// are supported (https with --cacert)"
        )));
    }
    let address =
        Address::parse(bare).map_err(|e| CliError::Usage(format!("endpoint {endpoint:?}: {e}")))?;
    Ok(address.to_string())
}

/// The `host:port` of an absolute `http(s)://host:port/path` URL (a redirect's `Location`).
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_a_scheme_and_a_trailing_slash() {
        let given = vec![
            "http://127.0.0.1:12380/".to_string(),
            " localhost:22380 ".to_string(),
        ];
        assert_eq!(
            resolve(&given, None).unwrap(),
            vec!["127.0.0.1:12380", "localhost:22380"]
        );
        // https:// is taken (the scheme comes from --cacert); other schemes are not.
        assert_eq!(normalize("https://x:1/").unwrap(), "x:1");
        assert!(normalize("grpc://x:1").is_err());
        assert!(normalize("nohostport").is_err());
    }

    #[test]
    fn without_endpoints_every_node_of_the_default_config_is_used() {
        let all = resolve(&[], None).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], "127.0.0.1:12380");
    }

    #[test]
    fn the_host_of_a_location_is_its_authority() {
        assert_eq!(
            host_of("http://127.0.0.1:22380/v1/kv/a"),
            Some("127.0.0.1:22380")
        );
        assert_eq!(host_of("http://h:1"), Some("h:1"));
        assert_eq!(host_of("/relative"), None);
    }
}
