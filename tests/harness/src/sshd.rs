//! Debian's sshd for tests: a fresh host key, one authorized key, on
//! 127.0.0.1 (a random port), stopped by pid on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Error;
use crate::ports::free_port;
use crate::process::ManagedProcess;

/// A running sshd.
pub struct Sshd {
    process: ManagedProcess,
    port: u16,
    host_key: String,
    _dir: tempfile::TempDir,
}

fn keygen(path: &Path, comment: &str) -> Result<String, Error> {
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .output()
        .map_err(|source| Error::Io { what: "run ssh-keygen (openssh-client)".into(), source })?;
    if !output.status.success() {
        return Err(Error::Git {
            command: "ssh-keygen".into(),
            stderr: String::from_utf8_lossy(&output.stderr).into(),
        });
    }
    std::fs::read_to_string(path.with_extension("pub"))
        .map(|k| k.trim().to_string())
        .map_err(|source| Error::Io { what: "read a public key".into(), source })
}

/// A new ed25519 key pair in `dir`: the private key's path and the public key line.
pub fn client_key(dir: &Path, name: &str) -> Result<(PathBuf, String), Error> {
    let path = dir.join(name);
    let public = keygen(&path, name)?;
    Ok((path, public))
}

impl Sshd {
    /// Starts sshd accepting `authorized_key` (a public key line) for root.
    pub async fn start(authorized_key: &str) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("plumb-testenv-sshd-")
            .tempdir()
            .map_err(|source| Error::Io { what: "create the sshd folder".into(), source })?;
        let host_key = keygen(&dir.path().join("host_key"), "plumb-testenv-host")?;
        crate::certs::write(&dir.path().join("authorized_keys"), &format!("{authorized_key}\n"))?;
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").map_err(|source| Error::Io { what: "create /run/sshd".into(), source })?;
        let port = free_port()?;
        let d = dir.path().display();
        crate::certs::write(
            &dir.path().join("sshd_config"),
            &format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.pid\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel ERROR\n"
            ),
        )?;
        let sshd = crate::binaries::find_in_path("sshd").unwrap_or_else(|| PathBuf::from("/usr/sbin/sshd"));
        let args = vec!["-D".to_string(), "-e".into(), "-f".into(), format!("{d}/sshd_config")];
        let mut process = ManagedProcess::spawn("sshd", &sshd, &args, &dir.path().join("sshd.log"))?;
        process.wait_for_port(port, Duration::from_secs(10)).await?;
        Ok(Self { process, port, host_key, _dir: dir })
    }

    /// `ssh://root@127.0.0.1:<port><path>`.
    pub fn url(&self, path: &Path) -> String {
        format!("ssh://root@127.0.0.1:{}{}", self.port, path.display())
    }

    /// The known_hosts line for this server.
    pub fn known_hosts_line(&self) -> String {
        let mut parts = self.host_key.split_whitespace();
        let (kind, key) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        format!("[127.0.0.1]:{} {kind} {key}", self.port)
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
