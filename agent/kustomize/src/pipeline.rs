//! The generators and transformers of one kustomization, configured first
//! and then run in kustomize's order: patchesStrategicMerge, patches,
//! namespace, namePrefix, nameSuffix, labels and commonLabels,
//! commonAnnotations, patchesJson6902, replicas, images, replacements, then
//! `transformers:` entries. `generators:`/`transformers:` entries may be
//! built-in plugin configs (`apiVersion: builtin`); exec and container KRM
//! plugins are refused, since they would run programs plumb does not ship.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::KustomizeError;
use crate::fieldspec::{FieldSpec, merge_all};
use crate::json6902::Operation;
use crate::kustomization::{GeneratorArgs, Image, Kustomization, Replica, Selector, merge_options};
use crate::patches::{Loaded, PatchOptions};
use crate::replacements::Replacement;
use crate::resource::ResMap;
use crate::target::{Acc, Builder, Loc};
use crate::transform::SubjectMode;

/// One configured transformer.
enum Step {
    StrategicMerge(Vec<Value>),
    Patch { loaded: Loaded, target: Option<Selector>, opts: PatchOptions, source: String },
    Json6902 { ops: Vec<Operation>, target: Selector },
    Namespace { ns: String, specs: Vec<FieldSpec>, unset_only: bool, subjects: SubjectMode },
    Affix { affix: String, prefix: bool, specs: Vec<FieldSpec> },
    Pairs { pairs: BTreeMap<String, String>, specs: Vec<FieldSpec> },
    Replicas { replica: Replica, specs: Vec<FieldSpec> },
    Images { image: Image, specs: Vec<FieldSpec> },
    Replacements(Vec<Replacement>),
}

fn err(kfile: &str, field: &str, reason: String) -> KustomizeError {
    KustomizeError::Field { file: kfile.into(), field: field.into(), reason }
}

/// Runs the generators (configMapGenerator, secretGenerator, helmCharts,
/// then `generators:` entries) and absorbs what they make.
pub fn generate(
    b: &mut Builder<'_>,
    loc: &Loc,
    k: &Kustomization,
    kfile: &str,
    acc: &mut Acc,
) -> Result<(), KustomizeError> {
    let mut made = Vec::new();
    for (list, kind, args) in k
        .config_map_generator
        .iter()
        .map(|a| ("configMapGenerator", "ConfigMap", a))
        .chain(k.secret_generator.iter().map(|a| ("secretGenerator", "Secret", a)))
    {
        let field = format!("{list}: {}", args.name);
        let options = merge_options(args.options.clone(), k.generator_options.as_ref());
        made.push((field, generated(b, loc, kfile, kind, args, options.as_ref())?));
    }
    if !k.helm_chart_inflation_generator.is_empty() {
        return Err(err(kfile, "helmChartInflationGenerator", "is not supported by plumb; use helmCharts".into()));
    }
    for (i, chart) in k.helm_charts.iter().enumerate() {
        let field = format!("helmCharts[{i}]");
        let helm = b.env.helm.ok_or_else(|| err(kfile, &field, "Helm charts are not available here".into()))?;
        let globals = k.helm_globals.clone().unwrap_or(Value::Null);
        let objects = helm.inflate(loc.tree.as_ref(), &loc.dir, chart, &globals).map_err(|e| err(kfile, &field, e))?;
        for obj in objects {
            made.push((field.clone(), crate::resource::Resource::new(obj, field.clone())));
        }
    }
    for config in external(b, loc, k, kfile, &k.generators, "generators")? {
        let kind = config["kind"].as_str().unwrap_or("").to_string();
        let field = format!("generators: {kind}");
        let (list_kind, args) = match kind.as_str() {
            "ConfigMapGenerator" => ("ConfigMap", generator_args(&config)),
            "SecretGenerator" => ("Secret", generator_args(&config)),
            _ => return Err(err(kfile, &field, unsupported(&config))),
        };
        let args = args.map_err(|e| err(kfile, &field, e))?;
        let options = args.options.clone();
        let res = generated(b, loc, kfile, list_kind, &args, options.as_ref())?;
        made.push((field, res));
    }
    for (field, res) in made {
        acc.res.absorb(res).map_err(|e| err(kfile, &field, e))?;
    }
    Ok(())
}

fn generated(
    b: &Builder<'_>,
    loc: &Loc,
    kfile: &str,
    kind: &str,
    args: &GeneratorArgs,
    options: Option<&crate::kustomization::GeneratorOptions>,
) -> Result<crate::resource::Resource, KustomizeError> {
    let read = |p: &str| b.read(loc, p);
    let list = if kind == "Secret" { "secretGenerator" } else { "configMapGenerator" };
    crate::generators::generate(kind, args, options, &read, &loc.display("")).map_err(|e| KustomizeError::Field {
        file: kfile.into(),
        field: format!("{list}: {}", args.name),
        reason: e,
    })
}

fn generator_args(config: &Value) -> Result<GeneratorArgs, String> {
    let mut c = config.clone();
    if let Value::Object(m) = &mut c {
        let meta = m.remove("metadata").unwrap_or(Value::Null);
        m.remove("apiVersion");
        m.remove("kind");
        for key in ["name", "namespace"] {
            if !m.contains_key(key)
                && let Some(v) = meta.get(key)
            {
                m.insert(key.into(), v.clone());
            }
        }
    }
    serde_json::from_value(c).map_err(|e| e.to_string())
}

fn unsupported(config: &Value) -> String {
    format!(
        "plugin {}/{} is not supported: plumb runs only kustomize's built-in plugins (apiVersion: builtin); exec and container (KRM function) plugins would run programs plumb does not ship",
        config["apiVersion"].as_str().unwrap_or(""),
        config["kind"].as_str().unwrap_or("")
    )
}

/// The config objects of `generators:`/`transformers:` entries (inline YAML,
/// files or kustomization directories).
fn external(
    b: &mut Builder<'_>,
    loc: &Loc,
    _k: &Kustomization,
    kfile: &str,
    entries: &[String],
    list: &str,
) -> Result<Vec<Value>, KustomizeError> {
    let mut acc = Acc::default();
    for entry in entries {
        match crate::patches::objects_from_text(entry) {
            Ok(objects) if !objects.is_empty() => {
                for obj in objects {
                    acc.res.append(crate::resource::Resource::new(obj, kfile)).map_err(|e| err(kfile, list, e))?;
                }
            }
            _ => b.resource(loc, kfile, entry, &mut acc, list)?,
        }
    }
    Ok(acc.res.list.into_iter().map(|r| r.obj).collect())
}

fn decode<T: DeserializeOwned>(config: &Value, keys: &[&str]) -> Result<T, String> {
    let mut m = serde_json::Map::new();
    for k in keys {
        if let Some(v) = config.get(*k).filter(|v| !v.is_null()) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(m)).map_err(|e| e.to_string())
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), crate::yaml::scalar_text(v).unwrap_or_default())).collect())
        .unwrap_or_default()
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PluginConfig {
    #[serde(default)]
    field_specs: Vec<FieldSpec>,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: String,
    #[serde(default)]
    image_tag: Option<Image>,
    #[serde(default)]
    replica: Option<Replica>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    patch: String,
    #[serde(default)]
    target: Option<Selector>,
    #[serde(default)]
    options: BTreeMap<String, bool>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patches: String,
    #[serde(default)]
    json_op: String,
    #[serde(default)]
    replacements: Vec<crate::kustomization::ReplacementField>,
}

fn plugin_step(b: &Builder<'_>, loc: &Loc, config: &Value) -> Result<Vec<Step>, String> {
    let kind = config["kind"].as_str().unwrap_or("");
    if config["apiVersion"].as_str() != Some("builtin") {
        return Err(unsupported(config));
    }
    let c: PluginConfig = decode(
        config,
        &[
            "fieldSpecs",
            "prefix",
            "suffix",
            "unsetOnly",
            "setRoleBindingSubjects",
            "imageTag",
            "replica",
            "path",
            "patch",
            "target",
            "options",
            "paths",
            "patches",
            "jsonOp",
            "replacements",
        ],
    )?;
    Ok(match kind {
        "LabelTransformer" => vec![Step::Pairs { pairs: strings(&config["labels"]), specs: c.field_specs }],
        "AnnotationsTransformer" => vec![Step::Pairs { pairs: strings(&config["annotations"]), specs: c.field_specs }],
        "NamespaceTransformer" => vec![Step::Namespace {
            ns: config["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
            specs: c.field_specs,
            unset_only: c.unset_only,
            subjects: subject_mode(&c.set_role_binding_subjects)?,
        }],
        "PrefixTransformer" => vec![Step::Affix { affix: c.prefix, prefix: true, specs: c.field_specs }],
        "SuffixTransformer" => vec![Step::Affix { affix: c.suffix, prefix: false, specs: c.field_specs }],
        "ImageTagTransformer" => vec![Step::Images { image: c.image_tag.unwrap_or_default(), specs: c.field_specs }],
        "ReplicaCountTransformer" => {
            vec![Step::Replicas { replica: c.replica.unwrap_or_default(), specs: c.field_specs }]
        }
        "PatchTransformer" => vec![patch_step(b, loc, &c.path, &c.patch, c.target, &c.options)?],
        "PatchStrategicMergeTransformer" => {
            let mut patches = strategic_paths(b, loc, &c.paths)?;
            if !c.patches.is_empty() {
                patches.extend(crate::patches::patches_from_text(&c.patches)?);
            }
            vec![Step::StrategicMerge(patches)]
        }
        "PatchJson6902Transformer" => vec![json6902_step(b, loc, c.target, &c.path, &c.json_op)?],
        "ReplacementTransformer" => {
            vec![Step::Replacements(crate::replacements::load(&c.replacements, &|p| b.read_text(loc, p))?)]
        }
        _ => return Err(unsupported(config)),
    })
}

fn subject_mode(s: &str) -> Result<SubjectMode, String> {
    match s {
        "" | "defaultOnly" => Ok(SubjectMode::DefaultOnly),
        "allServiceAccounts" => Ok(SubjectMode::AllServiceAccounts),
        "none" => Ok(SubjectMode::None),
        other => Err(format!(
            "invalid value {other:?} for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
        )),
    }
}

fn patch_step(
    b: &Builder<'_>,
    loc: &Loc,
    path: &str,
    patch: &str,
    target: Option<Selector>,
    options: &BTreeMap<String, bool>,
) -> Result<Step, String> {
    let patch = patch.trim();
    let (text, source) = match (patch.is_empty(), path.is_empty()) {
        (true, true) => return Err("must specify one of patch and path".into()),
        (false, false) => return Err("patch and path can't be set at the same time".into()),
        (false, true) => (patch.to_string(), format!("[patch: {patch:?}]")),
        (true, false) => (
            b.read_text(loc, path).map_err(|e| format!("failed to get the patch file from path({path}): {e}"))?,
            format!("[path: {path:?}]"),
        ),
    };
    let loaded = crate::patches::load(&text, &source)?;
    let opts = PatchOptions {
        allow_name_change: options.get("allowNameChange").copied().unwrap_or(false),
        allow_kind_change: options.get("allowKindChange").copied().unwrap_or(false),
    };
    Ok(Step::Patch { loaded, target, opts, source })
}

fn strategic_paths(b: &Builder<'_>, loc: &Loc, entries: &[String]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for entry in entries {
        match crate::patches::patches_from_text(entry) {
            Ok(objects) if !objects.is_empty() => out.extend(objects),
            _ => {
                let text = b.read_text(loc, entry)?;
                out.extend(crate::patches::patches_from_text(&text).map_err(|e| format!("{entry}: {e}"))?);
            }
        }
    }
    if out.is_empty() {
        return Err("patch appears to be empty".into());
    }
    Ok(out)
}

fn json6902_step(b: &Builder<'_>, loc: &Loc, target: Option<Selector>, path: &str, op: &str) -> Result<Step, String> {
    let target = target.ok_or("must specify a target for the JSON patch")?;
    if target.name.is_empty() {
        return Err("must specify the target name".into());
    }
    let text = match (path.is_empty(), op.is_empty()) {
        (true, true) => return Err("empty file path and empty jsonOp".into()),
        (false, false) => return Err("must specify a file path or jsonOp, not both".into()),
        (false, true) => b.read_text(loc, path)?,
        (true, false) => op.to_string(),
    };
    let ops = crate::json6902::decode(&text)?;
    if ops.is_empty() {
        return Err(format!("patch appears to be empty; file={path}"));
    }
    Ok(Step::Json6902 { ops, target })
}

fn merged(base: &[FieldSpec], more: &[&[FieldSpec]]) -> Result<Vec<FieldSpec>, String> {
    let mut out = base.to_vec();
    for m in more {
        merge_all(&mut out, m).map_err(|e| format!("failed to merge labels: {e}"))?;
    }
    Ok(out)
}

/// Configures and runs the transformers of a kustomization.
pub fn transform(
    b: &mut Builder<'_>,
    loc: &Loc,
    k: &Kustomization,
    kfile: &str,
    acc: &mut Acc,
) -> Result<(), KustomizeError> {
    let tc = acc.config.clone();
    let mut steps: Vec<(String, Step)> = Vec::new();
    if !k.patches_strategic_merge.is_empty() {
        let patches =
            strategic_paths(b, loc, &k.patches_strategic_merge).map_err(|e| err(kfile, "patchesStrategicMerge", e))?;
        steps.push(("patchesStrategicMerge".into(), Step::StrategicMerge(patches)));
    }
    for (i, p) in k.patches.iter().enumerate() {
        let field = format!("patches[{i}]");
        let step =
            patch_step(b, loc, &p.path, &p.patch, p.target.clone(), &p.options).map_err(|e| err(kfile, &field, e))?;
        steps.push((field, step));
    }
    if !k.namespace.is_empty() {
        steps.push((
            "namespace".into(),
            Step::Namespace {
                ns: k.namespace.clone(),
                specs: tc.name_space.clone(),
                unset_only: false,
                subjects: SubjectMode::DefaultOnly,
            },
        ));
    }
    if !k.name_prefix.is_empty() {
        steps.push((
            "namePrefix".into(),
            Step::Affix { affix: k.name_prefix.clone(), prefix: true, specs: tc.name_prefix.clone() },
        ));
    }
    if !k.name_suffix.is_empty() {
        steps.push((
            "nameSuffix".into(),
            Step::Affix { affix: k.name_suffix.clone(), prefix: false, specs: tc.name_suffix.clone() },
        ));
    }
    for (i, label) in k.labels.iter().enumerate() {
        let field = format!("labels[{i}]");
        let specs = if label.include_selectors {
            merged(&label.fields, &[&tc.labels, &tc.common_labels])
        } else {
            let mut more: Vec<&[FieldSpec]> = vec![&tc.labels];
            if label.include_templates {
                more.push(&tc.template_labels);
            }
            let meta = [FieldSpec::any_kind("metadata/labels", true)];
            more.push(&meta);
            merged(&label.fields, &more)
        }
        .map_err(|e| err(kfile, &field, e))?;
        steps.push((field, Step::Pairs { pairs: label.pairs.clone(), specs }));
    }
    steps
        .push(("commonLabels".into(), Step::Pairs { pairs: k.common_labels.clone(), specs: tc.common_labels.clone() }));
    steps.push((
        "commonAnnotations".into(),
        Step::Pairs { pairs: k.common_annotations.clone(), specs: tc.common_annotations.clone() },
    ));
    for (i, p) in k.patches_json6902.iter().enumerate() {
        let field = format!("patchesJson6902[{i}]");
        let step = json6902_step(b, loc, p.target.clone(), &p.path, &p.patch).map_err(|e| err(kfile, &field, e))?;
        steps.push((field, step));
    }
    for r in &k.replicas {
        steps
            .push((format!("replicas: {}", r.name), Step::Replicas { replica: r.clone(), specs: tc.replicas.clone() }));
    }
    for image in &k.images {
        steps
            .push((format!("images: {}", image.name), Step::Images { image: image.clone(), specs: tc.images.clone() }));
    }
    if !k.replacements.is_empty() {
        let list = crate::replacements::load(&k.replacements, &|p| b.read_text(loc, p))
            .map_err(|e| err(kfile, "replacements", e))?;
        steps.push(("replacements".into(), Step::Replacements(list)));
    }
    for config in external(b, loc, k, kfile, &k.transformers, "transformers")? {
        let field = format!("transformers: {}", config["kind"].as_str().unwrap_or(""));
        for step in plugin_step(b, loc, &config).map_err(|e| err(kfile, &field, e))? {
            steps.push((field.clone(), step));
        }
    }
    let schema = b.schema();
    for (field, step) in steps {
        run(&mut acc.res, step, schema).map_err(|e| err(kfile, &field, e))?;
    }
    Ok(())
}

fn run(m: &mut ResMap, step: Step, schema: &crate::schema::Schema) -> Result<(), String> {
    match step {
        Step::StrategicMerge(patches) => crate::patches::run_strategic_merge(m, &patches, schema),
        Step::Patch { loaded, target, opts, source } => {
            crate::patches::run_patch(m, &loaded, target.as_ref(), opts, &source, schema)
        }
        Step::Json6902 { ops, target } => crate::patches::run_json6902(m, &ops, &target),
        Step::Namespace { ns, specs, unset_only, subjects } => {
            crate::transform::namespace(m, &ns, &specs, unset_only, subjects)
        }
        Step::Affix { affix, prefix, specs } => crate::transform::affix(m, &affix, prefix, &specs),
        Step::Pairs { pairs, specs } => crate::transform::set_pairs(m, &pairs, &specs),
        Step::Replicas { replica, specs } => crate::transform::replicas(m, &replica, &specs),
        Step::Images { image, specs } => crate::transform::images(m, &image, &specs),
        Step::Replacements(list) => crate::replacements::run(m, &list),
    }
}
