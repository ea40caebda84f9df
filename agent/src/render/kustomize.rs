//! Kustomize apps: an app whose `path` holds `kustomization.yaml`,
//! `kustomization.yml` or `Kustomization` is built by the `plumb-kustomize`
//! crate (kustomize v5.5.0 semantics) instead of read as plain manifests.
//!
//! This module is the crate's edge: the commit's [`Tree`] as its read-only
//! file tree, remote bases fetched through plumb's Git source at the commit
//! `plumb.lock` pins (or a full sha in the URL), and `helmCharts:` inflated
//! by plumb's own chart engine.

use std::path::PathBuf;
use std::sync::Arc;

use plumb_kustomize::{EntryKind, FileTree, RemoteSpec};
use serde_json::Value;

use super::chart::{Chart, Release};
use super::config::App;
use super::helm::ChartEnv;
use super::lock::{LOCK_FILE, Lock, LockedBase};
use super::{RenderError, RenderedObject, plain};
use crate::source::credentials::Credentials;
use crate::source::git::{GitRef, GitSource};
use crate::source::tree::Subdir;
use crate::source::{EntryKind as TreeEntry, Tree};

/// Renders a path app: Kustomize when the directory has a kustomization
/// file, plain manifests otherwise.
pub fn render_path(
    tree: &Arc<dyn Tree>,
    app: &App,
    path: &str,
    env: &ChartEnv,
) -> Result<Vec<RenderedObject>, RenderError> {
    let view = TreeView(tree.clone());
    if !plumb_kustomize::is_kustomization_dir(&view, path) {
        return plain::load(tree.as_ref(), path);
    }
    let bases = GitBases {
        lock: read_lock(tree.as_ref()),
        cache: env.remote.as_ref().map(|r| r.git_cache()),
        credentials: env.remote.as_ref().map(|r| r.git_credentials().clone()).unwrap_or_default(),
    };
    let helm = Inflater { tree: tree.clone(), env: env.clone() };
    let kenv = plumb_kustomize::Env { remote: Some(&bases), helm: Some(&helm) };
    let built = plumb_kustomize::build(Arc::new(view), path, &kenv)
        .map_err(|source| RenderError::Kustomize { app: app.name.clone(), source })?;
    Ok(built
        .objects
        .into_iter()
        .map(|manifest| {
            let ns = manifest["metadata"]["namespace"].as_str().map(|ns| format!("{ns}/")).unwrap_or_default();
            let kind = manifest["kind"].as_str().unwrap_or("");
            let name = manifest["metadata"]["name"].as_str().unwrap_or("");
            RenderedObject { origin: format!("{path} (kustomize) {kind} {ns}{name}"), manifest }
        })
        .collect())
}

fn read_lock(tree: &dyn Tree) -> Result<Lock, String> {
    match tree.read_string(LOCK_FILE) {
        Ok(text) => Lock::parse(&text).map_err(|e| e.to_string()),
        Err(_) => Ok(Lock::default()),
    }
}

/// A plumb tree as the crate's file tree.
pub struct TreeView(pub Arc<dyn Tree>);

impl FileTree for TreeView {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.read(path).map_err(|e| e.to_string())
    }

    fn kind(&self, path: &str) -> Option<EntryKind> {
        if path.is_empty() {
            return Some(EntryKind::Dir);
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let entry = self.0.list(dir).ok()?.into_iter().find(|e| e.name == name)?;
        Some(match entry.kind {
            TreeEntry::File => EntryKind::File,
            TreeEntry::Dir => EntryKind::Dir,
        })
    }

    fn name(&self) -> String {
        self.0.revision()
    }
}

/// Remote bases through plumb's Git source, pinned by `plumb.lock` or a sha.
struct GitBases {
    lock: Result<Lock, String>,
    cache: Option<PathBuf>,
    credentials: Credentials,
}

/// The commit a remote base is pinned to, or why it is not pinned.
pub fn pinned_commit(lock: &Lock, spec: &RemoteSpec) -> Result<String, String> {
    if plumb_kustomize::remote::is_commit(&spec.reference) {
        return Ok(spec.reference.clone());
    }
    if let Some(base) = lock.find_base(&spec.repo, &spec.reference) {
        return Ok(base.commit.clone());
    }
    let reference =
        if spec.reference.is_empty() { "its default branch".to_string() } else { format!("ref {:?}", spec.reference) };
    Err(format!(
        "remote base {} is not pinned: {reference} of {} can move. Pin it: run `plumb lock` (records the commit in {LOCK_FILE}) and commit {LOCK_FILE}, or put a full commit sha in the URL (?ref=<40-hex sha>)",
        spec.raw, spec.repo
    ))
}

impl plumb_kustomize::RemoteBases for GitBases {
    fn fetch(&self, spec: &RemoteSpec) -> Result<Arc<dyn FileTree>, String> {
        let lock = self.lock.as_ref().map_err(|e| e.clone())?;
        let commit = pinned_commit(lock, spec)?;
        let cache = self.cache.as_ref().ok_or("remote bases cannot be fetched here (no cache directory)")?;
        let tree = fetch_commit(&spec.repo, &commit, cache, &self.credentials)?;
        Ok(Arc::new(TreeView(tree)))
    }
}

fn git_url(repo: &str) -> Result<crate::source::url::SourceUrl, String> {
    crate::source::url::parse(repo, false).map_err(|e| e.to_string())
}

/// The tree of `commit` of `repo`, fetched into `cache`.
pub fn fetch_commit(
    repo: &str,
    commit: &str,
    cache: &std::path::Path,
    credentials: &Credentials,
) -> Result<Arc<dyn Tree>, String> {
    let source = GitSource::open(git_url(repo)?, GitRef::Commit(commit.to_string()), cache)
        .map_err(|e| e.to_string())?
        .with_credentials(credentials.clone());
    source.poll().map_err(|e| e.to_string())?;
    Ok(Arc::new(source.tree(commit).map_err(|e| e.to_string())?))
}

/// Resolves a remote base's tag or branch to the commit it points at now
/// (for `plumb lock`).
pub fn resolve_base(spec: &RemoteSpec, cache: &std::path::Path) -> Result<LockedBase, String> {
    if spec.reference.is_empty() {
        return Err(format!("remote base {}: add ?ref=<tag, branch or sha> so it can be pinned", spec.raw));
    }
    let url = git_url(&spec.repo)?;
    let mut last = String::new();
    for reference in [GitRef::Tag(spec.reference.clone()), GitRef::Branch(spec.reference.clone())] {
        match GitSource::open(url.clone(), reference, cache).and_then(|s| s.poll()) {
            Ok(poll) => {
                return Ok(LockedBase {
                    repo: spec.repo.clone(),
                    reference: spec.reference.clone(),
                    commit: poll.commit().to_string(),
                });
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("remote base {}: {last}", spec.raw))
}

/// The remote bases a kustomization directory names, directly or through
/// its local bases and components (for `plumb lock`).
pub fn remote_bases(tree: &Arc<dyn Tree>, dir: &str) -> Vec<RemoteSpec> {
    let view = TreeView(tree.clone());
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![dir.to_string()];
    while let Some(dir) = pending.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Some(name) = plumb_kustomize::kustomization::FILE_NAMES
            .iter()
            .map(|n| plumb_kustomize::target::join_dir(&dir, n))
            .find(|p| view.kind(p) == Some(EntryKind::File))
        else {
            continue;
        };
        let Ok(k) =
            tree.read_string(&name).map_err(|e| e.to_string()).and_then(|t| plumb_kustomize::kustomization::parse(&t))
        else {
            continue;
        };
        for entry in k.resources.iter().chain(&k.components) {
            let local = plumb_kustomize::target::join(&dir, entry).ok();
            match local.as_deref().and_then(|p| view.kind(p)) {
                Some(EntryKind::Dir) => pending.extend(local),
                Some(EntryKind::File) => {}
                None => out.extend(plumb_kustomize::remote::parse(entry)),
            }
        }
    }
    out
}

/// `helmCharts:` through plumb's chart engine: the chart from
/// `<chartHome>/<name>` beside the kustomization (chartHome defaults to
/// `charts`), or `repo` + `name` + `version` pinned in `plumb.lock`.
struct Inflater {
    tree: Arc<dyn Tree>,
    env: ChartEnv,
}

impl plumb_kustomize::HelmCharts for Inflater {
    fn inflate(&self, _tree: &dyn FileTree, dir: &str, chart: &Value, globals: &Value) -> Result<Vec<Value>, String> {
        let text = |k: &str| chart[k].as_str().unwrap_or("").to_string();
        let name = text("name");
        if name.is_empty() {
            return Err("chart name cannot be empty".into());
        }
        let home = globals["chartHome"].as_str().unwrap_or("charts");
        let chart_dir = plumb_kustomize::target::join(dir, &format!("{home}/{name}"))?;
        let local = TreeView(self.tree.clone()).kind(&chart_dir) == Some(EntryKind::Dir);
        let loaded = if local {
            let sub = Subdir::new(self.tree.clone(), &chart_dir).map_err(|e| e.to_string())?;
            let mut c = Chart::from_tree(&sub, "").map_err(|e| e.to_string())?;
            c.origin = chart_dir.clone();
            c
        } else {
            let (repo, version) = (text("repo"), text("version"));
            let remote = self.env.remote.as_ref().ok_or("remote charts are not available here")?;
            if repo.is_empty() || version.is_empty() {
                return Err(format!("chart {name}: no {chart_dir} directory, and no repo + version to fetch it from"));
            }
            remote.load(self.tree.as_ref(), &repo, &name, &version).map_err(|e| e.to_string())?
        };
        let mut layers = Vec::new();
        let values_file = text("valuesFile");
        if !values_file.is_empty() {
            layers.push(values_at(self.tree.as_ref(), dir, &values_file)?);
        }
        for f in chart["additionalValuesFiles"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            layers.push(values_at(self.tree.as_ref(), dir, f)?);
        }
        let mut user = super::chart::values::layer(&layers);
        if let Some(inline) = chart.get("valuesInline").filter(|v| v.is_object()) {
            match chart["valuesMerge"].as_str().unwrap_or("override") {
                "replace" => user = inline.clone(),
                "merge" => user = super::chart::values::layer(&[inline.clone(), user]),
                _ => user = super::chart::values::layer(&[user, inline.clone()]),
            }
        }
        let release_name = Some(text("releaseName")).filter(|s| !s.is_empty()).unwrap_or_else(|| name.clone());
        let namespace = Some(text("namespace")).filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into());
        let release = Release { name: release_name, namespace, revision: 1, is_install: true };
        let include_crds = chart["includeCRDs"].as_bool().unwrap_or(false);
        let objects = super::helm::render_loaded(loaded, &chart_dir, &user, &release, &self.env, include_crds)?;
        Ok(objects.into_iter().map(|o| o.manifest).collect())
    }
}

fn values_at(tree: &dyn Tree, dir: &str, file: &str) -> Result<Value, String> {
    let path = plumb_kustomize::target::join(dir, file)?;
    super::values_file(tree, &path).map_err(|e| e.to_string())
}
