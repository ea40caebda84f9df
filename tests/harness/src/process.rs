//! A child process owned by the harness: started with its output in a log
//! file, stopped by pid (SIGTERM, then SIGKILL), and never outliving us.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// A running server process. Dropping it stops it.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
}

impl ManagedProcess {
    /// Starts `program` with `args`, stdout and stderr appended to `log_path`.
    ///
    /// The child gets its own process group (so a terminal's Ctrl-C reaches
    /// only us and we stop servers in order) and is sent SIGKILL by the
    /// kernel if the spawning thread dies, so a crashed or killed test run
    /// leaves nothing behind.
    pub fn spawn(name: &str, program: &Path, args: &[String], log_path: &Path) -> Result<Self, Error> {
        Self::spawn_with_env(name, program, args, &[], log_path)
    }

    /// [`ManagedProcess::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &std::ffi::OsStr)],
        log_path: &Path,
    ) -> Result<Self, Error> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|source| Error::Io { what: format!("open log {}", log_path.display()), source })?;
        let log_err =
            log.try_clone().map_err(|source| Error::Io { what: format!("open log {}", log_path.display()), source })?;
        let mut command = Command::new(program);
        command.args(args).envs(env.iter().copied()).stdin(Stdio::null()).stdout(log).stderr(log_err);
        // SAFETY: the closure only calls async-signal-safe libc functions.
        unsafe {
            command.pre_exec(|| {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|source| Error::Io { what: format!("start {name} ({})", program.display()), source })?;
        Ok(Self { name: name.to_string(), child, log_path: log_path.to_path_buf() })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The name given at start, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the exit status if the process has already ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the process log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Fails with the log tail if the process has exited.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.exited() {
            Some(status) => Err(Error::ProcessExited {
                name: self.name.clone(),
                status: status.to_string(),
                log: self.log_tail(30),
            }),
            None => Ok(()),
        }
    }

    /// Waits until something accepts connections on 127.0.0.1:`port`.
    pub async fn wait_for_port(&mut self, port: u16, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running()?;
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: self.name.clone(),
                    reason: format!("port {port} not listening after {timeout:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process by pid: SIGTERM, then SIGKILL after `grace`, and
    /// reaps it. Idempotent.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: plain syscall on a pid we spawned and have not reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// True if a process with this pid exists (and is not a zombie we own).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}
