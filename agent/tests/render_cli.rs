//! `plumb render` and `plumb lock` from the command line, without a cluster:
//! the sample repo renders (chart and plain apps, in apply order), a past
//! commit renders with `--ref`, Secrets are redacted when asked, chart
//! errors name file and line, `--kube-version` reaches `.Capabilities`,
//! large files render while YAML bombs and commits over the byte budget
//! (`--max-commit-bytes`) are refused by name, and `plumb lock` pins a chart
//! from a Helm repository by digest.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use plumb_testenv::git::GitRepo;
use plumb_testenv::helm_repo::HelmRepo;

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

fn plumb(args: &[&str], home: &Path) -> Output {
    Command::new(PLUMB).args(args).env("XDG_CACHE_HOME", home).output().expect("run plumb")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "plumb failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_sample_repo_renders_every_app_in_apply_order() {
    let home = tempfile::tempdir().expect("tempdir");
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests");
    let text = stdout(&plumb(&["render", &manifests.display().to_string()], home.path()));
    for header in
        ["# app: base,", "# app: web,", "# app: cache, source: cache/templates/deployment.yaml", "# app: audit,"]
    {
        assert!(text.contains(header), "missing {header} in:\n{text}");
    }
    assert!(
        !text.contains("NOTES") && !text.contains("cache-cache-ping"),
        "NOTES and chart tests are not rendered:\n{text}"
    );
    // The Namespace comes before everything in it.
    let namespace = text.find("kind: Namespace").expect("namespace rendered");
    let deployment = text.find("kind: Deployment").expect("deployment rendered");
    assert!(namespace < deployment);
    assert!(text.contains("plumb.dev/app: cache"), "objects carry the app label");
}

#[test]
fn large_files_render_and_bombs_and_oversized_commits_are_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::write(root.join("plumb.yaml"), "apps:\n  - {name: app, namespace: ns, path: app}\n").expect("write");
    // 20,000 ConfigMaps in one 3 MB file: over the parser's default node
    // count (250,000), which refused it before.
    let large: String = (0..20_000)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  labels: {{app: web}}\ndata:\n  key: value-{i}\n  other: \"a longer value for a config map\"\n"))
        .collect();
    std::fs::write(root.join("app/generated.yaml"), &large).expect("write");
    let path = root.display().to_string();
    let text = stdout(&plumb(&["render", &path], home.path()));
    assert_eq!(text.matches("kind: ConfigMap").count(), 20_000);

    // The same commit under a smaller byte budget is refused, naming the file, the limit and the flag.
    let output = plumb(&["render", &path, "--max-commit-bytes", "1Mi"], home.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("app/generated.yaml: reading its")
            && stderr.contains("over the 1048576-byte budget per commit")
            && stderr.contains("raise it with --max-commit-bytes (PLUMB_MAX_COMMIT_BYTES)"),
        "{stderr}"
    );

    // A billion-laughs bomb beside it is refused, naming the file.
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='i' {
        bomb.push_str(&format!(
            "  {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    std::fs::write(root.join("app/laughs.yaml"), bomb).expect("write");
    let output = plumb(&["render", &path], home.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("app/laughs.yaml: line ") && stderr.contains("refused as a YAML bomb"), "{stderr}");
}

#[test]
fn past_commits_secrets_errors_and_capabilities() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = GitRepo::init(&dir.path().join("config")).expect("repo");
    repo.write(
        "plumb.yaml",
        "apps:\n  - {name: app, namespace: ns, path: app}\n  - {name: chart, namespace: ns, chart: {path: chart}}\n",
    )
    .expect("write");
    repo.write(
        "app/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: planted-render-secret}\n",
    )
    .expect("write");
    repo.write("chart/Chart.yaml", "apiVersion: v2\nname: chart\nversion: 0.1.0\n").expect("write");
    repo.write(
        "chart/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caps}\ndata:\n  policy: {{ ternary \"v1\" \"v1beta1\" (semverCompare \">=1.21-0\" .Capabilities.KubeVersion.Version) | quote }}\n  version: {{ .Capabilities.KubeVersion.Version | quote }}\n",
    )
    .expect("write");
    let first = repo.commit("first").expect("commit");
    let path = repo.path().display().to_string();

    let output = plumb(&["render", &path], home.path());
    let text = stdout(&output);
    // Printed as rendered (stringData stays stringData: apply-time fixes are not shown).
    assert!(text.contains("stringData:\n  token: planted-render-secret"), "{text}");
    assert!(text.contains("policy: v1\n"), "Helm's default Kubernetes version is recent:\n{text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("app: render digest sha256:") && stderr.contains("chart: render digest sha256:"),
        "{stderr}"
    );
    let redacted = stdout(&plumb(&["render", &path, "--redact-secrets", "--app", "app"], home.path()));
    assert!(!redacted.contains("planted-render-secret") && redacted.contains("<redacted>"), "{redacted}");
    assert!(!redacted.contains("kind: ConfigMap"), "--app renders one app:\n{redacted}");
    let old = stdout(&plumb(&["render", &path, "--kube-version", "1.20", "--app", "chart"], home.path()));
    assert!(old.contains("policy: v1beta1") && old.contains("version: v1.20.0"), "{old}");

    repo.write(
        "chart/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caps}\ndata:\n  broken: {{ .Values.missing.field }}\n",
    )
    .expect("write");
    repo.commit("break the chart").expect("commit");
    let broken = plumb(&["render", &path], home.path());
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(message.contains("chart/templates/cm.yaml:5:") && message.contains("app \"chart\""), "{message}");
    // The working tree is broken, the first commit is not.
    let past = stdout(&plumb(&["render", &path, "--ref", &first, "--app", "chart"], home.path()));
    assert!(past.contains("name: caps"), "{past}");

    // A Git URL renders the named branch (or a tag, or a full sha) of the remote.
    let url = format!("file://{path}");
    let remote = stdout(&plumb(&["render", &url, "--ref", "main", "--app", "app"], home.path()));
    assert!(remote.contains("name: creds"), "{remote}");
    let pinned = stdout(&plumb(&["render", &url, "--ref", &first, "--app", "chart"], home.path()));
    assert!(pinned.contains("name: caps"), "{pinned}");

    let unknown = plumb(&["render", &path, "--app", "nope"], home.path());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("has no app \"nope\" (apps: app, chart)"));
}

#[test]
fn lock_pins_remote_charts_and_render_uses_them() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut chart = BTreeMap::new();
    chart.insert("Chart.yaml".to_string(), b"apiVersion: v2\nname: hello\nversion: 1.2.3\n".to_vec());
    chart.insert(
        "templates/cm.yaml".to_string(),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\ndata: {from: repo}\n".to_vec(),
    );
    let archive = plumb::render::chart::archive::pack("hello", &chart);
    let index = "apiVersion: v1\nentries:\n  hello:\n    - {name: hello, version: 1.2.3, urls: [hello-1.2.3.tgz]}\n";
    let helm_repo = HelmRepo::start(BTreeMap::from([
        ("index.yaml".to_string(), index.as_bytes().to_vec()),
        ("hello-1.2.3.tgz".to_string(), archive.clone()),
    ]))
    .expect("helm repo");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("plumb.yaml"),
        format!(
            "apps:\n  - name: hello\n    namespace: ns\n    chart: {{repo: \"{}\", name: hello, version: 1.2.3}}\n",
            helm_repo.url()
        ),
    )
    .expect("write");
    let path = dir.path().display().to_string();

    let unlocked = plumb(&["render", &path], home.path());
    assert!(!unlocked.status.success());
    assert!(String::from_utf8_lossy(&unlocked.stderr).contains("plumb.lock is missing; run `plumb lock`"));

    let out = stdout(&plumb(&["lock", &path], home.path()));
    assert!(out.contains("wrote"), "{out}");
    let lock = std::fs::read_to_string(dir.path().join("plumb.lock")).expect("lock written");
    assert!(lock.contains(&plumb::render::remote::sha256(&archive)) && lock.contains("hello-1.2.3.tgz"), "{lock}");
    let text = stdout(&plumb(&["render", &path], home.path()));
    assert!(text.contains("from: repo"), "{text}");
}

/// Each kind of bad input fails `plumb render` with an error naming the
/// file (and line where there is one), and nothing is printed.
#[test]
fn bad_input_names_the_file_and_renders_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let chart_yaml = "apiVersion: v2\nname: c\nversion: 0.1.0\n";
    let mut bomb = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut prev = 'a';
    for c in 'b'..='j' {
        bomb.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    let evil_archive = {
        let mut files = BTreeMap::new();
        files.insert("Chart.yaml".to_string(), chart_yaml.as_bytes().to_vec());
        files.insert("../escape.yaml".to_string(), b"kind: x".to_vec());
        plumb::render::chart::archive::pack("c", &files)
    };
    let chart_app = "apps:\n  - {name: c, namespace: ns, chart: {path: chart}, values: [values.yaml]}\n";
    // (what, files of the repo, what the error must say)
    type Case<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "broken YAML",
            vec![
                ("plumb.yaml", b"apps:\n  - {name: p, namespace: ns, path: app}\n".to_vec()),
                ("app/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n".to_vec()),
            ],
            vec!["app/cm.yaml: line 3"],
        ),
        (
            "template syntax error",
            vec![
                ("plumb.yaml", chart_app.as_bytes().to_vec()),
                ("values.yaml", b"{}\n".to_vec()),
                ("chart/Chart.yaml", chart_yaml.as_bytes().to_vec()),
                (
                    "chart/templates/cm.yaml",
                    b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ if .Values.x }}\n".to_vec(),
                ),
            ],
            vec!["parse error at (c/templates/cm.yaml:5): unexpected EOF"],
        ),
        (
            "missing required value",
            vec![
                ("plumb.yaml", chart_app.as_bytes().to_vec()),
                ("values.yaml", b"{}\n".to_vec()),
                ("chart/Chart.yaml", chart_yaml.as_bytes().to_vec()),
                (
                    "chart/templates/cm.yaml",
                    b"kind: ConfigMap\nname: {{ required \"set image.tag\" .Values.tag }}\n".to_vec(),
                ),
            ],
            vec!["execution error at (c/templates/cm.yaml:2:9): set image.tag"],
        ),
        (
            "schema violation",
            vec![
                ("plumb.yaml", chart_app.as_bytes().to_vec()),
                ("values.yaml", b"replicas: many\n".to_vec()),
                ("chart/Chart.yaml", chart_yaml.as_bytes().to_vec()),
                ("chart/values.schema.json", br#"{"properties": {"replicas": {"type": "integer"}}}"#.to_vec()),
                ("chart/templates/cm.yaml", b"kind: ConfigMap\n".to_vec()),
            ],
            vec!["c:\n- at '/replicas': got string, want integer"],
        ),
        (
            "archive with a ../ path",
            vec![
                ("plumb.yaml", b"apps:\n  - {name: c, namespace: ns, chart: {path: c.tgz}}\n".to_vec()),
                ("c.tgz", evil_archive),
            ],
            vec!["c.tgz", "c/../escape.yaml: absolute or parent paths are not allowed"],
        ),
        (
            "YAML bomb in values",
            vec![
                ("plumb.yaml", chart_app.as_bytes().to_vec()),
                ("values.yaml", bomb.into_bytes()),
                ("chart/Chart.yaml", chart_yaml.as_bytes().to_vec()),
                ("chart/templates/cm.yaml", b"kind: ConfigMap\n".to_vec()),
            ],
            vec!["values.yaml: "],
        ),
    ];
    for (what, files, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        let started = std::time::Instant::now();
        let output = plumb(&["render", &dir.path().display().to_string()], home.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: rendered");
        assert!(output.stdout.is_empty(), "{what}: printed something: {}", String::from_utf8_lossy(&output.stdout));
        for needle in expected {
            assert!(stderr.contains(needle), "{what}: {needle:?} not in: {stderr}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{what}: took {:?}", started.elapsed());
    }
}

/// Integers reach `plumb render`'s output with every digit, from plain
/// manifests and from charts (a document after Helm's `---# comment`
/// separator), and `1000000` prints as an integer, not `1e+06`.
#[test]
fn integers_print_exactly() {
    let home = tempfile::tempdir().expect("tempdir");
    let repo = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "plumb.yaml",
        "apps:\n  - {name: plain, namespace: ns, path: plain}\n  - {name: chart, namespace: ns, chart: {path: chart}}\n",
    );
    write(
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\nbig: 9007199254740993\nmillion: 1000000\n",
    );
    write("chart/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n");
    write(
        "chart/templates/cm.yaml",
        "---# a comment glued to the separator\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbig: {{ 9007199254740993 }}\nhex: {{ 0x1p20 }}\n",
    );
    let text = stdout(&plumb(&["render", &repo.path().display().to_string()], home.path()));
    assert_eq!(text.matches("big: 9007199254740993\n").count(), 2, "{text}");
    assert!(text.contains("million: 1000000\n") && text.contains("hex: 1048576\n"), "{text}");
}
