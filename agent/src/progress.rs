//! Progress of long operations (building the control plane, fetching
//! charts, the first sync): one live status line with a spinner and the
//! elapsed time on a terminal, plain lines when the output is a file or a
//! pipe (CI logs stay readable).

use std::io::{IsTerminal, Write};
use std::time::Instant;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const WIDTH: usize = 100;

/// A long operation being reported.
pub struct Progress {
    label: String,
    tty: bool,
    started: Instant,
    ticks: usize,
    last_plain: String,
}

impl Progress {
    /// Starts reporting `label` on stdout.
    pub fn start(label: &str) -> Self {
        let tty = std::io::stdout().is_terminal();
        if !tty {
            println!("{label}");
        }
        let mut progress =
            Progress { label: label.to_string(), tty, started: Instant::now(), ticks: 0, last_plain: String::new() };
        progress.update("");
        progress
    }

    /// Shows `detail` (a build line, a count): redrawn in place on a
    /// terminal, printed once per change otherwise.
    pub fn update(&mut self, detail: &str) {
        if self.tty {
            let spinner = SPINNER[self.ticks % SPINNER.len()];
            self.ticks += 1;
            let mut line = format!("{spinner} {} ({}s) {detail}", self.label, self.started.elapsed().as_secs());
            if line.chars().count() > WIDTH {
                line = line.chars().take(WIDTH - 1).collect::<String>() + "…";
            }
            print!("\r\x1b[2K{line}");
            let _ = std::io::stdout().flush();
        } else if !detail.is_empty() && detail != self.last_plain {
            println!("  {detail}");
            self.last_plain = detail.to_string();
        }
    }

    /// Ends the operation with a summary line.
    pub fn finish(self, summary: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.tty {
            print!("\r\x1b[2K");
        }
        println!("{} {summary} ({elapsed:.1}s)", self.label);
    }
}
