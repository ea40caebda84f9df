//! `plumb audit`: audit log tools.

use std::path::PathBuf;

use clap::Subcommand;

/// `plumb audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of an audit log (with the files rotated out of
    /// it, FILE.000001, …) and name the first broken record.
    Verify {
        /// The JSON-lines audit file.
        file: PathBuf,
    },
}

/// Runs a `plumb audit` command.
pub fn audit(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { file } => {
            let report = crate::report::audit::verify(&file)?;
            let files = match report.files.len() {
                1 => String::new(),
                n => format!(" in {n} files"),
            };
            println!("{}: {} records{files}, chain intact (last {})", file.display(), report.records, report.last);
            if let Some(first) = &report.continues {
                println!("the oldest file continues a chain whose earlier files were removed (from {first})");
            }
            if let Some(torn) = &report.torn {
                println!(
                    "record {} is torn: {} bytes without a line end (a write cut short by a kill or a full disk); \
                     the agent sets it aside at its next start",
                    torn.line, torn.bytes
                );
            }
            Ok(())
        }
    }
}
