//! Credentials for fetching: an HTTPS user and password (or token) read
//! from files (e.g. a mounted Secret) or the environment, never from the
//! command line and never logged (`Debug` redacts them).

use std::cell::Cell;
use std::path::Path;

use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::known_hosts::{HostKeyCheck, KnownHosts, fingerprint};

use super::SourceError;

/// Environment variable holding the HTTPS user.
pub const USERNAME_ENV: &str = "PLUMB_GIT_USERNAME";
/// Environment variable holding the HTTPS password or token.
pub const PASSWORD_ENV: &str = "PLUMB_GIT_PASSWORD";
/// Marker libgit2 errors carry when plumb refused to answer again.
pub(crate) const REFUSED: &str = "the remote refused the configured credentials";
/// Marker when the remote wants credentials and none are configured.
pub(crate) const MISSING: &str = "the remote asks for credentials and none are configured";

/// Marker of a refused SSH host key.
pub(crate) const HOST_KEY: &str = "host key refused";

/// What the callbacks of one connection observed, for the error that follows:
/// libgit2 replaces a refused host key's message with a generic one.
#[derive(Debug, Default)]
pub(crate) struct CallbackState {
    /// Credential requests answered.
    pub(crate) asked: Cell<u32>,
    /// Why a host key was refused.
    pub(crate) host_key: std::cell::RefCell<Option<String>>,
}

/// What plumb authenticates with, and the SSH hosts it trusts.
#[derive(Clone, Default)]
pub struct Credentials {
    username: Option<String>,
    password: Option<String>,
    ssh_key: Option<std::path::PathBuf>,
    ssh_passphrase: Option<String>,
    known_hosts: Option<KnownHosts>,
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        (&self.username, &self.password, &self.ssh_key, &self.ssh_passphrase)
            == (&other.username, &other.password, &other.ssh_key, &other.ssh_passphrase)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssh_key", &self.ssh_key)
            .field("ssh_passphrase", &self.ssh_passphrase.as_ref().map(|_| "***"))
            .field("known_hosts", &self.known_hosts.is_some())
            .finish()
    }
}

fn read_secret(path: &Path, what: &str) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map(|s| s.trim_end_matches(['\n', '\r']).to_string()).map_err(|e| {
        SourceError::Local { what: format!("read the {what} file {}", path.display()), reason: e.to_string() }
    })
}

impl Credentials {
    /// From files (a mounted Secret's keys), falling back to
    /// `PLUMB_GIT_USERNAME` / `PLUMB_GIT_PASSWORD`.
    pub fn load(username_file: Option<&Path>, password_file: Option<&Path>) -> Result<Self, SourceError> {
        let username = match username_file {
            Some(path) => Some(read_secret(path, "git username")?),
            None => std::env::var(USERNAME_ENV).ok(),
        };
        let password = match password_file {
            Some(path) => Some(read_secret(path, "git password")?),
            None => std::env::var(PASSWORD_ENV).ok(),
        };
        Ok(Self {
            username: username.filter(|u| !u.is_empty()),
            password: password.filter(|p| !p.is_empty()),
            ..Self::default()
        })
    }

    /// Adds an SSH private key (and the file of its passphrase, if any).
    pub fn with_ssh_key(mut self, key: &Path, passphrase_file: Option<&Path>) -> Result<Self, SourceError> {
        self.ssh_key = Some(key.to_path_buf());
        self.ssh_passphrase = passphrase_file.map(|p| read_secret(p, "SSH passphrase")).transpose()?;
        Ok(self)
    }

    /// Trusts the SSH host keys in `known_hosts`.
    pub fn with_known_hosts(mut self, known_hosts: KnownHosts) -> Self {
        self.known_hosts = Some(known_hosts);
        self
    }

    /// Explicit values (tests).
    pub fn userpass(username: &str, password: &str) -> Self {
        Self { username: Some(username.to_string()), password: Some(password.to_string()), ..Self::default() }
    }

    /// libgit2 callbacks answering a credential request once: libgit2
    /// asks again after a rejection, and a second answer would only repeat
    /// the failure against the server (a retry storm).
    ///
    /// SSH host keys are checked against the known_hosts (`port` is the
    /// remote's); TLS certificates get libgit2's normal verification.
    pub(crate) fn callbacks<'a>(&'a self, state: &'a CallbackState, port: u16) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.certificate_check(move |cert, host| {
            let Some(hostkey) = cert.as_hostkey() else { return Ok(CertificateCheckStatus::CertificatePassthrough) };
            let Some(raw) = hostkey.hostkey() else {
                return Err(git2::Error::from_str(&format!("{HOST_KEY}: the server's key could not be read")));
            };
            let Some(known) = &self.known_hosts else {
                let reason = format!(
                    "{HOST_KEY}: no known_hosts file is configured (the key of {host}:{port} is {})",
                    fingerprint(raw)
                );
                state.host_key.replace(Some(reason.clone()));
                return Err(git2::Error::from_str(&reason));
            };
            let what = match known.check(host, port, raw) {
                HostKeyCheck::Trusted => return Ok(CertificateCheckStatus::CertificateOk),
                HostKeyCheck::Unknown => "is not in known_hosts",
                HostKeyCheck::Mismatch => "differs from the key in known_hosts (possible man-in-the-middle)",
                HostKeyCheck::Revoked => "is revoked in known_hosts",
            };
            let reason = format!("{HOST_KEY}: the key {} of {host}:{port} {what}", fingerprint(raw));
            state.host_key.replace(Some(reason.clone()));
            Err(git2::Error::from_str(&reason))
        });
        callbacks.credentials(move |_url, user_from_url, allowed| {
            state.asked.set(state.asked.get() + 1);
            if state.asked.get() > 1 {
                return Err(git2::Error::from_str(REFUSED));
            }
            if let Some(key) = &self.ssh_key
                && allowed.contains(CredentialType::SSH_KEY)
            {
                return Cred::ssh_key(user_from_url.unwrap_or("git"), None, key, self.ssh_passphrase.as_deref());
            }
            match &self.password {
                Some(password) if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                    let user = self.username.as_deref().or(user_from_url).unwrap_or("git");
                    Cred::userpass_plaintext(user, password)
                }
                _ => Err(git2::Error::from_str(MISSING)),
            }
        });
        callbacks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let creds = Credentials::userpass("robot", "s3cr3t-token");
        let shown = format!("{creds:?}");
        assert!(!shown.contains("robot") && !shown.contains("s3cr3t-token"), "{shown}");
    }

    #[test]
    fn files_are_read_without_trailing_newlines() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("user"), "robot\n").expect("write");
        std::fs::write(dir.path().join("pass"), "token\n").expect("write");
        let creds = Credentials::load(Some(&dir.path().join("user")), Some(&dir.path().join("pass"))).expect("load");
        assert_eq!(creds, Credentials::userpass("robot", "token"));
        assert!(Credentials::load(Some(&dir.path().join("missing")), None).is_err());
    }
}
