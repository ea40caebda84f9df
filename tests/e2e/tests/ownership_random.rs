//! A randomized ownership test on the real control plane: many commits
//! generated from a seed (apps added, renamed and removed, objects moved
//! between apps, changed, added and dropped, apps switching between enforce
//! and report mode, invalid objects injected), synced one after another.
//! After each sync: every object Git holds for an enforce-mode app that
//! synced is there with Git's content and owned by that app alone; an app
//! whose commit was refused changed nothing; and the objects made by hand
//! (unlabelled, or labelled for an app plumb does not know) are untouched,
//! same uid, same content.
//!
//! `PLUMB_OWNERSHIP_SEED` and `PLUMB_OWNERSHIP_COMMITS` choose the run
//! (both are printed); CI runs the default of 200 commits.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use plumb::report::commit::{AppOutcome, CommitReport};
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::faults::Rng;
use plumb_testenv::{TestCluster, TestNamespace};
use serde_json::json;

#[derive(Debug, Clone, Default)]
struct AppModel {
    report: bool,
    /// ConfigMap name -> its value.
    objects: BTreeMap<String, String>,
    /// This commit carries an object the API server rejects.
    invalid: bool,
}

#[derive(Debug, Default)]
struct Model {
    apps: BTreeMap<String, AppModel>,
    next_app: usize,
    next_object: usize,
}

impl Model {
    fn new_app(&mut self) -> String {
        self.next_app += 1;
        format!("app{}", self.next_app)
    }

    fn new_object(&mut self) -> String {
        self.next_object += 1;
        format!("obj{}", self.next_object)
    }

    fn random_app(&self, rng: &mut Rng) -> Option<String> {
        let names: Vec<&String> = self.apps.keys().collect();
        (!names.is_empty()).then(|| names[rng.below(names.len())].clone())
    }

    /// One random change; returns what it did.
    fn mutate(&mut self, rng: &mut Rng) -> String {
        for app in self.apps.values_mut() {
            app.invalid = false;
        }
        let roll = rng.below(100);
        match (roll, self.random_app(rng)) {
            (_, None) | (0..=11, _) => {
                let name = self.new_app();
                let mut app = AppModel::default();
                for _ in 0..1 + rng.below(4) {
                    app.objects.insert(self.new_object(), format!("v{}", rng.below(1000)));
                }
                self.apps.insert(name.clone(), app);
                format!("add {name}")
            }
            (12..=19, Some(name)) if self.apps.len() > 1 => {
                self.apps.remove(&name);
                format!("remove {name}")
            }
            (20..=29, Some(name)) => {
                let to = self.new_app();
                let app = self.apps.remove(&name).unwrap_or_default();
                self.apps.insert(to.clone(), app);
                format!("rename {name} -> {to}")
            }
            (30..=44, Some(from)) => {
                let Some(to) = self.random_app(rng).filter(|to| *to != from) else { return "nothing".into() };
                let object = self.apps.get(&from).and_then(|a| a.objects.keys().next().cloned());
                let Some(object) = object else { return "nothing".into() };
                let value = self.apps.get_mut(&from).and_then(|a| a.objects.remove(&object)).unwrap_or_default();
                self.apps.entry(to.clone()).or_default().objects.insert(object.clone(), value);
                format!("move {object} {from} -> {to}")
            }
            (45..=64, Some(name)) => {
                let value = format!("v{}", rng.below(1000));
                let Some(app) = self.apps.get_mut(&name) else { return "nothing".into() };
                let names: Vec<String> = app.objects.keys().cloned().collect();
                if names.is_empty() {
                    return "nothing".into();
                }
                let object = names[rng.below(names.len())].clone();
                app.objects.insert(object.clone(), value.clone());
                format!("change {name}/{object} = {value}")
            }
            (65..=74, Some(name)) => {
                let object = self.new_object();
                self.apps.entry(name.clone()).or_default().objects.insert(object.clone(), "new".into());
                format!("add {name}/{object}")
            }
            (75..=82, Some(name)) => {
                let Some(app) = self.apps.get_mut(&name) else { return "nothing".into() };
                let Some(object) = app.objects.keys().next().cloned() else { return "nothing".into() };
                if app.objects.len() > 1 {
                    app.objects.remove(&object);
                    format!("drop {name}/{object}")
                } else {
                    "nothing".into()
                }
            }
            (83..=90, Some(name)) => {
                let Some(app) = self.apps.get_mut(&name) else { return "nothing".into() };
                app.report = !app.report;
                format!("{name} to {} mode", if app.report { "report" } else { "enforce" })
            }
            (_, Some(name)) => {
                if let Some(app) = self.apps.get_mut(&name) {
                    app.invalid = true;
                }
                format!("invalid object in {name}")
            }
        }
    }

    fn files(&self, namespace: &str) -> Vec<(String, String)> {
        let mut config = String::from("allowLargePrune: true\napps:\n");
        let mut files = Vec::new();
        for (name, app) in &self.apps {
            let mode = if app.report { "report" } else { "enforce" };
            config.push_str(&format!(
                "  - {{name: {name}, namespace: {namespace}, path: apps/{name}, mode: {mode}, allowLargePrune: true}}\n"
            ));
            let mut docs: Vec<String> = app
                .objects
                .iter()
                .map(|(o, v)| {
                    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {o}}}\ndata: {{v: \"{v}\"}}\n")
                })
                .collect();
            if app.invalid {
                // A data value must be a string: the API server rejects it.
                docs.push(format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bad-{name}}}\ndata: {{v: {{nested: 1}}}}\n"
                ));
            }
            files.push((format!("apps/{name}/objects.yaml"), docs.join("---\n")));
        }
        files.push(("plumb.yaml".into(), config));
        files
    }
}

/// name -> (uid, app label, data.v) of every ConfigMap in `namespace`.
async fn state(api: &Api<ConfigMap>) -> anyhow::Result<BTreeMap<String, (String, Option<String>, Option<String>)>> {
    let mut out = BTreeMap::new();
    for cm in api.list(&ListParams::default()).await?.items {
        let value = cm.data.as_ref().and_then(|d| d.get("v").cloned());
        out.insert(cm.name_any(), (cm.uid().unwrap_or_default(), cm.labels().get("plumb.dev/app").cloned(), value));
    }
    Ok(out)
}

fn outcome_ok(report: &CommitReport, app: &str) -> Option<bool> {
    report.app(app).map(AppOutcome::succeeded)
}

#[tokio::test(flavor = "multi_thread")]
async fn random_commits_keep_every_object_with_exactly_one_owner() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("PLUMB_OWNERSHIP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x0005_eed0_fa11);
    let commits: usize = std::env::var("PLUMB_OWNERSHIP_COMMITS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    println!("ownership: seed {seed}, {commits} commits (PLUMB_OWNERSHIP_SEED / PLUMB_OWNERSHIP_COMMITS)");
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-random").await?;
    let n = ns.name().to_string();
    let agent = Agent::start(&cluster, &n).await?;
    let api = Api::<ConfigMap>::namespaced(client.clone(), &n);

    // Objects plumb must never touch: one unlabelled, one labelled for an app
    // plumb does not know (no inventory anywhere).
    for (name, labels) in [("by-hand", json!({})), ("unknown-app", json!({"plumb.dev/app": "nobody"}))] {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels}, "data": {"v": "by hand"}});
        api.patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(body)).await?;
    }
    let hand: BTreeMap<String, (String, Option<String>, Option<String>)> =
        state(&api).await?.into_iter().filter(|(k, _)| k == "by-hand" || k == "unknown-app").collect();

    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let repo = ConfigRepo::new()?;
    let mut stats: BTreeMap<String, usize> = BTreeMap::new();
    let mut written: BTreeSet<String> = BTreeSet::new();
    for step in 0..commits {
        let before = state(&api).await?;
        let what = model.mutate(&mut rng);
        *stats.entry(what.split(' ').next().unwrap_or("?").to_string()).or_default() += 1;
        let files = model.files(&n);
        let now: BTreeSet<String> = files.iter().map(|(p, _)| p.clone()).collect();
        let removed: Vec<String> = written.difference(&now).cloned().collect();
        written = now;
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
        let removed_refs: Vec<&str> = removed.iter().map(String::as_str).collect();
        repo.commit(&refs, &removed_refs, &format!("{step}: {what}"))?;
        let report = repo.sync(&agent.syncer).await?;
        let after = state(&api).await?;
        let context = || format!("seed {seed}, commit {step} ({what}):\n{report:#?}");

        for (name, was) in &hand {
            assert_eq!(after.get(name), Some(was), "a hand-made object was touched; {}", context());
        }
        let mut claimed: BTreeSet<&String> = BTreeSet::new();
        for (app, model_app) in &model.apps {
            for (object, value) in &model_app.objects {
                assert!(claimed.insert(object), "the generator gave {object} two apps");
                let live = after.get(object);
                match (model_app.invalid, model_app.report, outcome_ok(&report, app)) {
                    (false, false, Some(true)) => {
                        let owner = live.and_then(|(_, label, _)| label.clone());
                        let data = live.and_then(|(_, _, v)| v.clone());
                        assert_eq!(
                            (owner.as_deref(), data.as_deref()),
                            (Some(app.as_str()), Some(value.as_str())),
                            "{object} of synced app {app}; {}",
                            context()
                        );
                    }
                    (true, _, ok) => {
                        assert_eq!(ok, Some(false), "an invalid object must fail {app}; {}", context());
                        assert_eq!(live, before.get(object), "{app} was refused yet {object} changed; {}", context());
                    }
                    _ => {}
                }
            }
            if model_app.invalid {
                assert!(!after.contains_key(&format!("bad-{app}")), "a rejected object exists; {}", context());
            }
        }
        // Every labelled object belongs to one app that claims it, to an app
        // left behind for a reason the report shows, or to nobody plumb knows.
        for (object, (_, label, _)) in &after {
            let Some(label) = label else { continue };
            if label == "nobody" || model.apps.get(label).is_some_and(|a| a.objects.contains_key(object)) {
                continue;
            }
            let explained = !report.succeeded()
                || model.apps.get(label).is_some_and(|a| a.report)
                || model.apps.values().any(|a| a.report && a.objects.contains_key(object))
                || before.get(object).is_some_and(|(_, l, _)| l.as_ref() == Some(label));
            assert!(explained, "{object} is labelled for {label}, which does not render it; {}", context());
        }
    }
    println!("ownership: {commits} commits from seed {seed}: {stats:?}");
    ns.delete().await?;
    Ok(())
}
