//! Credentials for fetching: an HTTPS user and password (or token) read
//! from files (e.g. a mounted Secret) or the environment, never from the
//! command line and never logged (`Debug` redacts them).

use std::cell::Cell;
use std::path::Path;

use git2::{Cred, CredentialType, RemoteCallbacks};

use super::SourceError;

/// Environment variable holding the HTTPS user.
pub const USERNAME_ENV: &str = "PLUMB_GIT_USERNAME";
/// Environment variable holding the HTTPS password or token.
pub const PASSWORD_ENV: &str = "PLUMB_GIT_PASSWORD";
/// Marker libgit2 errors carry when plumb refused to answer again.
pub(crate) const REFUSED: &str = "the remote refused the configured credentials";
/// Marker when the remote wants credentials and none are configured.
pub(crate) const MISSING: &str = "the remote asks for credentials and none are configured";

/// What plumb authenticates with.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
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
        Ok(Self { username: username.filter(|u| !u.is_empty()), password: password.filter(|p| !p.is_empty()) })
    }

    /// Explicit values (tests).
    pub fn userpass(username: &str, password: &str) -> Self {
        Self { username: Some(username.to_string()), password: Some(password.to_string()) }
    }

    /// libgit2 callbacks answering a credential request once: libgit2
    /// asks again after a rejection, and a second answer would only repeat
    /// the failure against the server (a retry storm).
    pub(crate) fn callbacks<'a>(&'a self, asked: &'a Cell<u32>) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, user_from_url, allowed| {
            asked.set(asked.get() + 1);
            if asked.get() > 1 {
                return Err(git2::Error::from_str(REFUSED));
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
