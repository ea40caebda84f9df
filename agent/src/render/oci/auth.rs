//! Registry credentials and trust, from files: a Docker `config.json`
//! (`auths.<host>`: `auth` as base64 `user:password`, or `username` and
//! `password`, or `registrytoken` for a bearer token) and an optional CA
//! file added to the system's roots. Credentials never reach messages.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

/// How to authenticate to one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Basic auth (also answered to a bearer challenge's token service).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A bearer token sent as is.
    Token(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Basic { .. } => "Basic(<redacted>)",
            Credential::Token(_) => "Token(<redacted>)",
        })
    }
}

/// Credentials per registry host (`host[:port]`) and extra CA certificates.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    credentials: BTreeMap<String, Credential>,
    /// PEM certificates trusted besides the system's roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// Why the registry settings cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file cannot be read or parsed.
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What is wrong (never a credential).
        reason: String,
    },
}

impl Registries {
    /// Reads a Docker `config.json` (`None`: anonymous everywhere) and a CA file.
    pub fn load(config: Option<&Path>, ca_file: Option<&Path>) -> Result<Registries, AuthError> {
        let error = |file: &Path, reason: String| AuthError::File { file: file.display().to_string(), reason };
        let mut registries = Registries::default();
        if let Some(path) = config {
            let text = std::fs::read_to_string(path).map_err(|e| error(path, e.to_string()))?;
            registries = Registries::parse(&text).map_err(|reason| error(path, reason))?;
        }
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| error(path, e.to_string()))?;
            registries.ca_pem = Some(pem);
        }
        Ok(registries)
    }

    /// Parses a Docker `config.json`.
    pub fn parse(text: &str) -> Result<Registries, String> {
        let config: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a Docker config.json: {e}"))?;
        let mut credentials = BTreeMap::new();
        for (host, entry) in config["auths"].as_object().into_iter().flatten() {
            let host = host.trim_start_matches("https://").trim_end_matches('/').to_string();
            let field = |name: &str| entry[name].as_str().filter(|s| !s.is_empty()).map(str::to_string);
            let credential = if let Some(token) = field("registrytoken") {
                Credential::Token(token)
            } else if let (Some(username), Some(password)) = (field("username"), field("password")) {
                Credential::Basic { username, password }
            } else if let Some(auth) = field("auth") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .ok_or_else(|| format!("auths.{host}.auth is not base64 of user:password"))?;
                let (username, password) =
                    decoded.split_once(':').ok_or_else(|| format!("auths.{host}.auth is not user:password"))?;
                Credential::Basic { username: username.into(), password: password.into() }
            } else {
                continue;
            };
            credentials.insert(host, credential);
        }
        Ok(Registries { credentials, ca_pem: None })
    }

    /// The credential for a registry host, if any.
    pub fn credential(&self, host: &str) -> Option<&Credential> {
        self.credentials.get(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_forms() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ann:s3cret");
        let text = format!(
            r#"{{"auths": {{"a.example:5000": {{"auth": "{auth}"}}, "https://b.example": {{"username": "bob", "password": "pw"}},
                "c.example": {{"registrytoken": "tok"}}, "d.example": {{}}}}}}"#
        );
        let registries = Registries::parse(&text).expect("valid");
        assert_eq!(
            registries.credential("a.example:5000"),
            Some(&Credential::Basic { username: "ann".into(), password: "s3cret".into() })
        );
        assert!(matches!(registries.credential("b.example"), Some(Credential::Basic { .. })));
        assert_eq!(registries.credential("c.example"), Some(&Credential::Token("tok".into())));
        assert_eq!(registries.credential("d.example"), None);
        assert!(!format!("{registries:?}").contains("s3cret"), "credentials are redacted in Debug");
        assert!(Registries::parse(r#"{"auths": {"x": {"auth": "%%%"}}}"#).is_err());
    }
}
