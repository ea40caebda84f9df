//! `configMapGenerator` and `secretGenerator`: key/value pairs from env
//! files, literals and files (in that order), into a ConfigMap or Secret
//! with the generator options' labels, annotations and `immutable`, marked
//! for the name hash unless `disableNameSuffixHash`.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::kustomization::{GeneratorArgs, GeneratorOptions};
use crate::resource::{Behavior, Resource};

/// Reads a file relative to the kustomization (load restrictor applied).
pub type ReadFile<'a> = dyn Fn(&str) -> Result<Vec<u8>, String> + 'a;

/// Builds one generated object.
pub fn generate(
    kind: &str,
    args: &GeneratorArgs,
    options: Option<&GeneratorOptions>,
    read: &ReadFile<'_>,
    origin: &str,
) -> Result<Resource, String> {
    if args.name.is_empty() {
        return Err("a configmap must have a name".into());
    }
    let behavior = match args.behavior.as_str() {
        "" | "create" => Behavior::Create,
        "replace" => Behavior::Replace,
        "merge" => Behavior::Merge,
        other => return Err(format!("behavior must be one of create, replace, merge; got {other:?}")),
    };
    let pairs = pairs(args, read)?;
    let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": args.name}});
    if !args.namespace.is_empty() {
        obj["metadata"]["namespace"] = Value::String(args.namespace.clone());
    }
    if kind == "Secret" {
        let t = if args.kind_type.is_empty() { "Opaque" } else { &args.kind_type };
        obj["type"] = Value::String(t.into());
    }
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        match (kind, String::from_utf8(v)) {
            ("Secret", Ok(text)) => {
                data.insert(k, Value::String(secret_base64(text.as_bytes())));
            }
            ("Secret", Err(e)) => {
                data.insert(k, Value::String(secret_base64(&e.into_bytes())));
            }
            (_, Ok(text)) => {
                data.insert(k, Value::String(text));
            }
            (_, Err(e)) => {
                binary.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())));
            }
        }
    }
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    if !binary.is_empty() {
        obj["binaryData"] = Value::Object(binary);
    }
    if let Some(o) = options {
        for (field, map) in [("labels", &o.labels), ("annotations", &o.annotations)] {
            if !map.is_empty() {
                let m: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                obj["metadata"][field] = Value::Object(m);
            }
        }
        if o.immutable {
            obj["immutable"] = Value::Bool(true);
        }
    }
    let mut res = Resource::new(obj, origin);
    res.meta.needs_hash = !options.is_some_and(|o| o.disable_name_suffix_hash);
    res.meta.behavior = behavior;
    Ok(res)
}

/// kyaml's `encodeBase64`: lines of 70 characters, each ending in a
/// newline, once the encoding reaches 70 characters.
fn secret_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < 70 {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 70 + 1);
    for chunk in encoded.as_bytes().chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

fn pairs(args: &GeneratorArgs, read: &ReadFile<'_>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &args.envs {
        let content = read(path).map_err(|e| format!("env source files: [{path}]: {e}"))?;
        out.extend(env_pairs(&content).map_err(|e| format!("env source file {path}: {e}"))?);
    }
    for literal in &args.literals {
        let (k, v) = literal
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| format!("invalid literal source {literal}, expected key=value"))?;
        out.push((k.to_string(), remove_quotes(v).as_bytes().to_vec()));
    }
    for source in &args.files {
        let (key, path) = file_source(source)?;
        let content = read(&path).map_err(|e| format!("file sources: [{source}]: {e}"))?;
        out.push((key, content));
    }
    let mut seen = std::collections::HashSet::new();
    // kubectl's kustomize validates neither keys nor env names.
    for (k, _) in &out {
        if !seen.insert(k.clone()) {
            return Err(format!("configmap {} illegally repeats the key `{k}`", args.name));
        }
    }
    Ok(out)
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') { &s[1..s.len() - 1] } else { s }
}

/// `key=path` or `path` (the key is the file's base name).
fn file_source(source: &str) -> Result<(String, String), String> {
    match source.matches('=').count() {
        0 => Ok((source.rsplit('/').next().unwrap_or(source).to_string(), source.to_string())),
        1 if source.starts_with('=') => {
            Err(format!("missing key name for file path {:?} in source {source:?}", source.trim_start_matches('=')))
        }
        1 if source.ends_with('=') => {
            Err(format!("missing file path for key name {:?} in source {source:?}", source.trim_end_matches('=')))
        }
        1 => {
            let (k, p) = source.split_once('=').unwrap_or_default();
            Ok((k.to_string(), p.to_string()))
        }
        _ => Err(format!("source {source:?} key name or file path contains '='")),
    }
}

/// Env file lines: leading whitespace dropped, `#` comments and blank lines
/// skipped, split at the first `=`, everything else kept as written.
fn env_pairs(content: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let content = content.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(content);
    for (n, raw) in content.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(raw).map_err(|_| format!("line {} has invalid utf8 bytes", n + 1))?;
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if key.is_empty() {
            continue;
        }
        out.push((key.to_string(), value.as_bytes().to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_literals_and_files() {
        let pairs = env_pairs(b"# c\n  A=1\nB= x \nC=\"q\"\n\nD\n").expect("valid");
        let want: Vec<(String, Vec<u8>)> = vec![
            ("A".into(), b"1".to_vec()),
            ("B".into(), b" x ".to_vec()),
            ("C".into(), b"\"q\"".to_vec()),
            ("D".into(), b"".to_vec()),
        ];
        assert_eq!(pairs, want);
        assert_eq!(env_pairs(b"export A=1\n").expect("kept")[0].0, "export A");
        assert_eq!(file_source("k=dir/f.txt").expect("ok"), ("k".into(), "dir/f.txt".into()));
        assert_eq!(file_source("dir/f.txt").expect("ok"), ("f.txt".into(), "dir/f.txt".into()));
        assert!(file_source("=x").is_err() && file_source("a=b=c").is_err());
        assert_eq!(remove_quotes("'a'"), "a");
    }
}
