//! Throwaway PKI for one control plane: a CA, the API server's serving
//! certificate for 127.0.0.1/localhost, and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::Error;

/// Paths of the PEM files written by [`write_pki`].
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate; clients trust it.
    pub ca_cert: PathBuf,
    /// API server serving certificate and key.
    pub serving_cert: PathBuf,
    /// Key of `serving_cert`.
    pub serving_key: PathBuf,
    /// Service-account token signing key (private, PKCS#8).
    pub sa_key: PathBuf,
    /// Public half of `sa_key`.
    pub sa_pub: PathBuf,
}

fn cert_error(what: &str, source: rcgen::Error) -> Error {
    Error::Pki { what: what.to_string(), reason: source.to_string() }
}

/// Generates fresh keys and certificates into `dir`.
pub fn write_pki(dir: &Path) -> Result<Pki, Error> {
    let ca_key = KeyPair::generate().map_err(|e| cert_error("generate CA key", e))?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "plumb-testenv-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| cert_error("self-sign CA", e))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let serving_key = KeyPair::generate().map_err(|e| cert_error("generate serving key", e))?;
    let mut serving_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default.svc".to_string(),
    ])
    .map_err(|e| cert_error("serving certificate names", e))?;
    serving_params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    let serving_cert =
        serving_params.signed_by(&serving_key, &issuer).map_err(|e| cert_error("sign serving certificate", e))?;

    let sa_key = KeyPair::generate().map_err(|e| cert_error("generate service-account key", e))?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        sa_key: dir.join("sa.key"),
        sa_pub: dir.join("sa.pub"),
    };
    write(&pki.ca_cert, &ca_cert.pem())?;
    write(&pki.serving_cert, &serving_cert.pem())?;
    write(&pki.serving_key, &serving_key.serialize_pem())?;
    write(&pki.sa_key, &sa_key.serialize_pem())?;
    write(&pki.sa_pub, &sa_key.public_key_pem())?;
    Ok(pki)
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|source| Error::Io { what: format!("write {}", path.display()), source })
}
