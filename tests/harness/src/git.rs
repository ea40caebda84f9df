//! Git for tests and the demo: working repositories driven with the `git`
//! command, and a `git daemon` serving a folder of bare repositories on
//! 127.0.0.1 (a random port), stopped by pid.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Error;
use crate::ports::free_port;
use crate::process::ManagedProcess;

/// Runs `git` in `dir` and returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|source| Error::Io { what: format!("run git {}", args.join(" ")), source })?;
    if !output.status.success() {
        return Err(Error::Git {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A working repository on branch `main`.
#[derive(Debug, Clone)]
pub struct GitRepo {
    dir: PathBuf,
}

impl GitRepo {
    /// `git init` in `dir` (created if missing), with a local identity.
    pub fn init(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|source| Error::Io { what: format!("create {}", dir.display()), source })?;
        git(dir, &["init", "-q", "-b", "main"])?;
        for (key, value) in
            [("user.name", "Plumb Test"), ("user.email", "test@plumb.invalid"), ("commit.gpgsign", "false")]
        {
            git(dir, &["config", key, value])?;
        }
        Ok(Self { dir: dir.to_path_buf() })
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `contents` to `path` (parents created).
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<(), Error> {
        let full = self.dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| Error::Io { what: format!("create {}", parent.display()), source })?;
        }
        std::fs::write(&full, contents)
            .map_err(|source| Error::Io { what: format!("write {}", full.display()), source })
    }

    /// Removes `path` (file or directory).
    pub fn remove(&self, path: &str) -> Result<(), Error> {
        git(&self.dir, &["rm", "-r", "-q", "--", path]).map(|_| ())
    }

    /// Commits everything and returns the new commit's sha.
    pub fn commit(&self, message: &str) -> Result<String, Error> {
        git(&self.dir, &["add", "-A"])?;
        git(&self.dir, &["commit", "-q", "--allow-empty", "-m", message])?;
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    /// Runs any git command here.
    pub fn git(&self, args: &[&str]) -> Result<String, Error> {
        git(&self.dir, args)
    }
}

/// Creates a bare repository at `path`.
pub fn init_bare(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io { what: format!("create {}", path.display()), source })?;
    git(path, &["init", "-q", "--bare", "-b", "main"]).map(|_| ())
}

/// `git daemon` serving the bare repositories under a folder.
#[derive(Debug)]
pub struct GitDaemon {
    process: ManagedProcess,
    port: u16,
}

impl GitDaemon {
    /// Serves every repository under `base` (read-only) on 127.0.0.1.
    pub async fn start(base: &Path) -> Result<Self, Error> {
        let port = free_port()?;
        let args = vec![
            "daemon".to_string(),
            "--reuseaddr".into(),
            "--listen=127.0.0.1".into(),
            format!("--port={port}"),
            format!("--base-path={}", base.display()),
            "--export-all".into(),
            "--informative-errors".into(),
            base.display().to_string(),
        ];
        let git = crate::binaries::find_in_path("git").unwrap_or_else(|| PathBuf::from("/usr/bin/git"));
        let mut process = ManagedProcess::spawn("git daemon", &git, &args, &base.join("git-daemon.log"))?;
        process.wait_for_port(port, Duration::from_secs(10)).await?;
        Ok(Self { process, port })
    }

    /// `git://127.0.0.1:<port>/<name>` for the repository `base/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
