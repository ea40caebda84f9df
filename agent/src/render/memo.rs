//! Renders reused across commits. An app renders only from the files of
//! the commit, its `plumb.yaml` entry, the chart environment and what its
//! charts look up in the cluster. Each render goes through a tree that
//! records every path it read or listed; when each of those paths has the
//! same git object id in the next commit (a directory's id covers
//! everything under it, a missing path stays missing), the entry and the
//! capabilities are the same, and every lookup answers the same, the
//! render is the same, and it is not run again. A commit that touches no
//! input of an app (a README, another app) costs that app no render.
//!
//! Renders are kept as compact JSON, one entry per app, by the agent's
//! syncer (a fresh agent renders afresh); trees without object ids (a
//! plain directory) are never memoised.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::RenderError;
use super::config::App;
use super::helm::ChartEnv;
use super::lookup::{Looked, Lookup, Recorder};
use crate::plan::RenderedObject;
use crate::source::tree::Identity;
use crate::source::{Entry, SourceError, Tree};

/// The last render of each app, with what it was made from.
#[derive(Default)]
pub struct RenderMemo {
    apps: Mutex<HashMap<String, Arc<Memo>>>,
}

struct Memo {
    /// The app's entry and the capabilities, as text.
    context: String,
    /// Every path the render read or listed, and what it held.
    inputs: Vec<(String, Identity)>,
    /// What its charts looked up.
    looked: Vec<Looked>,
    /// `(origin, manifest as JSON)` of each object.
    objects: Vec<(String, Box<[u8]>)>,
}

/// Whether a render was run or reused, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendered {
    /// Its inputs changed (or were not known): rendered.
    Fresh,
    /// Its inputs are unchanged: the last render, reused.
    Reused,
}

impl RenderMemo {
    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets apps that are not in `apps` (removed from `plumb.yaml`).
    pub fn retain(&self, apps: &[App]) {
        if let Ok(mut memo) = self.apps.lock() {
            memo.retain(|name, _| apps.iter().any(|a| &a.name == name));
        }
    }

    /// The objects of `app` at `tree`: its last render when every input is
    /// unchanged, else `render` (through a recording tree), remembered.
    pub fn render(
        &self,
        tree: &Arc<dyn Tree>,
        app: &App,
        env: &ChartEnv,
        render: impl FnOnce(&Arc<dyn Tree>, &ChartEnv) -> Result<Vec<RenderedObject>, RenderError>,
    ) -> (Result<Vec<RenderedObject>, RenderError>, Rendered) {
        let context = format!("{app:?}\n{:?}", env.capabilities);
        if let Some(objects) = self.reusable(tree.as_ref(), &app.name, &context, env) {
            return (Ok(objects), Rendered::Reused);
        }
        let recording = Arc::new(RecordingTree { inner: tree.clone(), seen: Mutex::new(BTreeSet::new()) });
        let recorder = Arc::new(Recorder::new(env.lookup.clone()));
        let recording_env = ChartEnv { lookup: Some(recorder.clone() as Arc<dyn Lookup>), ..env.clone() };
        let recording_tree: Arc<dyn Tree> = recording.clone();
        let result = render(&recording_tree, &recording_env);
        let kept = match (&result, recording.inputs()) {
            (Ok(objects), Some(inputs)) => {
                let objects = objects
                    .iter()
                    .map(|o| (o.origin.clone(), serde_json::to_vec(&o.manifest).unwrap_or_default().into_boxed_slice()))
                    .collect();
                Some(Arc::new(Memo { context, inputs, looked: recorder.looked(), objects }))
            }
            _ => None,
        };
        let mut memo = self.apps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match kept {
            Some(kept) => memo.insert(app.name.clone(), kept),
            None => memo.remove(&app.name),
        };
        (result, Rendered::Fresh)
    }

    fn reusable(&self, tree: &dyn Tree, app: &str, context: &str, env: &ChartEnv) -> Option<Vec<RenderedObject>> {
        // Checked outside the lock: lookups ask the cluster.
        let entry = self.apps.lock().ok()?.get(app)?.clone();
        if entry.context != context || entry.inputs.iter().any(|(path, was)| tree.identity(path).as_ref() != Some(was))
        {
            return None;
        }
        if !entry.looked.is_empty() && !Recorder::unchanged(env.lookup.as_ref(), &entry.looked) {
            return None;
        }
        entry
            .objects
            .iter()
            .map(|(origin, json)| {
                Some(RenderedObject { origin: origin.clone(), manifest: serde_json::from_slice(json).ok()? })
            })
            .collect()
    }
}

/// A tree that remembers every path read or listed through it.
struct RecordingTree {
    inner: Arc<dyn Tree>,
    seen: Mutex<BTreeSet<String>>,
}

impl RecordingTree {
    fn record(&self, path: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(path.to_string());
        }
    }

    /// What each recorded path holds; `None` when the tree has no object ids.
    fn inputs(&self) -> Option<Vec<(String, Identity)>> {
        let seen = self.seen.lock().ok()?;
        seen.iter().map(|path| Some((path.clone(), self.inner.identity(path)?))).collect()
    }
}

impl Tree for RecordingTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.record(path);
        self.inner.read(path)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError> {
        self.record(dir);
        self.inner.list(dir)
    }

    fn revision(&self) -> String {
        self.inner.revision()
    }

    fn identity(&self, path: &str) -> Option<Identity> {
        self.inner.identity(path)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::source::EntryKind;

    /// Files in memory, with content ids like git's: a file's from its
    /// bytes, a directory's from everything under it.
    struct Files(BTreeMap<String, String>, bool);

    impl Files {
        fn tree(files: &[(&str, &str)]) -> Arc<dyn Tree> {
            Arc::new(Files(files.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect(), true))
        }

        fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
            self.0.iter().filter(move |(p, _)| dir.is_empty() || p.starts_with(&format!("{dir}/")))
        }
    }

    impl Tree for Files {
        fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
            let missing = || SourceError::NotFound { path: path.into(), revision: "test".into() };
            self.0.get(path).map(|c| c.as_bytes().to_vec()).ok_or_else(missing)
        }

        fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError> {
            let mut entries: Vec<Entry> = Vec::new();
            for (path, _) in self.under(dir) {
                let rest = if dir.is_empty() { path.as_str() } else { &path[dir.len() + 1..] };
                let (name, kind) = match rest.split_once('/') {
                    Some((d, _)) => (d, EntryKind::Dir),
                    None => (rest, EntryKind::File),
                };
                if !entries.iter().any(|e| e.name == name) {
                    entries.push(Entry { name: name.to_string(), kind });
                }
            }
            if entries.is_empty() {
                return Err(SourceError::NotFound { path: dir.into(), revision: "test".into() });
            }
            Ok(entries)
        }

        fn revision(&self) -> String {
            "test".into()
        }

        fn identity(&self, path: &str) -> Option<Identity> {
            if !self.1 {
                return None;
            }
            let mut hash = Sha256::new();
            let mut any = false;
            for (p, c) in self.0.iter().filter(|(p, _)| *p == path).chain(self.under(path)) {
                hash.update(format!("{p}\0{c}\0"));
                any = true;
            }
            Some(if any { Identity::Object(format!("{:x}", hash.finalize())) } else { Identity::Absent })
        }
    }

    fn app(entry: &str) -> App {
        let config = crate::render::config::parse("plumb.yaml", &format!("apps:\n  - {entry}\n")).expect("config");
        config.apps.into_iter().next().expect("one app")
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {k: v}\n";

    /// Renders `app` from `tree` through `memo`: the objects' names and whether it rendered.
    fn render(memo: &RenderMemo, tree: &Arc<dyn Tree>, app: &App, calls: &AtomicUsize) -> (Vec<String>, Rendered) {
        let path = match app.source() {
            crate::render::config::AppSource::Path(path) => path,
            crate::render::config::AppSource::Chart(_) => unreachable!("path apps only here"),
        };
        let (result, how) = memo.render(tree, app, &ChartEnv::default(), |tree, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            crate::render::plain::load(tree.as_ref(), &path)
        });
        let names = result.expect("renders").iter().map(|o| o.manifest["data"]["k"].to_string()).collect();
        (names, how)
    }

    #[test]
    fn a_render_is_reused_only_while_every_input_is_the_same() {
        let memo = RenderMemo::new();
        let calls = AtomicUsize::new(0);
        let web = app("{name: web, namespace: n, path: web}");
        let base = Files::tree(&[("plumb.yaml", "x"), ("web/cm.yaml", CM), ("README.md", "a")]);
        assert_eq!(render(&memo, &base, &web, &calls), (vec!["\"v\"".to_string()], Rendered::Fresh));
        let table: &[(&str, Arc<dyn Tree>, App, Rendered)] = &[
            ("nothing changed", base.clone(), web.clone(), Rendered::Reused),
            (
                "another file changed",
                Files::tree(&[("plumb.yaml", "y"), ("web/cm.yaml", CM), ("README.md", "b")]),
                web.clone(),
                Rendered::Reused,
            ),
            (
                "its file changed",
                Files::tree(&[("web/cm.yaml", &CM.replace("k: v", "k: w")), ("README.md", "a")]),
                web.clone(),
                Rendered::Fresh,
            ),
            (
                "a file appeared in its directory",
                Files::tree(&[("web/cm.yaml", CM), ("web/more.yaml", &CM.replace("one", "two"))]),
                web.clone(),
                Rendered::Fresh,
            ),
            ("back as it was", base.clone(), web.clone(), Rendered::Fresh),
            (
                "its plumb.yaml entry changed",
                base.clone(),
                app("{name: web, namespace: m, path: web}"),
                Rendered::Fresh,
            ),
        ];
        for (what, tree, app, expected) in table {
            let (_, how) = render(&memo, tree, app, &calls);
            assert_eq!(how, *expected, "{what}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5, "one render per Fresh row and the first");
    }

    #[test]
    fn files_read_outside_the_app_and_missing_paths_are_inputs() {
        let memo = RenderMemo::new();
        let calls = AtomicUsize::new(0);
        let web = app("{name: web, namespace: n, path: web}");
        // A plain app read web/ only; a kustomization appearing there is a change of web/.
        let plain = Files::tree(&[("web/cm.yaml", CM), ("base/cm.yaml", CM)]);
        render(&memo, &plain, &web, &calls);
        let outside = Files::tree(&[("web/cm.yaml", CM), ("base/cm.yaml", &CM.replace("k: v", "k: w"))]);
        assert_eq!(render(&memo, &outside, &web, &calls).1, Rendered::Reused, "base/ was never read");
        // A render that reads a file outside its directory depends on it.
        memo.retain(&[]);
        let (result, how) = memo.render(&plain, &web, &ChartEnv::default(), |tree, _| {
            tree.read("base/cm.yaml")?;
            crate::render::plain::load(tree.as_ref(), "web")
        });
        assert!(result.is_ok() && how == Rendered::Fresh);
        assert_eq!(render(&memo, &plain, &web, &calls).1, Rendered::Reused);
        assert_eq!(render(&memo, &outside, &web, &calls).1, Rendered::Fresh, "base/cm.yaml changed");
        // A path that was missing and appears is a change too.
        memo.retain(&[]);
        let (_, how) = memo.render(&plain, &web, &ChartEnv::default(), |tree, _| {
            assert!(tree.read("shared/extra.yaml").is_err());
            crate::render::plain::load(tree.as_ref(), "web")
        });
        assert_eq!(how, Rendered::Fresh);
        assert_eq!(render(&memo, &plain, &web, &calls).1, Rendered::Reused);
        let appeared = Files::tree(&[("web/cm.yaml", CM), ("base/cm.yaml", CM), ("shared/extra.yaml", "x")]);
        assert_eq!(render(&memo, &appeared, &web, &calls).1, Rendered::Fresh, "shared/extra.yaml appeared");
    }

    #[test]
    fn failed_renders_and_trees_without_ids_are_not_kept() {
        let memo = RenderMemo::new();
        let calls = AtomicUsize::new(0);
        let web = app("{name: web, namespace: n, path: web}");
        let broken = Files::tree(&[("web/cm.yaml", "kind: [")]);
        for _ in 0..2 {
            let (result, how) = memo.render(&broken, &web, &ChartEnv::default(), |tree, _| {
                crate::render::plain::load(tree.as_ref(), "web")
            });
            assert!(result.is_err() && how == Rendered::Fresh);
        }
        let no_ids: Arc<dyn Tree> = Arc::new(Files([("web/cm.yaml".to_string(), CM.to_string())].into(), false));
        render(&memo, &no_ids, &web, &calls);
        assert_eq!(render(&memo, &no_ids, &web, &calls).1, Rendered::Fresh);
        // Apps that left plumb.yaml are forgotten.
        let ids = Files::tree(&[("web/cm.yaml", CM)]);
        render(&memo, &ids, &web, &calls);
        memo.retain(&[]);
        assert_eq!(render(&memo, &ids, &web, &calls).1, Rendered::Fresh);
    }
}
