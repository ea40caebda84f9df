//! A mutating admission webhook for tests: HTTPS on 127.0.0.1 (a random
//! port) with a certificate from its own CA. It adds one label and one
//! annotation to every object the API server sends it, as injectors
//! (service meshes, policy engines) do. Stopped on drop.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// A running webhook; dropping it stops it.
pub struct MutatingWebhook {
    port: u16,
    ca_pem: String,
    calls: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for MutatingWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pki_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Pki { what: what.into(), reason: e.to_string() }
}

/// `~` and `/` escaped for a JSON pointer segment.
fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The JSON patch that adds `label` and `annotation` to `object`.
pub fn patch_for(object: &Value, label: (&str, &str), annotation: (&str, &str)) -> Value {
    let mut ops = Vec::new();
    for (field, (key, value)) in [("labels", label), ("annotations", annotation)] {
        if object["metadata"][field].is_object() {
            ops.push(
                json!({"op": "add", "path": format!("/metadata/{field}/{}", pointer_segment(key)), "value": value}),
            );
        } else {
            ops.push(json!({"op": "add", "path": format!("/metadata/{field}"), "value": {key: value}}));
        }
    }
    Value::Array(ops)
}

impl MutatingWebhook {
    /// Starts serving `https://127.0.0.1:<port>/mutate`.
    pub async fn start(label: (&str, &str), annotation: (&str, &str)) -> Result<Self, Error> {
        let ca_key = KeyPair::generate().map_err(|e| pki_error("generate webhook CA key", e))?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "plumb-testenv-webhook-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| pki_error("self-sign webhook CA", e))?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().map_err(|e| pki_error("generate webhook key", e))?;
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(|e| pki_error("webhook names", e))?;
        let cert = params.signed_by(&key, &issuer).map_err(|e| pki_error("sign webhook certificate", e))?;

        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| pki_error("TLS versions", e))?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(|e| pki_error("TLS configuration", e))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Io { what: "bind the webhook port".into(), source })?;
        let port =
            listener.local_addr().map_err(|source| Error::Io { what: "read the webhook port".into(), source })?.port();

        let calls = Arc::new(AtomicU64::new(0));
        let (label, annotation) =
            ((label.0.to_string(), label.1.to_string()), (annotation.0.to_string(), annotation.1.to_string()));
        let counter = calls.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let (label, annotation, counter) = (label.clone(), annotation.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (label, annotation, counter) = (label.clone(), annotation.clone(), counter.clone());
                        async move {
                            counter.fetch_add(1, Ordering::Relaxed);
                            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let review: Value = serde_json::from_slice(&body).unwrap_or_default();
                            let patch = patch_for(
                                &review["request"]["object"],
                                (&label.0, &label.1),
                                (&annotation.0, &annotation.1),
                            );
                            let answer = json!({
                                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                "response": {"uid": review["request"]["uid"], "allowed": true,
                                             "patchType": "JSONPatch", "patch": STANDARD.encode(patch.to_string())}
                            });
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer.to_string()))))
                        }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Ok(Self { port, ca_pem: ca_cert.pem(), calls, task })
    }

    /// The URL to register.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/mutate", self.port)
    }

    /// The CA bundle to register (base64 of the PEM).
    pub fn ca_bundle(&self) -> String {
        STANDARD.encode(&self.ca_pem)
    }

    /// Admission requests served so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_add_to_existing_maps_or_create_them() {
        let with = json!({"metadata": {"labels": {"a": "b"}}});
        assert_eq!(
            patch_for(&with, ("inject.test/label", "x"), ("note", "y")),
            json!([
                {"op": "add", "path": "/metadata/labels/inject.test~1label", "value": "x"},
                {"op": "add", "path": "/metadata/annotations", "value": {"note": "y"}},
            ])
        );
    }
}
