//! Commit signature verification. With a policy on, a commit that is
//! unsigned, signed with a key plumb does not trust, or whose signature
//! does not match its contents is refused, and the cluster stays at the
//! last verified commit.
//!
//! SSH signatures (`git -c gpg.format=ssh commit -S`) are checked against
//! an `allowed_signers` file in git's format, namespace `git`; OpenPGP
//! signatures (`git commit -S` with gpg) against armored public keys.

use std::path::Path;

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::SignatureType;
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
    /// of the (sub)key that made it. A key that is revoked, or that had
    /// expired when the signature was made, does not count.
    pub fn verify(&self, armored: &str, message: &[u8]) -> Result<String, String> {
        let (signature, _) =
            DetachedSignature::from_string(armored).map_err(|e| format!("not an OpenPGP signature: {e}"))?;
        let issuers: Vec<String> =
            signature.signature.issuer_fingerprint().iter().map(|f| hex_upper(f.as_bytes())).collect();
        let signed_at = signature.signature.created().map(|t| i64::from(t.as_secs()));
        for key in &self.keys {
            let primary = KeyValidity::of_primary(key);
            if signature.verify(key, message).is_ok() {
                primary.check(signed_at)?;
                return Ok(hex_upper(key.fingerprint().as_bytes()));
            }
            for sub in &key.public_subkeys {
                if signature.verify(sub, message).is_ok() {
                    primary.check(signed_at)?;
                    KeyValidity::of_subkey(sub).check(signed_at)?;
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

/// What a keyring says about when a (sub)key may sign: its revocation and
/// its expiry, from its self-signatures (the newest one that sets it).
struct KeyValidity {
    fingerprint: String,
    revoked: bool,
    expires: Option<i64>,
}

impl KeyValidity {
    fn of_primary(key: &SignedPublicKey) -> Self {
        let self_signatures =
            key.details.users.iter().flat_map(|u| &u.signatures).chain(&key.details.direct_signatures);
        Self {
            fingerprint: hex_upper(key.fingerprint().as_bytes()),
            revoked: !key.details.revocation_signatures.is_empty(),
            expires: expiry(i64::from(key.created_at().as_secs()), self_signatures),
        }
    }

    fn of_subkey(sub: &SignedPublicSubKey) -> Self {
        let bindings = sub.signatures.iter().filter(|s| s.typ() == Some(SignatureType::SubkeyBinding));
        Self {
            fingerprint: hex_upper(sub.fingerprint().as_bytes()),
            revoked: sub.signatures.iter().any(|s| s.typ() == Some(SignatureType::SubkeyRevocation)),
            expires: expiry(i64::from(sub.created_at().as_secs()), bindings),
        }
    }

    fn check(&self, signed_at: Option<i64>) -> Result<(), String> {
        if self.revoked {
            return Err(format!("signed with key {}, which is revoked", self.fingerprint));
        }
        match (self.expires, signed_at) {
            (Some(expires), Some(at)) if at >= expires => Err(format!(
                "signed with key {} at {}, after the key expired at {}",
                self.fingerprint,
                format_time(at),
                format_time(expires)
            )),
            (Some(_), None) => Err(format!("the signature by key {} has no creation time", self.fingerprint)),
            _ => Ok(()),
        }
    }
}

/// Expiry (seconds since the epoch) from the newest of `signatures` that
/// sets a key expiration time; zero means none.
fn expiry<'a>(created: i64, signatures: impl Iterator<Item = &'a pgp::packet::Signature>) -> Option<i64> {
    signatures
        .filter_map(|s| Some((s.created()?.as_secs(), s.key_expiration_time())))
        .max_by_key(|(at, _)| *at)
        .and_then(|(_, expiration)| expiration)
        .map(|d| i64::from(d.as_secs()))
        .filter(|secs| *secs > 0)
        .map(|secs| created.saturating_add(secs))
}

fn format_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map_or_else(|_| secs.to_string(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
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
    /// `valid-after`, seconds since the epoch.
    valid_after: Option<i64>,
    /// `valid-before`, seconds since the epoch.
    valid_before: Option<i64>,
    key: PublicKey,
}

impl AllowedSigner {
    /// Whether the key may sign at `at` (git checks the committer's time).
    fn valid_at(&self, at: i64) -> bool {
        self.valid_after.is_none_or(|after| at >= after) && self.valid_before.is_none_or(|before| at < before)
    }

    fn window(&self) -> String {
        match (self.valid_after, self.valid_before) {
            (Some(a), Some(b)) => format!("valid from {} until {}", format_time(a), format_time(b)),
            (Some(a), None) => format!("valid from {}", format_time(a)),
            (None, Some(b)) => format!("valid until {}", format_time(b)),
            (None, None) => "always valid".into(),
        }
    }
}

/// An allowed_signers time (`YYYYMMDD[HHMM[SS]][Z]`, as ssh-keygen reads
/// it; plumb reads times without `Z` as UTC too, its containers' zone).
fn parse_signer_time(text: &str) -> Result<i64, String> {
    let digits = text.trim_matches('"').trim_end_matches(['Z', 'z']);
    let field = |range: std::ops::Range<usize>| digits.get(range).map_or(Ok(0), |d| d.parse::<i8>());
    let bad = || format!("{text:?} is not a time like 20250131 or 202501311200[Z]");
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year = digits.get(0..4).and_then(|y| y.parse::<i16>().ok()).ok_or_else(bad)?;
    let (month, day) = (field(4..6).map_err(|_| bad())?, field(6..8).map_err(|_| bad())?);
    let (hour, minute, second) =
        (field(8..10).map_err(|_| bad())?, field(10..12).map_err(|_| bad())?, field(12..14).map_err(|_| bad())?);
    let civil = jiff::civil::DateTime::new(year, month, day, hour, minute, second, 0).map_err(|_| bad())?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp().as_second()).map_err(|_| bad())
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
            let (mut valid_after, mut valid_before) = (None, None);
            // Options come before the key type; a key type starts with
            // "ssh-", "ecdsa-" or "sk-".
            if !["ssh-", "ecdsa-", "sk-"].iter().any(|p| rest.starts_with(p)) {
                let (options, after) = split_options(rest).ok_or((n + 1, "unterminated options".to_string()))?;
                for option in split_unquoted(options, ',') {
                    if let Some(value) = option.strip_prefix("namespaces=") {
                        namespaces = Some(value.trim_matches('"').split(',').map(String::from).collect());
                    } else if let Some(value) = option.strip_prefix("valid-after=") {
                        valid_after = Some(parse_signer_time(value).map_err(|e| (n + 1, format!("valid-after: {e}")))?);
                    } else if let Some(value) = option.strip_prefix("valid-before=") {
                        valid_before =
                            Some(parse_signer_time(value).map_err(|e| (n + 1, format!("valid-before: {e}")))?);
                    } else if option == "cert-authority" {
                        return Err((n + 1, "cert-authority keys are not supported; list the signing keys".into()));
                    }
                }
                rest = after.trim_start();
            }
            let key = PublicKey::from_openssh(rest).map_err(|e| (n + 1, format!("not an SSH public key: {e}")))?;
            signers.push(AllowedSigner {
                principals: principals.to_string(),
                namespaces,
                valid_after,
                valid_before,
                key,
            });
        }
        Ok(Self { signers })
    }

    /// Verifies an armored SSH signature of `message`, committed at
    /// `committed_at` (seconds since the epoch; checked against the key's
    /// `valid-after`/`valid-before`, as git does): the signer's principals
    /// and key fingerprint.
    pub fn verify(&self, armored: &str, message: &[u8], committed_at: i64) -> Result<(String, String), String> {
        let signature = SshSig::from_pem(armored).map_err(|e| format!("not an SSH signature: {e}"))?;
        if signature.namespace() != "git" {
            return Err(format!("signature namespace is {:?}, not \"git\"", signature.namespace()));
        }
        let fingerprint = signature.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string();
        let listed: Vec<&AllowedSigner> = self
            .signers
            .iter()
            .filter(|s| s.namespaces.as_ref().is_none_or(|n| n.iter().any(|ns| ns == "git")))
            .filter(|s| s.key.key_data() == signature.public_key())
            .collect();
        let signer = match (listed.iter().find(|s| s.valid_at(committed_at)), listed.first()) {
            (Some(signer), _) => signer,
            (None, Some(listed)) => {
                return Err(format!(
                    "signed with key {fingerprint} ({}), {}, but committed at {}",
                    listed.principals,
                    listed.window(),
                    format_time(committed_at)
                ));
            }
            (None, None) => return Err(format!("signed with key {fingerprint}, which is not in allowed_signers")),
        };
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

    #[test]
    fn validity_windows_are_read_as_ssh_keygen_writes_them() {
        let signers = AllowedSigners::parse(&format!(
            "old valid-before=\"20250101\" {KEY}\nnew valid-after=20250101120000Z,valid-before=\"202601010000\" {KEY}\n"
        ))
        .expect("valid");
        let (old, new) = (&signers.signers[0], &signers.signers[1]);
        let at = |text: &str| parse_signer_time(text).expect("time");
        assert_eq!(old.valid_before, Some(at("20250101")));
        assert_eq!(at("20250101"), 1_735_689_600);
        assert!(old.valid_at(at("20241231235959")) && !old.valid_at(at("20250101")));
        assert!(!new.valid_at(at("20250101115959")) && new.valid_at(at("20250101120000")));
        assert!(new.valid_at(at("20251231")) && !new.valid_at(at("20260101")));
        assert_eq!(new.window(), "valid from 2025-01-01T12:00:00Z until 2026-01-01T00:00:00Z");
        for bad in ["2025", "20251301", "2025010a", "\"\""] {
            assert!(AllowedSigners::parse(&format!("x valid-after={bad} {KEY}")).is_err(), "{bad}");
        }
    }
}
