//! Sprig's certificate and key generators, as charts use them to make a
//! self-signed TLS setup when no Secret is provided: `genCA`,
//! `genSelfSignedCert`, `genSignedCert` (and the `WithKey` variants) and
//! `genPrivateKey`. Like Sprig: RSA 2048 keys, `.Cert` and `.Key` in PEM.
//!
//! Their output is new on every render. plumb renders a commit once and
//! caches it, so the cluster sees one certificate per commit (and per agent
//! restart), not one per poll.

use std::rc::Rc;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, SanType,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;

use super::{arg_error, arg_int, arg_string, arity, strval};
use crate::Functions;
use crate::value::{Map, Object, Value};

/// A generated certificate and its key (Sprig's `certificate`).
struct Certificate {
    cert: String,
    key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }

    fn kind_name(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Result<Value, String>> {
        match name {
            "Cert" => Some(Ok(Value::str(self.cert.as_str()))),
            "Key" => Some(Ok(Value::str(self.key.as_str()))),
            _ => None,
        }
    }

    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    fn as_map(&self) -> Option<Map> {
        let mut map = Map::new();
        map.insert("Cert".into(), Value::str(self.cert.as_str()));
        map.insert("Key".into(), Value::str(self.key.as_str()));
        Some(map)
    }
}

fn rsa_key() -> Result<(KeyPair, String), String> {
    let key =
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| format!("error generating RSA key: {e}"))?;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).map_err(|e| e.to_string())?.to_string();
    let pair =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &PKCS_RSA_SHA256).map_err(|e| e.to_string())?;
    Ok((pair, pem))
}

/// A key given as PEM (PKCS#1 RSA, or PKCS#8).
fn key_from_pem(pem: &str) -> Result<(KeyPair, String), String> {
    if pem.contains("BEGIN RSA PRIVATE KEY") {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("error decoding key: {e}"))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| e.to_string())?;
        let pair = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &PKCS_RSA_SHA256)
            .map_err(|e| e.to_string())?;
        return Ok((pair, pem.to_string()));
    }
    let pair = KeyPair::from_pem(pem).map_err(|e| format!("error decoding key: {e}"))?;
    Ok((pair, pem.to_string()))
}

fn params(cn: &str, ips: &Value, dns: &Value, days: i64) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    let now = time_now();
    params.not_before = now;
    params.not_after = now + time::Duration::days(days);
    for (list, is_ip) in [(ips, true), (dns, false)] {
        let items: Vec<Value> = match list {
            Value::List(items, _) => items.to_vec(),
            Value::Nil => Vec::new(),
            other => return Err(format!("wrong type for value; expected []interface {{}}; got {}", other.type_name())),
        };
        for item in items {
            let text = strval(&item);
            if is_ip {
                let ip = text.parse().map_err(|_| format!("error parsing ip: {text}"))?;
                params.subject_alt_names.push(SanType::IpAddress(ip));
            } else {
                params.subject_alt_names.push(SanType::DnsName(text.try_into().map_err(|e| format!("{e}"))?));
            }
        }
    }
    Ok(params)
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn certificate(cert: rcgen::Certificate, key_pem: String) -> Value {
    Value::Object(Rc::new(Certificate { cert: cert.pem(), key: key_pem }))
}

fn gen_ca(cn: &str, days: i64, key: Option<&str>) -> Result<Value, String> {
    let (pair, pem) = match key {
        Some(pem) => key_from_pem(pem)?,
        None => rsa_key()?,
    };
    let mut params = params(cn, &Value::Nil, &Value::Nil, days)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
    let cert = params.self_signed(&pair).map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert, pem))
}

/// The key (given or new) and the parameters of a server/client certificate.
fn leaf(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
    key: Option<&str>,
) -> Result<(KeyPair, String, CertificateParams), String> {
    let (pair, pem) = match key {
        Some(pem) => key_from_pem(pem)?,
        None => rsa_key()?,
    };
    let mut params = params(cn, ips, dns, days)?;
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    Ok((pair, pem, params))
}

fn gen_self_signed(cn: &str, ips: &Value, dns: &Value, days: i64, key: Option<&str>) -> Result<Value, String> {
    let (pair, pem, params) = leaf(cn, ips, dns, days, key)?;
    let cert = params.self_signed(&pair).map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert, pem))
}

fn ca_parts(ca: &Value) -> Result<(String, String), String> {
    let field = |name: &str| -> Option<String> {
        match ca {
            Value::Object(o) => o.field(name).and_then(Result::ok).map(|v| strval(&v)),
            Value::Map(m) => m.borrow().get(name).map(strval),
            _ => None,
        }
    };
    match (field("Cert"), field("Key")) {
        (Some(cert), Some(key)) => Ok((cert, key)),
        _ => Err(arg_error(4, format!("wrong type for value; expected sprig.certificate; got {}", ca.type_name()))),
    }
}

fn gen_signed(cn: &str, ips: &Value, dns: &Value, days: i64, ca: &Value, key: Option<&str>) -> Result<Value, String> {
    let (ca_cert, ca_key) = ca_parts(ca)?;
    let (ca_pair, _) = key_from_pem(&ca_key)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_pair).map_err(|e| format!("error parsing ca: {e}"))?;
    let (pair, pem, params) = leaf(cn, ips, dns, days, key)?;
    let cert = params.signed_by(&pair, &issuer).map_err(|e| format!("error generating certificate: {e}"))?;
    Ok(certificate(cert, pem))
}

/// Registers the generators.
pub fn register(f: &mut Functions) {
    f.plain("genCA", |a| {
        arity("genCA", &a, 2)?;
        gen_ca(arg_string(&a, 0)?, arg_int(&a, 1)?, None)
    });
    f.plain("genCAWithKey", |a| {
        arity("genCAWithKey", &a, 3)?;
        gen_ca(arg_string(&a, 0)?, arg_int(&a, 1)?, Some(arg_string(&a, 2)?))
    });
    f.plain("genSelfSignedCert", |a| {
        arity("genSelfSignedCert", &a, 4)?;
        gen_self_signed(arg_string(&a, 0)?, &a[1], &a[2], arg_int(&a, 3)?, None)
    });
    f.plain("genSelfSignedCertWithKey", |a| {
        arity("genSelfSignedCertWithKey", &a, 5)?;
        gen_self_signed(arg_string(&a, 0)?, &a[1], &a[2], arg_int(&a, 3)?, Some(arg_string(&a, 4)?))
    });
    f.plain("genSignedCert", |a| {
        arity("genSignedCert", &a, 5)?;
        gen_signed(arg_string(&a, 0)?, &a[1], &a[2], arg_int(&a, 3)?, &a[4], None)
    });
    f.plain("genSignedCertWithKey", |a| {
        arity("genSignedCertWithKey", &a, 6)?;
        gen_signed(arg_string(&a, 0)?, &a[1], &a[2], arg_int(&a, 3)?, &a[4], Some(arg_string(&a, 5)?))
    });
    f.plain("genPrivateKey", |a| {
        arity("genPrivateKey", &a, 1)?;
        let pem = match arg_string(&a, 0)? {
            "rsa" => rsa_key()?.1,
            "ecdsa" => {
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?.serialize_pem()
            }
            "ed25519" => KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?.serialize_pem(),
            other => return Ok(Value::str(format!("Unknown type {other}"))),
        };
        Ok(Value::str(pem))
    });
    // Secrets derived from a master password or hashed for a user file are
    // not produced: they are never needed to make a chart render.
    for name in [
        "htpasswd",
        "derivePassword",
        "encryptAES",
        "decryptAES",
        "bcrypt",
        "buildCustomCert",
        "randBytes",
        "getHostByName",
    ] {
        f.insert(
            name,
            Arc::new(move |_, _| {
                Err(format!(
                    "{name} is not supported by plumb; create the value out of band and pass it in the chart's values"
                ))
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, Templates};

    #[test]
    fn ca_and_signed_certificates_chain_like_sprigs() {
        let clock = Clock::fixed("2024-01-02T03:04:05Z[UTC]".parse().expect("time"));
        let mut set = Templates::new(std::sync::Arc::new(Functions::helm(clock)));
        set.parse(
            "t",
            "{{ $ca := genCA \"test-ca\" 365 }}{{ $cert := genSignedCert \"svc\" (list \"127.0.0.1\") (list \"svc.ns.svc\") 30 $ca }}{{ $self := genSelfSignedCert \"self\" nil nil 1 }}{{ $ca.Cert | b64enc | len | lt 100 }} {{ hasPrefix \"-----BEGIN CERTIFICATE-----\" $cert.Cert }} {{ hasPrefix \"-----BEGIN RSA PRIVATE KEY-----\" $cert.Key }} {{ hasPrefix \"-----BEGIN CERTIFICATE-----\" $self.Cert }} {{ typeOf $ca }}",
        )
        .expect("parse");
        assert_eq!(set.execute("t", &Value::Nil).as_deref(), Ok("true true true true sprig.certificate"));
    }
}
