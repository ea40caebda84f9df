//! `known_hosts`: the SSH host keys plumb trusts. Host keys are always
//! checked; a host that is not listed, or that presents another key, is
//! refused (an unknown host is never trusted on first use).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use super::SourceError;

#[derive(Debug, Clone)]
struct Entry {
    patterns: Vec<String>,
    key: Vec<u8>,
    revoked: bool,
}

/// What a host key check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Listed with this key.
    Trusted,
    /// Listed, but with other keys: possibly an attack.
    Mismatch,
    /// Not listed.
    Unknown,
    /// Listed as `@revoked`.
    Revoked,
}

/// Trusted host keys.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

/// `SHA256:<base64>` of a raw key blob, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(key)))
}

impl KnownHosts {
    /// Reads a known_hosts file.
    pub fn load(path: &Path) -> Result<Self, SourceError> {
        let local =
            |reason: String| SourceError::Local { what: format!("read known_hosts {}", path.display()), reason };
        let text = std::fs::read_to_string(path).map_err(|e| local(e.to_string()))?;
        Self::parse(&text).map_err(|(line, reason)| local(format!("line {line}: {reason}")))
    }

    /// Parses `[@revoked] hosts keytype base64 [comment]` lines.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let Some(mut first) = fields.next().filter(|f| !f.starts_with('#')) else { continue };
            let revoked = first == "@revoked";
            if first == "@cert-authority" {
                return Err((n + 1, "@cert-authority entries are not supported; list the host keys".into()));
            }
            if revoked {
                first = fields.next().ok_or((n + 1, "no hosts".to_string()))?;
            }
            if first.starts_with("|1|") {
                return Err((
                    n + 1,
                    "hashed host names are not supported; write the file with ssh-keyscan without -H".into(),
                ));
            }
            let _key_type = fields.next().ok_or((n + 1, "no key type".to_string()))?;
            let blob = fields.next().ok_or((n + 1, "no key".to_string()))?;
            let key = STANDARD.decode(blob).map_err(|_| (n + 1, "the key is not base64".to_string()))?;
            entries.push(Entry { patterns: first.split(',').map(String::from).collect(), key, revoked });
        }
        Ok(Self { entries })
    }

    /// Checks the raw key `key` presented by `host` on `port`.
    pub fn check(&self, host: &str, port: u16, key: &[u8]) -> HostKeyCheck {
        let names =
            if port == 22 { vec![host.to_string(), format!("[{host}]:22")] } else { vec![format!("[{host}]:{port}")] };
        let listed: Vec<&Entry> =
            self.entries.iter().filter(|e| e.patterns.iter().any(|p| names.contains(p))).collect();
        if listed.iter().any(|e| e.revoked && e.key == key) {
            return HostKeyCheck::Revoked;
        }
        match (listed.iter().any(|e| !e.revoked && e.key == key), listed.iter().any(|e| !e.revoked)) {
            (true, _) => HostKeyCheck::Trusted,
            (false, true) => HostKeyCheck::Mismatch,
            (false, false) => HostKeyCheck::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_hosts_ports_and_keys() {
        let key = STANDARD.encode(b"key-one");
        let other = STANDARD.encode(b"key-two");
        let text = format!(
            "# comment\n[127.0.0.1]:2222 ssh-ed25519 {key}\ngithub.com,140.82.112.3 ssh-ed25519 {other} gh\n@revoked [10.0.0.1]:22 ssh-ed25519 {key}\n"
        );
        let hosts = KnownHosts::parse(&text).expect("valid");
        assert_eq!(hosts.check("127.0.0.1", 2222, b"key-one"), HostKeyCheck::Trusted);
        assert_eq!(hosts.check("127.0.0.1", 2222, b"key-two"), HostKeyCheck::Mismatch);
        assert_eq!(hosts.check("127.0.0.1", 22, b"key-one"), HostKeyCheck::Unknown);
        assert_eq!(hosts.check("github.com", 22, b"key-two"), HostKeyCheck::Trusted);
        assert_eq!(hosts.check("10.0.0.1", 22, b"key-one"), HostKeyCheck::Revoked);
        assert!(KnownHosts::parse("|1|abc|def ssh-ed25519 AAAA").is_err());
        assert!(fingerprint(b"key-one").starts_with("SHA256:"));
    }
}
