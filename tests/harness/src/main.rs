//! `plumb-testenv`: build the local control plane, run one for a command
//! (the test suite), or run one until Ctrl-C.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plumb_testenv::{ControlPlane, SHARED_KUBECONFIG_ENV, binaries};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "A real local Kubernetes control plane for plumb's tests")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build and cache etcd, kube-apiserver and kube-controller-manager if
    /// missing (of $PLUMB_K8S_VERSION, else the pinned default version).
    Build,
    /// Start a control plane, run COMMAND with PLUMB_TEST_KUBECONFIG set, stop it.
    Run {
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// Start a control plane and keep it until Ctrl-C.
    Up,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("warn").init();
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("plumb-testenv: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, plumb_testenv::Error> {
    match args.command {
        Command::Build => {
            let found = binaries::ensure_built(|line| println!("{line}"))?;
            println!("kube-apiserver: {}", found.kube_apiserver.display());
            println!("kube-controller-manager: {}", found.kube_controller_manager.display());
            println!("etcd: {}", found.etcd.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Up => {
            let plane = ControlPlane::start().await?;
            println!("control plane ready at {}", plane.server_url());
            println!("pids {:?} folder {}", plane.pids(), plane.dir().display());
            println!("export KUBECONFIG={}", plane.kubeconfig_path().display());
            println!("press Ctrl-C to stop");
            wait_for_shutdown_signal().await;
            plane.stop();
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { command } => {
            let plane = ControlPlane::start().await?;
            eprintln!(
                "plumb-testenv: control plane (Kubernetes {}) ready at {} (pids {:?}); running {}",
                plane.version(),
                plane.server_url(),
                plane.pids(),
                command.join(" ")
            );
            let (program, rest) = command
                .split_first()
                .ok_or_else(|| plumb_testenv::Error::NotReady { what: "command".into(), reason: "empty".into() })?;
            let mut child = tokio::process::Command::new(program)
                .args(rest)
                .env(SHARED_KUBECONFIG_ENV, plane.kubeconfig_path())
                .spawn()
                .map_err(|source| plumb_testenv::Error::Io { what: format!("run {program}"), source })?;
            let status = tokio::select! {
                status = child.wait() => status,
                () = wait_for_shutdown_signal() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
            .map_err(|source| plumb_testenv::Error::Io { what: format!("wait for {program}"), source })?;
            plane.stop();
            let code = status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1);
            Ok(ExitCode::from(code))
        }
    }
}

async fn wait_for_shutdown_signal() {
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
