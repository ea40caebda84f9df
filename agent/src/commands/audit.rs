//! `plumb audit`: audit log tools.

use std::path::PathBuf;

use clap::Subcommand;

/// `plumb audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of an audit log and name the first broken record.
    Verify {
        /// The JSON-lines audit file.
        file: PathBuf,
    },
}

/// Runs a `plumb audit` command.
pub fn audit(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { file } => {
            let (records, last) = crate::report::audit::verify(&file)?;
            println!("{}: {records} records, chain intact (last {last})", file.display());
            Ok(())
        }
    }
}
