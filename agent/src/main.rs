//! The `plumb` binary: parse the command line, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use plumb::cli::{Cli, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    plumb::cli::init_logging(&cli.global);
    match plumb::cli::dispatch(cli).await {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Difference) => ExitCode::from(1),
        Err(error) => {
            eprintln!("plumb: {error:#}");
            ExitCode::from(2)
        }
    }
}
