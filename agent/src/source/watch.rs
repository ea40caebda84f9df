//! Watching a local repository's refs with `notify`: a commit (or push)
//! into it wakes the agent at once instead of waiting for the next poll.
//! Changes are debounced; polling still runs as a safety net.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::SourceError;

/// Changes within this window wake the agent once.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The git directory of a local repository (`.git` of a work tree, or the
/// bare repository itself).
pub fn git_dir(path: &Path) -> PathBuf {
    let dot_git = path.join(".git");
    if dot_git.is_dir() { dot_git } else { path.to_path_buf() }
}

/// True for paths whose change can move a ref.
fn touches_refs(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains("/refs/") || text.ends_with("packed-refs") || text.ends_with("/HEAD")
}

/// True for events that change files (not opens, reads or closes).
fn is_change(kind: &notify::EventKind) -> bool {
    matches!(kind, notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_))
}

/// A running watch; dropping it stops it.
pub struct RefWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RefWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Wakes `wake` whenever a ref of the repository at `path` changes.
pub fn watch_refs(path: &Path, wake: Arc<Notify>) -> Result<RefWatch, SourceError> {
    let dir = git_dir(path);
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        // Reads (plumb's own ls-remote opens the refs) are not changes.
        Ok(event) if is_change(&event.kind) && event.paths.iter().any(|p| touches_refs(p)) => {
            let _ = changed.send(());
        }
        Ok(_) => {}
        Err(error) => warn!(%error, "watching the local repository failed"),
    })
    .map_err(|e| SourceError::Local { what: format!("watch {}", dir.display()), reason: e.to_string() })?;
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .map_err(|e| SourceError::Local { what: format!("watch {}", dir.display()), reason: e.to_string() })?;
    let task = tokio::spawn(async move {
        while changes.recv().await.is_some() {
            tokio::time::sleep(DEBOUNCE).await;
            while changes.try_recv().is_ok() {}
            debug!("local refs changed");
            wake.notify_one();
        }
    });
    Ok(RefWatch { _watcher: watcher, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_the_watcher() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .output()
                .expect("git")
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "-b", "main"]);
        git(&["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "one"]);
        let wake = Arc::new(Notify::new());
        let _watch = watch_refs(dir.path(), wake.clone()).expect("watch");
        git(&["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "two"]);
        tokio::time::timeout(Duration::from_secs(2), wake.notified()).await.expect("woken within 2 s");
    }

    #[tokio::test]
    async fn reading_refs_does_not_wake_the_watcher() {
        let dir = tempfile::tempdir().expect("tempdir");
        let status =
            std::process::Command::new("git").current_dir(dir.path()).args(["init", "-q", "-b", "main"]).status();
        assert!(status.expect("git").success());
        let wake = Arc::new(Notify::new());
        let _watch = watch_refs(dir.path(), wake.clone()).expect("watch");
        for _ in 0..5 {
            let _ = std::fs::read_to_string(dir.path().join(".git/HEAD"));
            let _ = std::fs::read_dir(dir.path().join(".git/refs/heads")).map(|d| d.count());
        }
        let woken = tokio::time::timeout(Duration::from_millis(500), wake.notified()).await;
        assert!(woken.is_err(), "reading refs must not trigger a poll");
    }

    #[test]
    fn ref_paths() {
        assert!(touches_refs(Path::new("/r/.git/refs/heads/main")));
        assert!(touches_refs(Path::new("/r/packed-refs")));
        assert!(touches_refs(Path::new("/r/.git/HEAD")));
        assert!(!touches_refs(Path::new("/r/.git/objects/ab/cdef")));
    }
}
