//! Transformer configurations: which fields each built-in transformer
//! touches. kustomize v5.5.0's defaults (`schema/fieldspecs.yaml`, generated
//! from its source) merged with a kustomization's `configurations:` files
//! and `crds:`, and with those of the kustomizations it includes.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::fieldspec::{FieldSpec, merge_all};
use crate::resid::Gvk;
use crate::yaml::{Dialect, parse_one};

/// "Objects of this kind are referred to by name from these fields."
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameBackReferences {
    /// Group of the referred-to kind.
    #[serde(default)]
    pub group: String,
    /// Version of the referred-to kind.
    #[serde(default)]
    pub version: String,
    /// The referred-to kind.
    #[serde(default)]
    pub kind: String,
    /// The referring fields.
    #[serde(default, rename = "fieldSpecs")]
    pub referrers: Vec<FieldSpec>,
}

impl NameBackReferences {
    /// The referred-to type.
    pub fn gvk(&self) -> Gvk {
        Gvk { group: self.group.clone(), version: self.version.clone(), kind: self.kind.clone() }
    }
}

/// Field specs per transformer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformerConfig {
    /// namePrefix.
    #[serde(default)]
    pub name_prefix: Vec<FieldSpec>,
    /// nameSuffix.
    #[serde(default)]
    pub name_suffix: Vec<FieldSpec>,
    /// namespace.
    #[serde(default, rename = "namespace")]
    pub name_space: Vec<FieldSpec>,
    /// commonLabels (and labels with includeSelectors).
    #[serde(default)]
    pub common_labels: Vec<FieldSpec>,
    /// labels.
    #[serde(default)]
    pub labels: Vec<FieldSpec>,
    /// Pod template labels (labels with includeTemplates).
    #[serde(default)]
    pub template_labels: Vec<FieldSpec>,
    /// commonAnnotations.
    #[serde(default)]
    pub common_annotations: Vec<FieldSpec>,
    /// Name references.
    #[serde(default)]
    pub name_reference: Vec<NameBackReferences>,
    /// Fields where `$(VAR)` is expanded.
    #[serde(default)]
    pub var_reference: Vec<FieldSpec>,
    /// images.
    #[serde(default)]
    pub images: Vec<FieldSpec>,
    /// replicas.
    #[serde(default)]
    pub replicas: Vec<FieldSpec>,
}

/// kustomize v5.5.0's default configuration.
pub fn defaults() -> &'static TransformerConfig {
    static DEFAULTS: OnceLock<TransformerConfig> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        // Generated and compiled in: every test fails if it does not parse.
        parse(include_str!("../schema/fieldspecs.yaml")).unwrap_or_default()
    })
}

/// Parses a configuration file.
pub fn parse(text: &str) -> Result<TransformerConfig, String> {
    let mut value = parse_one(text, Dialect::Config)?;
    crate::yaml::drop_nulls(&mut value);
    if value.is_null() {
        return Ok(TransformerConfig::default());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

impl TransformerConfig {
    /// Merges `other` into this one and sorts every list by kind, as
    /// kustomize does after a merge.
    pub fn merge(&mut self, other: &TransformerConfig) -> Result<(), String> {
        let lists: [(&mut Vec<FieldSpec>, &Vec<FieldSpec>, &str); 10] = [
            (&mut self.name_prefix, &other.name_prefix, "NamePrefix"),
            (&mut self.name_suffix, &other.name_suffix, "NameSuffix"),
            (&mut self.name_space, &other.name_space, "NameSpace"),
            (&mut self.common_annotations, &other.common_annotations, "CommonAnnotations"),
            (&mut self.common_labels, &other.common_labels, "CommonLabels"),
            (&mut self.labels, &other.labels, "Labels"),
            (&mut self.template_labels, &other.template_labels, "TemplateLabels"),
            (&mut self.var_reference, &other.var_reference, "VarReference"),
            (&mut self.images, &other.images, "Images"),
            (&mut self.replicas, &other.replicas, "Replicas"),
        ];
        for (into, incoming, name) in lists {
            merge_all(into, incoming).map_err(|e| format!("failed to merge {name} fieldSpec: {e}"))?;
            into.sort_by_key(|s| s.gvk().sort_key());
        }
        for incoming in &other.name_reference {
            match self.name_reference.iter_mut().find(|r| r.gvk() == incoming.gvk()) {
                Some(existing) => merge_all(&mut existing.referrers, &incoming.referrers)
                    .map_err(|e| format!("failed to merge NameReference fieldSpec: {e}"))?,
                None => self.name_reference.push(incoming.clone()),
            }
        }
        self.name_reference.sort_by_key(|r| r.gvk().sort_key());
        Ok(())
    }
}

/// The configuration `crds:` files give: OpenAPI definitions whose
/// properties carry `x-kubernetes-annotation`, `x-kubernetes-label-selector`,
/// `x-kubernetes-identity` or `x-kubernetes-object-ref-*` extensions.
pub fn from_crd_definitions(doc: &Value) -> Result<TransformerConfig, String> {
    let defs = doc.as_object().ok_or("expected a mapping of type names to OpenAPI definitions")?;
    let mut result = TransformerConfig::default();
    for (name, def) in defs {
        let props = &def["Schema"]["properties"];
        if !(props.get("kind").is_some() && props.get("apiVersion").is_some() && props.get("metadata").is_some()) {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_string();
        let mut tc = TransformerConfig::default();
        crd_into(&mut tc, &kind, defs, name, &mut Vec::new(), 0)?;
        result.merge(&tc)?;
    }
    Ok(result)
}

fn crd_into(
    tc: &mut TransformerConfig,
    kind: &str,
    defs: &serde_json::Map<String, Value>,
    type_name: &str,
    path: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    let Some(props) = defs.get(type_name).and_then(|d| d["Schema"]["properties"].as_object()) else { return Ok(()) };
    if depth > 32 {
        return Ok(());
    }
    for (prop, schema) in props {
        let spec = |extra: &[&str]| {
            let mut p = path.clone();
            p.push(prop.clone());
            p.extend(extra.iter().map(|s| s.to_string()));
            FieldSpec { kind: kind.to_string(), path: p.join("/"), ..FieldSpec::default() }
        };
        let ext = |k: &str| schema.get(k).and_then(Value::as_str);
        if ext("x-kubernetes-annotation").is_some() {
            merge_all(&mut tc.common_annotations, &[spec(&[])])?;
        }
        if ext("x-kubernetes-label-selector").is_some() {
            merge_all(&mut tc.common_labels, &[spec(&[])])?;
        }
        if ext("x-kubernetes-identity").is_some() {
            merge_all(&mut tc.name_prefix, &[spec(&[])])?;
        }
        if let (Some(version), Some(ref_kind)) =
            (ext("x-kubernetes-object-ref-api-version"), ext("x-kubernetes-object-ref-kind"))
        {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let backref = NameBackReferences {
                kind: ref_kind.to_string(),
                version: version.to_string(),
                referrers: vec![spec(&[key])],
                ..NameBackReferences::default()
            };
            tc.merge(&TransformerConfig { name_reference: vec![backref], ..TransformerConfig::default() })?;
        }
        if let Some(r) = ext("$ref") {
            path.push(prop.clone());
            crd_into(tc, kind, defs, r, path, depth + 1)?;
            path.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load() {
        parse(include_str!("../schema/fieldspecs.yaml")).expect("the generated defaults parse");
        let d = defaults();
        assert!(d.name_prefix.iter().any(|s| s.path == "metadata/name"));
        assert!(d.common_labels.iter().any(|s| s.kind == "Deployment" && s.path == "spec/selector/matchLabels"));
        assert!(d.name_reference.iter().any(|r| r.kind == "ConfigMap" && r.referrers.len() > 10));
        assert!(!d.var_reference.is_empty() && !d.images.is_empty() && !d.replicas.is_empty());
    }
}
