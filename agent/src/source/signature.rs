//! Commit signature verification. With a policy on, a commit that is
//! unsigned, signed with a key plumb does not trust, or whose signature
//! does not match its contents is refused, and the cluster stays at the
//! last verified commit.
//!
//! SSH signatures (`git -c gpg.format=ssh commit -S`) are checked against
//! an `allowed_signers` file in git's format, namespace `git`; OpenPGP
//! signatures (`git commit -S` with gpg) against armored public keys.

use std::path::Path;

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use ssh_key::{PublicKey, SshSig};

use super::SourceError;

/// How commits are verified.
#[derive(Debug, Clone, Default)]
pub enum VerifyPolicy {
    /// No verification.
    #[default]
    Off,
    /// SSH signatures by keys in an allowed_signers file.
    Ssh(AllowedSigners),
    /// OpenPGP signatures by keys in an armored keyring.
    OpenPgp(OpenPgpKeys),
}

/// Trusted OpenPGP public keys (primary keys and their subkeys).
#[derive(Debug, Clone, Default)]
pub struct OpenPgpKeys {
    keys: Vec<SignedPublicKey>,
}

impl OpenPgpKeys {
    /// Reads one or more armored public keys.
    pub fn load(path: &Path) -> Result<Self, SourceError> {
        let local =
            |reason: String| SourceError::Local { what: format!("read OpenPGP keys {}", path.display()), reason };
        let text = std::fs::read_to_string(path).map_err(|e| local(e.to_string()))?;
        let (keys, _) = SignedPublicKey::from_string_many(&text).map_err(|e| local(e.to_string()))?;
        let keys = keys.collect::<Result<Vec<_>, _>>().map_err(|e| local(e.to_string()))?;
        if keys.is_empty() {
            return Err(local("no public key in the file".into()));
        }
        Ok(Self { keys })
    }

    /// Verifies an armored detached signature of `message`: the fingerprint
    /// of the (sub)key that made it.
    pub fn verify(&self, armored: &str, message: &[u8]) -> Result<String, String> {
        let (signature, _) =
            DetachedSignature::from_string(armored).map_err(|e| format!("not an OpenPGP signature: {e}"))?;
        let issuers: Vec<String> =
            signature.signature.issuer_fingerprint().iter().map(|f| hex_upper(f.as_bytes())).collect();
        for key in &self.keys {
            if signature.verify(key, message).is_ok() {
                return Ok(hex_upper(key.fingerprint().as_bytes()));
            }
            for sub in &key.public_subkeys {
                if signature.verify(sub, message).is_ok() {
                    return Ok(hex_upper(sub.fingerprint().as_bytes()));
                }
            }
        }
        let known = |fp: &String| {
            self.keys.iter().any(|k| {
                hex_upper(k.fingerprint().as_bytes()) == *fp
                    || k.public_subkeys.iter().any(|s| hex_upper(s.fingerprint().as_bytes()) == *fp)
            })
        };
        match issuers.first() {
            Some(fp) if !known(fp) => Err(format!("signed with key {fp}, which is not a trusted OpenPGP key")),
            Some(fp) => Err(format!("the signature by key {fp} does not match the commit (tampered?)")),
            None => Err("the signature names no issuer and no trusted key verifies it".into()),
        }
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The outcome for an accepted commit, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Verification is off.
    NotChecked,
    /// Signed by a trusted key.
    Verified {
        /// `ssh` (or `openpgp`).
        format: String,
        /// Key fingerprint.
        key: String,
        /// Who the key belongs to (allowed_signers principals).
        signer: String,
    },
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::NotChecked => f.write_str("not-checked"),
            SignatureStatus::Verified { format, key, signer } => write!(f, "verified {format} {key} ({signer})"),
        }
    }
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone)]
struct AllowedSigner {
    principals: String,
    namespaces: Option<Vec<String>>,
    key: PublicKey,
}

/// Trusted SSH keys, as git's `gpg.ssh.allowedSignersFile`.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    signers: Vec<AllowedSigner>,
}

impl AllowedSigners {
    /// Reads an allowed_signers file.
    pub fn load(path: &Path) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError::Local {
            what: format!("read allowed signers {}", path.display()),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|(line, reason)| SourceError::Local {
            what: format!("read allowed signers {}", path.display()),
            reason: format!("line {line}: {reason}"),
        })
    }

    /// Parses `principals [options] keytype base64 [comment]` lines.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut signers = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (principals, rest) = line.split_once(char::is_whitespace).ok_or((n + 1, "no key".to_string()))?;
            let mut rest = rest.trim_start();
            let mut namespaces = None;
            // Options come before the key type; a key type starts with
            // "ssh-", "ecdsa-" or "sk-".
            if !["ssh-", "ecdsa-", "sk-"].iter().any(|p| rest.starts_with(p)) {
                let (options, after) = split_options(rest).ok_or((n + 1, "unterminated options".to_string()))?;
                for option in split_unquoted(options, ',') {
                    if let Some(value) = option.strip_prefix("namespaces=") {
                        namespaces = Some(value.trim_matches('"').split(',').map(String::from).collect());
                    } else if option == "cert-authority" {
                        return Err((n + 1, "cert-authority keys are not supported; list the signing keys".into()));
                    }
                }
                rest = after.trim_start();
            }
            let key = PublicKey::from_openssh(rest).map_err(|e| (n + 1, format!("not an SSH public key: {e}")))?;
            signers.push(AllowedSigner { principals: principals.to_string(), namespaces, key });
        }
        Ok(Self { signers })
    }

    /// Verifies an armored SSH signature of `message`: the signer's
    /// principals and key fingerprint.
    pub fn verify(&self, armored: &str, message: &[u8]) -> Result<(String, String), String> {
        let signature = SshSig::from_pem(armored).map_err(|e| format!("not an SSH signature: {e}"))?;
        if signature.namespace() != "git" {
            return Err(format!("signature namespace is {:?}, not \"git\"", signature.namespace()));
        }
        let fingerprint = signature.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string();
        let signer = self
            .signers
            .iter()
            .filter(|s| s.namespaces.as_ref().is_none_or(|n| n.iter().any(|ns| ns == "git")))
            .find(|s| s.key.key_data() == signature.public_key())
            .ok_or_else(|| format!("signed with key {fingerprint}, which is not in allowed_signers"))?;
        signer
            .key
            .verify("git", message, &signature)
            .map_err(|_| format!("the signature by key {fingerprint} does not match the commit (tampered?)"))?;
        Ok((signer.principals.clone(), fingerprint))
    }
}

/// Splits `text` at `separator`s outside double quotes.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let (mut parts, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Splits leading `opt,opt="a,b"` options from the rest of the line.
fn split_options(text: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Some((&text[..i], &text[i..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGNx7oAyfY3gNDSvT0SSXqBOxrv1VPRbD+UoRJEbYky test";

    #[test]
    fn parses_allowed_signers() {
        let text = format!(
            "# trusted\nalice@example.com {KEY}\nbob@example.com,carol@example.com namespaces=\"git,file\" {KEY}\n\n"
        );
        let signers = AllowedSigners::parse(&text).expect("valid");
        assert_eq!(signers.signers.len(), 2);
        assert_eq!(signers.signers[1].namespaces.as_deref(), Some(&["git".to_string(), "file".to_string()][..]));
        assert_eq!(AllowedSigners::parse("alice ssh-ed25519 notbase64").map(|_| ()).map_err(|e| e.0), Err(1));
        assert!(AllowedSigners::parse(&format!("ca cert-authority {KEY}")).is_err());
    }
}
