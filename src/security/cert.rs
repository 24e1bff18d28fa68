//! Who a verified client certificate names. With `client_cert_auth = true` and auth on, etcd takes
//! the Common Name (CN) of the client's certificate as the user of a request that carries no
//! token; every door here does the same, reading the name with [`common_name`].

use rustls::pki_types::CertificateDer;

/// The Common Name of the end-entity certificate (the first of `chain`, as TLS sends it), if the
/// subject has exactly one and it is non-empty text. A subject with several CNs names no one:
/// which of them a reader takes differs between libraries, so none is trusted.
pub fn common_name(chain: &[CertificateDer<'_>]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(chain.first()?.as_ref()).ok()?;
    let mut names = cert.subject().iter_common_name();
    let name = names.next()?.as_str().ok()?;
    if names.next().is_some() || name.is_empty() {
        return None;
    }
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[&str]) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for name in names {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, *name);
        }
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "raftkv");
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_certificate_names_the_user_in_its_common_name() {
        assert_eq!(
            common_name(&[certificate(&["alice"])]),
            Some("alice".into())
        );
    }

    #[test]
    fn no_single_common_name_names_no_one() {
        assert_eq!(common_name(&[certificate(&[])]), None);
        assert_eq!(common_name(&[certificate(&[""])]), None);
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[CertificateDer::from(vec![0x30, 0x03])]), None);
    }
}
