//! The `plumb` binary: parse the command line, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use plumb::commands::{Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    plumb::commands::init_logging(&cli.global);
    plumb::memory::limit_arenas();
    // libgit2 keeps its timeouts in globals that must be set before any
    // thread exists, so before the runtime starts.
    if let Err(error) = plumb::source::git::set_timeouts(10_000, 60_000) {
        tracing::warn!(%error, "git timeouts not set");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("plumb: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(plumb::commands::dispatch(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Difference) => ExitCode::from(1),
        Err(error) => {
            eprintln!("plumb: {error:#}");
            ExitCode::from(2)
        }
    }
}
