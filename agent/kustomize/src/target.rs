//! Loading kustomizations and accumulating what they produce (kustomize's
//! `KustTarget`): resources (files, directories, remote bases), the
//! transformer configuration, generators, components, transformers and
//! vars, in kustomize's order; then, once for the whole build, name hashes,
//! name references, vars, local-config removal and sorting.
//!
//! Paths are repository paths. A file a kustomization reads must be in or
//! below its directory (kustomize's default load restrictor); nothing may
//! leave the tree; a directory that contains one already being built is a
//! cycle.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{self, TransformerConfig};
use crate::kustomization::{self, FILE_NAMES, Kustomization, Var};
use crate::resource::{ResMap, Resource};
use crate::schema::{Schema, builtin_schema};
use crate::{EntryKind, Env, FileTree, KustomizeError, Output};

/// A kustomization's directory in a tree.
#[derive(Clone)]
pub struct Loc {
    /// The tree (the repository, or a fetched remote base).
    pub tree: Arc<dyn FileTree>,
    /// The directory, a clean tree path (`""` is the root).
    pub dir: String,
    /// The remote repository the tree came from, if any.
    pub repo: Option<String>,
}

impl Loc {
    /// A file of this directory for messages: repository-relative, or `repo//path`.
    pub fn display(&self, file: &str) -> String {
        self.show(&join_dir(&self.dir, file))
    }

    /// A tree path for messages.
    pub fn show(&self, path: &str) -> String {
        match &self.repo {
            Some(r) => format!("{r}//{path}"),
            None => path.to_string(),
        }
    }
}

/// What a kustomization and everything it includes has produced so far.
#[derive(Debug, Clone, Default)]
pub struct Acc {
    /// The resources.
    pub res: ResMap,
    /// The merged transformer configuration.
    pub config: TransformerConfig,
    /// Vars by name.
    pub vars: BTreeMap<String, Var>,
}

impl Acc {
    fn merge(&mut self, other: Acc) -> Result<(), String> {
        self.res.append_all(other.res)?;
        self.config.merge(&other.config)?;
        for (name, v) in other.vars {
            if self.vars.contains_key(&name) {
                return Err(format!("var '{name}' already encountered"));
            }
            self.vars.insert(name, v);
        }
        Ok(())
    }
}

/// The state of one build.
pub struct Builder<'e> {
    /// Remote bases and Helm.
    pub env: &'e Env<'e>,
    schema: Option<Arc<Schema>>,
    schema_set: bool,
    warnings: Vec<String>,
    roots: Vec<(String, String)>,
}

/// Joins a directory and a clean relative path.
pub fn join_dir(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

/// Resolves `rel` against `dir`; `..` may climb, but not out of the tree.
pub fn join(dir: &str, rel: &str) -> Result<String, String> {
    if rel.starts_with('/') {
        return Err(format!("{rel:?} is an absolute path; paths in a kustomization are relative to it"));
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{rel:?} leaves the repository; plumb reads nothing outside it"));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

fn within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

/// Builds `dir` of `tree`.
pub fn build(tree: Arc<dyn FileTree>, dir: &str, env: &Env<'_>) -> Result<Output, KustomizeError> {
    let dir =
        join("", dir).map_err(|reason| KustomizeError::Field { file: dir.into(), field: "path".into(), reason })?;
    let loc = Loc { tree, dir, repo: None };
    let mut b = Builder { env, schema: None, schema_set: false, warnings: Vec::new(), roots: Vec::new() };
    let (k, kfile) = b.load(&loc)?;
    let err = |field: &str, reason: String| KustomizeError::Field { file: kfile.clone(), field: field.into(), reason };
    b.set_schema(&loc, &k, &kfile, true)?;
    if let Some(option) = k.build_metadata.iter().find(|o| o.as_str() != "managedByLabel") {
        return Err(err("buildMetadata", format!("{option:?} is not supported by plumb; remove it")));
    }
    let mut acc = Acc::default();
    b.roots.push((loc.tree.name(), loc.dir.clone()));
    b.accumulate(&loc, &k, &kfile, &mut acc)?;
    crate::transform::hash_names(&mut acc.res).map_err(|e| err("configMapGenerator", e))?;
    crate::nameref::fix(&mut acc.res, &acc.config.name_reference).map_err(|e| err("nameReference", e))?;
    crate::vars::resolve(&mut acc.res, &acc.vars, &acc.config.var_reference).map_err(|e| err("vars", e))?;
    acc.res.list.retain(|r| {
        r.obj["metadata"]["annotations"]["config.kubernetes.io/local-config"].as_str().is_none_or(|v| v == "false")
    });
    crate::sort::sort(&mut acc.res.list, k.sort_options.as_ref()).map_err(|e| err("sortOptions", e))?;
    let mut objects = Vec::with_capacity(acc.res.list.len());
    for mut r in acc.res.list {
        if k.build_metadata.iter().any(|o| o == "managedByLabel") {
            let mut labels = r.string_map("labels");
            labels.insert("app.kubernetes.io/managed-by".into(), Value::String("kustomize-v5.5.0".into()));
            r.set_string_map("labels", labels);
        }
        finish_annotations(&mut r);
        objects.push(r.obj);
    }
    Ok(Output { objects, warnings: b.warnings })
}

/// kustomize rewrites every object's annotations at the end (dropping its
/// build annotations): values become strings and an empty map goes away.
fn finish_annotations(r: &mut Resource) {
    if r.obj["metadata"].get("annotations").is_some() {
        let map = r.string_map("annotations");
        r.set_string_map("annotations", map);
    }
}

impl Builder<'_> {
    /// The schema strategic merge uses.
    pub fn schema(&self) -> &Schema {
        self.schema.as_deref().unwrap_or(builtin_schema())
    }

    /// Reads and decodes the kustomization file of a directory.
    pub fn load(&mut self, loc: &Loc) -> Result<(Kustomization, String), KustomizeError> {
        let found: Vec<&str> = FILE_NAMES
            .iter()
            .copied()
            .filter(|n| loc.tree.kind(&join_dir(&loc.dir, n)) == Some(EntryKind::File))
            .collect();
        let name = match found.as_slice() {
            [one] => *one,
            [] => return Err(KustomizeError::Missing { dir: loc.display("") }),
            _ => {
                return Err(KustomizeError::Field {
                    file: loc.display(found[0]),
                    field: "kustomization".into(),
                    reason: format!("found multiple kustomization files under {}: keep one", loc.display("")),
                });
            }
        };
        let file = loc.display(name);
        let bytes = loc.tree.read(&join_dir(&loc.dir, name)).map_err(|reason| KustomizeError::Field {
            file: file.clone(),
            field: "kustomization".into(),
            reason,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| KustomizeError::Field {
            file: file.clone(),
            field: "kustomization".into(),
            reason: "is not UTF-8 text".into(),
        })?;
        let k = kustomization::parse(&text).map_err(|reason| KustomizeError::Field {
            file: file.clone(),
            field: "kustomization".into(),
            reason,
        })?;
        for w in kustomization::warnings(&text) {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        Ok((k, file))
    }

    /// A file of a kustomization, within its directory.
    pub fn read(&self, loc: &Loc, rel: &str) -> Result<Vec<u8>, String> {
        let path = join(&loc.dir, rel)?;
        if !within(&path, &loc.dir) {
            return Err(format!(
                "security; file '{}' is not in or below '{}' (kustomize's load restrictor)",
                loc.show(&path),
                loc.display("")
            ));
        }
        match loc.tree.kind(&path) {
            Some(EntryKind::File) => loc.tree.read(&path),
            Some(EntryKind::Dir) => Err(format!("{} is a directory, not a file", loc.show(&path))),
            None => Err(format!("{}: no such file", loc.show(&path))),
        }
    }

    /// A UTF-8 file of a kustomization.
    pub fn read_text(&self, loc: &Loc, rel: &str) -> Result<String, String> {
        String::from_utf8(self.read(loc, rel)?).map_err(|_| format!("{rel} is not UTF-8 text"))
    }

    fn set_schema(&mut self, loc: &Loc, k: &Kustomization, kfile: &str, reset: bool) -> Result<(), KustomizeError> {
        if self.schema_set && !reset {
            return Ok(());
        }
        let err = |reason: String| KustomizeError::Field { file: kfile.into(), field: "openapi".into(), reason };
        if let Some(path) = k.openapi.get("path") {
            if k.openapi.contains_key("version") {
                return Err(err("builtin version and custom schema provided, cannot use both".into()));
            }
            let text = self.read_text(loc, path).map_err(err)?;
            let doc = crate::yaml::parse_one(&text, crate::yaml::Dialect::Resource)
                .map_err(|e| err(format!("{path}: {e}")))?;
            self.schema = Some(Arc::new(Schema::from_document(&doc).map_err(|e| err(format!("{path}: {e}")))?));
            self.schema_set = true;
        } else if let Some(version) = k.openapi.get("version") {
            if version != "v1.21.2" {
                return Err(err(format!("the specified OpenAPI version {version:?} is not built in (v1.21.2 is)")));
            }
            self.schema = None;
            self.schema_set = true;
        }
        Ok(())
    }

    /// kustomize's `accumulateTarget`.
    pub fn accumulate(
        &mut self,
        loc: &Loc,
        k: &Kustomization,
        kfile: &str,
        acc: &mut Acc,
    ) -> Result<(), KustomizeError> {
        let field =
            |field: &str, reason: String| KustomizeError::Field { file: kfile.into(), field: field.into(), reason };
        for entry in &k.resources {
            self.resource(loc, kfile, entry, acc, "resources")?;
        }
        let mut cfg = config::defaults().clone();
        if !k.configurations.is_empty() {
            let mut extra = TransformerConfig::default();
            for path in &k.configurations {
                let text = self.read_text(loc, path).map_err(|e| field(&format!("configurations: {path}"), e))?;
                let c = config::parse(&text).map_err(|e| field(&format!("configurations: {path}"), e))?;
                extra.merge(&c).map_err(|e| field(&format!("configurations: {path}"), e))?;
            }
            cfg.merge(&extra).map_err(|e| field("configurations", e))?;
        }
        acc.config.merge(&cfg).map_err(|e| field("configurations", e))?;
        for path in &k.crds {
            let f = format!("crds: {path}");
            let text = self.read_text(loc, path).map_err(|e| field(&f, e))?;
            let doc = crate::yaml::parse_one(&text, crate::yaml::Dialect::Config).map_err(|e| field(&f, e))?;
            let c = config::from_crd_definitions(&doc).map_err(|e| field(&f, e))?;
            acc.config.merge(&c).map_err(|e| field(&f, e))?;
        }
        crate::pipeline::generate(self, loc, k, kfile, acc)?;
        for entry in &k.components {
            let f = format!("components: {entry}");
            let path = join(&loc.dir, entry).map_err(|e| field(&f, e))?;
            let sub = Loc { tree: loc.tree.clone(), dir: path, repo: loc.repo.clone() };
            self.directory(sub, true, acc).map_err(|e| nest(kfile, &f, e))?;
        }
        crate::pipeline::transform(self, loc, k, kfile, acc)?;
        if !k.validators.is_empty() {
            return Err(field(
                "validators",
                "validator plugins are not supported by plumb (they run external programs)".into(),
            ));
        }
        crate::vars::merge(&mut acc.res, &mut acc.vars, &k.vars).map_err(|e| field("vars", e))
    }

    /// One `resources:` entry: a file, a directory or a remote base.
    pub fn resource(
        &mut self,
        loc: &Loc,
        kfile: &str,
        entry: &str,
        acc: &mut Acc,
        list: &str,
    ) -> Result<(), KustomizeError> {
        let f = format!("{list}: {entry}");
        let field = |reason: String| KustomizeError::Field { file: kfile.into(), field: f.clone(), reason };
        let local = join(&loc.dir, entry);
        let kind = local.as_ref().ok().and_then(|p| loc.tree.kind(p));
        match (kind, crate::remote::parse(entry)) {
            (Some(EntryKind::File), _) => {
                let text = self.read_text(loc, entry).map_err(field)?;
                let objects = crate::patches::objects_from_text(&text)
                    .map_err(|e| field(format!("{}: {e}", loc.show(local.as_deref().unwrap_or(entry)))))?;
                for obj in objects {
                    acc.res.append(Resource::new(obj, loc.display(entry))).map_err(field)?;
                }
                Ok(())
            }
            (Some(EntryKind::Dir), _) => {
                let sub = Loc { tree: loc.tree.clone(), dir: local.map_err(field)?, repo: loc.repo.clone() };
                let mut sub_acc = Acc::default();
                self.directory(sub, false, &mut sub_acc).map_err(|e| nest(kfile, &f, e))?;
                acc.merge(sub_acc).map_err(field)
            }
            (None, Some(spec)) => {
                let remote = self.env.remote.ok_or_else(|| field("remote bases are not available here".into()))?;
                if self.roots.len() > 64 {
                    return Err(field("remote bases nest too deeply (a cycle?)".into()));
                }
                let tree = remote.fetch(&spec).map_err(field)?;
                let dir = join("", &spec.path).map_err(field)?;
                let sub = Loc { tree, dir, repo: Some(spec.repo.clone()) };
                let mut sub_acc = Acc::default();
                self.directory(sub, false, &mut sub_acc).map_err(|e| nest(kfile, &f, e))?;
                acc.merge(sub_acc).map_err(field)
            }
            (None, None) => Err(field(match local {
                Err(e) => e,
                Ok(p) => format!("{}: no such file or directory", loc.show(&p)),
            })),
        }
    }

    /// Builds an included kustomization directory into `acc` (a component
    /// works on the including kustomization's accumulator itself).
    fn directory(&mut self, sub: Loc, component: bool, acc: &mut Acc) -> Result<(), KustomizeError> {
        let tree_name = sub.tree.name();
        for (name, root) in &self.roots {
            if *name == tree_name && within(root, &sub.dir) {
                return Err(KustomizeError::Field {
                    file: sub.display(""),
                    field: "resources".into(),
                    reason: format!(
                        "cycle detected: candidate root '{}' contains visited root '{}'",
                        sub.display(""),
                        Loc { dir: root.clone(), ..sub.clone() }.display("")
                    ),
                });
            }
        }
        let (k, kfile) = self.load(&sub)?;
        self.set_schema(&sub, &k, &kfile, false)?;
        let wrong_kind = |reason: String| KustomizeError::Field { file: kfile.clone(), field: "kind".into(), reason };
        if component && k.kind != "Component" {
            return Err(wrong_kind(format!(
                "expected kind 'Component' for path '{}' but got '{}'",
                sub.display(""),
                k.kind
            )));
        }
        if !component && k.kind == "Component" {
            return Err(wrong_kind(format!(
                "expected kind != 'Component' for path '{}'; list components under `components:`",
                sub.display("")
            )));
        }
        self.roots.push((tree_name, sub.dir.clone()));
        let result = self.accumulate(&sub, &k, &kfile, acc);
        self.roots.pop();
        result
    }
}

/// Wraps an error from an included kustomization.
pub fn nest(file: &str, field: &str, e: KustomizeError) -> KustomizeError {
    KustomizeError::Nested { file: file.into(), field: field.into(), source: Box::new(e) }
}
