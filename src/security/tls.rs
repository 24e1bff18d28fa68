//! Client TLS: the rustls configurations every door serves with, and the one a node uses to
//! forward a request to its leader, all built from the `[client_tls]` files of the config.
//!
//! Only the ring crypto provider is compiled in (no C toolchain needed); configurations name it
//! explicitly rather than relying on a process-wide default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The `[client_tls]` table: the node's certificate and key, the CA that signed client (and node)
/// certificates, and whether a client must present one (etcd's `--client-cert-auth`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM certificate chain this node presents (the same file for every node: it must name
    /// every node's host or IP address).
    pub cert_file: PathBuf,
    /// PEM private key of `cert_file`.
    pub key_file: PathBuf,
    /// PEM CA certificates trusted for client certificates and, when forwarding, for the leader.
    pub trusted_ca_file: PathBuf,
    /// Refuse clients without a certificate signed by `trusted_ca_file`.
    pub client_cert_auth: bool,
}

/// The ring provider. rustls 0.23.48 deprecates it for lacking post-quantum key exchange; aws-lc,
/// which has it, needs a C toolchain and cmake to build, and tonic's TLS here is ring too.
#[allow(deprecated)]
fn default_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: holds no certificate", path.display()));
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("{}: no usable private key: {e}", path.display()))
}

/// The trust anchors of a PEM file of CA certificates.
pub fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
    }
    Ok(roots)
}

impl ClientTls {
    /// The configuration the doors serve with; `alpn` lists the protocols offered (HTTP: `h2`
    /// and `http/1.1`; the text protocol: none).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(default_provider());
        let verifier = if self.client_cert_auth {
            let roots = Arc::new(read_roots(&self.trusted_ca_file)?);
            WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .map_err(|e| format!("{}: {e}", self.trusted_ca_file.display()))?
        } else {
            WebPkiClientVerifier::no_client_auth()
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(read_certs(&self.cert_file)?, read_key(&self.key_file)?)
            .map_err(|e| {
                format!(
                    "{} with {}: {e}",
                    self.cert_file.display(),
                    self.key_file.display()
                )
            })?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// The configuration a node connects to its leader with: it trusts `trusted_ca_file` and, if
    /// clients must present certificates, presents its own.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, String> {
        let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(read_roots(&self.trusted_ca_file)?);
        let mut config = if self.client_cert_auth {
            builder
                .with_client_auth_cert(read_certs(&self.cert_file)?, read_key(&self.key_file)?)
                .map_err(|e| format!("{}: {e}", self.cert_file.display()))?
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// Checks every file once, so a bad one fails the node's start with its name.
    pub fn check(&self) -> Result<(), String> {
        self.server_config(&[])?;
        self.client_config(&[])?;
        Ok(())
    }
}

/// A blocking client's TLS (the CLI's, and a node fetching transaction-log lines from another):
/// trust the CA in `ca_file`, present `cert_key` if given.
pub fn ureq_tls(
    ca_file: &Path,
    cert_key: Option<(&Path, &Path)>,
) -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let certs = |path: &Path| -> Result<Vec<Certificate<'static>>, String> {
        let pem = read(path)?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("{}: holds no PEM certificate", path.display()));
        }
        Ok(certs)
    };
    let mut builder = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&certs(ca_file)?));
    if let Some((cert, key)) = cert_key {
        let key = PrivateKey::from_pem(&read(key)?)
            .map_err(|e| format!("{}: no usable private key: {e}", key.display()))?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&certs(cert)?, key)));
    }
    Ok(builder.build())
}
