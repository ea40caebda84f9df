//! Ownership and pruning on the real control plane: plumb never deletes or
//! overwrites what it does not own. Each test is a scenario an operator
//! meets (a rename whose new app fails, an object moving between apps, a
//! Namespace shipped twice, a stuck rollout retried, a CRD dropped, a
//! second plumb instance, a rejected first deploy, an immutable change, an
//! orphaned app, an empty plumb.yaml, a CRD served at a new version), and
//! compares every object of the namespaces involved, with their uids,
//! before and after.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, ResourceExt};
use plumb::apply::ObjectAction;
use plumb::report::commit::{AppOutcome, CommitReport};
use plumb_e2e::{Agent, ConfigRepo, namespace_objects};
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace, unique_name};
use serde_json::json;

fn cm(name: &str, namespace: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {namespace}}}\ndata: {{v: \"{value}\"}}\n"
    )
}

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
}

fn error_of(report: &CommitReport, app: &str) -> String {
    match report.app(app) {
        Some(AppOutcome::Synced(sync)) => sync.result.as_ref().err().map(ToString::to_string).unwrap_or_default(),
        Some(AppOutcome::RenderFailed { error, .. }) => error.to_string(),
        Some(AppOutcome::Blocked { by, .. }) => format!("blocked by {by:?}"),
        None => "(not in the report)".into(),
    }
}

async fn by_hand(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"made": "by hand"}});
    api.patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(body)).await?;
    Ok(())
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone()).delete(name, &Default::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rename_whose_new_app_fails_keeps_the_old_app_and_the_next_good_commit_hands_over() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let inventories = TestNamespace::create(&client, "own-rename").await?;
    let data = unique_name("db");
    let agent = Agent::start(&cluster, inventories.name()).await?;
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", "apps:\n  - {name: db, path: db}\n"),
            ("db/ns.yaml", &namespace(&data)),
            ("db/cm.yaml", &cm("settings", &data, "1")),
        ],
        &[],
        "db",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    by_hand(&client, &data, "made-by-hand").await?;
    let before = namespace_objects(&client, &data).await?;
    let namespace_uid = Api::<Namespace>::all(client.clone()).get(&data).await?.uid();

    // Renamed to `database`, whose render fails: `db` must stay as it is.
    repo.commit(
        &[
            ("plumb.yaml", "apps:\n  - {name: database, path: database}\n"),
            ("database/ns.yaml", &namespace(&data)),
            ("database/cm.yaml", &cm("settings", &data, "1")),
            ("database/broken.yaml", "kind: [unclosed\n"),
        ],
        &["db"],
        "rename, broken",
    )?;
    let failed = repo.sync(&agent.syncer).await?;
    assert!(!failed.succeeded());
    assert!(matches!(failed.app("database"), Some(AppOutcome::RenderFailed { .. })), "{failed:#?}");
    assert!(failed.app("db").is_none(), "db was not touched: {failed:#?}");
    assert_eq!(namespace_objects(&client, &data).await?, before, "nothing in the namespace changed");
    assert_eq!(Api::<Namespace>::all(client.clone()).get(&data).await?.uid(), namespace_uid);
    assert_eq!(agent.syncer.managed_apps().await?, ["db"]);

    // Fixed: `database` takes over the same objects; `db` goes without
    // deleting anything.
    repo.commit(&[], &["database/broken.yaml"], "fixed")?;
    let fixed = repo.sync(&agent.syncer).await?;
    assert!(fixed.succeeded(), "{fixed:#?}");
    assert_eq!(namespace_objects(&client, &data).await?, before, "same objects, same uids");
    let settings = Api::<ConfigMap>::namespaced(client.clone(), &data).get("settings").await?;
    assert_eq!(settings.labels().get("plumb.dev/app").map(String::as_str), Some("database"));
    assert_eq!(Api::<Namespace>::all(client.clone()).get(&data).await?.uid(), namespace_uid);
    assert_eq!(agent.syncer.managed_apps().await?, ["database"], "db's inventory is gone for good");

    // A later commit does not bring db back.
    repo.commit(&[("database/cm.yaml", &cm("settings", &data, "2"))], &[], "later")?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    assert_eq!(agent.syncer.managed_apps().await?, ["database"]);
    delete_namespace(&client, &data).await;
    inventories.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_moving_between_apps_is_handed_over_whichever_app_syncs_first() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-move").await?;
    let n = ns.name().to_string();
    let agent = Agent::start(&cluster, &n).await?;
    let repo = ConfigRepo::new()?;
    let config = |order: &str| match order {
        "a-first" => format!(
            "apps:\n  - {{name: a, namespace: {n}, path: a}}\n  - {{name: b, namespace: {n}, path: b, dependsOn: [a]}}\n"
        ),
        _ => format!(
            "apps:\n  - {{name: a, namespace: {n}, path: a, dependsOn: [b]}}\n  - {{name: b, namespace: {n}, path: b}}\n"
        ),
    };
    repo.commit(
        &[
            ("plumb.yaml", &config("a-first")),
            ("a/move.yaml", &cm("moving", &n, "1")),
            ("a/a.yaml", &cm("a-own", &n, "1")),
            ("b/b.yaml", &cm("b-own", &n, "1")),
        ],
        &[],
        "start",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    let before = namespace_objects(&client, &n).await?;
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &n);
    let owner = |cm: &ConfigMap| cm.labels().get("plumb.dev/app").cloned();

    // To b, with a (the old owner) syncing first.
    repo.commit(&[("b/move.yaml", &cm("moving", &n, "1"))], &["a/move.yaml"], "to b")?;
    let moved = repo.sync(&agent.syncer).await?;
    assert!(moved.succeeded(), "{moved:#?}");
    let moving = cms.get("moving").await?;
    assert_eq!(owner(&moving).as_deref(), Some("b"));
    assert_eq!(namespace_objects(&client, &n).await?, before, "nothing deleted or re-created");

    // Back to a, with b (the old owner) syncing first.
    repo.commit(
        &[("plumb.yaml", &config("b-first")), ("a/move.yaml", &cm("moving", &n, "1"))],
        &["b/move.yaml"],
        "to a",
    )?;
    let back = repo.sync(&agent.syncer).await?;
    assert!(back.succeeded(), "{back:#?}");
    assert_eq!(owner(&cms.get("moving").await?).as_deref(), Some("a"));
    assert_eq!(namespace_objects(&client, &n).await?, before, "nothing deleted or re-created");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_rendered_by_two_apps_is_refused_and_a_namespace_in_use_is_never_pruned() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let inventories = TestNamespace::create(&client, "own-twice").await?;
    let shared = unique_name("shared");
    let agent = Agent::start(&cluster, inventories.name()).await?;
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", "apps:\n  - {name: x, path: x}\n  - {name: y, path: y}\n"),
            ("x/ns.yaml", &namespace(&shared)),
            ("x/cm.yaml", &cm("from-x", &shared, "1")),
            ("y/ns.yaml", &namespace(&shared)),
            ("y/cm.yaml", &cm("from-y", &shared, "1")),
        ],
        &[],
        "both ship the namespace",
    )?;
    let refused = repo.sync(&agent.syncer).await?;
    for app in ["x", "y"] {
        let error = error_of(&refused, app);
        assert!(error.contains(&format!("Namespace/{shared} is rendered by two apps, x and y")), "{app}: {error}");
    }
    assert!(Api::<Namespace>::all(client.clone()).get_opt(&shared).await?.is_none(), "nothing was written");

    // One owner: x ships the namespace, y only its ConfigMap.
    repo.commit(
        &[("plumb.yaml", "apps:\n  - {name: x, path: x}\n  - {name: y, path: y, dependsOn: [x]}\n")],
        &["y/ns.yaml"],
        "x owns it",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    let before = namespace_objects(&client, &shared).await?;

    // x drops the namespace: y's ConfigMap is in it, so it stays (reported).
    repo.commit(&[], &["x/ns.yaml"], "x drops the namespace")?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "a refused namespace prune does not fail the sync: {report:#?}");
    let Some(AppOutcome::Synced(x)) = report.app("x") else { panic!("{report:#?}") };
    let kept = x.objects.iter().find(|o| o.key.kind == "Namespace").expect("the namespace is in the report");
    let ObjectAction::LeftAlone(why) = &kept.action else { panic!("{kept:?}") };
    assert!(why.describe().contains(&format!("ConfigMap/{shared}/from-y")), "{}", why.describe());
    assert!(Api::<Namespace>::all(client.clone()).get_opt(&shared).await?.is_some());
    assert_eq!(namespace_objects(&client, &shared).await?, before);
    delete_namespace(&client, &shared).await;
    inventories.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_rollout_holds_back_dependents_on_every_retry() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-stuck").await?;
    let n = ns.name().to_string();
    let _readiness = PodReadiness::start(client.clone(), Some(&n));
    let agent = Agent::start(&cluster, &n).await?;
    let repo = ConfigRepo::new()?;
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  progressDeadlineSeconds: 600\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n      annotations: {testenv.plumb.dev/outcome: never-ready}\n    spec: {containers: [{name: web, image: web:1}]}\n";
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: web, namespace: {n}, path: web, healthTimeout: 3s}}\n  - {{name: after, namespace: {n}, path: after, dependsOn: [web]}}\n")),
            ("web/deploy.yaml", deployment),
            ("after/cm.yaml", &cm("after", &n, "1")),
        ],
        &[],
        "stuck",
    )?;
    for attempt in 1..=2 {
        let report = repo.sync(&agent.syncer).await?;
        let error = error_of(&report, "web");
        assert!(error.contains("not healthy after"), "attempt {attempt}: {error}");
        assert!(matches!(report.app("after"), Some(AppOutcome::Blocked { .. })), "attempt {attempt}: {report:#?}");
        assert!(
            Api::<ConfigMap>::namespaced(client.clone(), &n).get_opt("after").await?.is_none(),
            "attempt {attempt}"
        );
    }
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_crd_keeps_it_and_every_object_of_its_kind() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-crd").await?;
    let elsewhere = TestNamespace::create(&client, "own-crd-other").await?;
    let n = ns.name().to_string();
    let group = format!("{}.example.com", unique_name("w"));
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: widgets.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Widget, plural: widgets, singular: widget}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
    );
    let widget =
        |name: &str| format!("apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: {name}}}\nspec: {{size: 1}}\n");
    let agent = Agent::start(&cluster, &n).await?;
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: w, namespace: {n}, path: w}}\n")),
            ("w/crd.yaml", &crd),
            ("w/widget.yaml", &widget("mine")),
            ("w/cm.yaml", &cm("stays", &n, "1")),
        ],
        &[],
        "crd",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    let resource = kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(&group, "v1", "Widget"));
    let theirs: Api<DynamicObject> = Api::namespaced_with(client.clone(), elsewhere.name(), &resource);
    let hand = json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "not-plumbs"}, "spec": {"size": 9}});
    theirs.patch("not-plumbs", &PatchParams::apply("kubectl"), &Patch::Apply(hand)).await?;

    repo.commit(&[], &["w/crd.yaml", "w/widget.yaml"], "drop the CRD")?;
    let dropped = repo.sync(&agent.syncer).await?;
    assert!(dropped.succeeded(), "{dropped:#?}");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    assert!(crds.get_opt(&format!("widgets.{group}")).await?.is_some(), "the CRD was kept");
    assert!(theirs.get_opt("not-plumbs").await?.is_some(), "a Widget plumb never managed survived");

    // The next commit that still has such an object syncs.
    repo.commit(&[("w/crd.yaml", &crd), ("w/widget.yaml", &widget("again"))], &[], "back")?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    crds.delete(&format!("widgets.{group}"), &Default::default()).await?;
    ns.delete().await?;
    elsewhere.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_never_touches_the_first_ones_apps() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-instances").await?;
    let n = ns.name().to_string();
    let blue = Agent::start_instance(&cluster, &n, "blue").await?;
    let green = Agent::start_instance(&cluster, &n, "green").await?;
    let blue_repo = ConfigRepo::new()?;
    blue_repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: shop, namespace: {n}, path: shop}}\n")),
            ("shop/cm.yaml", &cm("shop-config", &n, "1")),
        ],
        &[],
        "blue",
    )?;
    assert!(blue_repo.sync(&blue.syncer).await?.succeeded());
    by_hand(&client, &n, "made-by-hand").await?;
    let before = namespace_objects(&client, &n).await?;

    let green_repo = ConfigRepo::new()?;
    green_repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: billing, namespace: {n}, path: billing}}\n")),
            ("billing/cm.yaml", &cm("billing-config", &n, "1")),
        ],
        &[],
        "green",
    )?;
    let report = green_repo.sync(&green.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.apps.len(), 1, "green removed nothing: {report:#?}");
    let after: BTreeMap<String, String> = namespace_objects(&client, &n).await?;
    for (object, uid) in &before {
        assert_eq!(after.get(object), Some(uid), "{object} was deleted or re-created");
    }

    // Claiming blue's app, or one of its objects, is refused.
    green_repo.commit(&[("plumb.yaml", &format!("apps:\n  - {{name: billing, namespace: {n}, path: billing}}\n  - {{name: shop, namespace: {n}, path: theft}}\n")), ("theft/cm.yaml", &cm("x", &n, "1"))], &[], "claim")?;
    let claim = green_repo.sync(&green.syncer).await?;
    assert!(
        error_of(&claim, "shop").contains("app shop belongs to plumb instance blue"),
        "{}",
        error_of(&claim, "shop")
    );
    green_repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: billing, namespace: {n}, path: billing}}\n")),
            ("billing/steal.yaml", &cm("shop-config", &n, "2")),
        ],
        &["theft"],
        "steal",
    )?;
    let steal = green_repo.sync(&green.syncer).await?;
    let error = error_of(&steal, "billing");
    assert!(error.contains("belongs to app shop of plumb instance blue"), "{error}");
    let shop_config = Api::<ConfigMap>::namespaced(client.clone(), &n).get("shop-config").await?;
    assert_eq!(shop_config.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("1"));
    assert_eq!(blue.syncer.managed_apps().await?, ["shop"]);
    assert_eq!(green.syncer.managed_apps().await?, ["billing"]);
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_first_deploy_applies_nothing_not_even_its_namespace() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let inventories = TestNamespace::create(&client, "own-reject").await?;
    let fresh = unique_name("fresh");
    let agent = Agent::start(&cluster, inventories.name()).await?;
    let repo = ConfigRepo::new()?;
    // A Service without ports is invalid; its namespace is new.
    let service =
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {fresh}}}\nspec: {{ports: []}}\n");
    repo.commit(
        &[
            ("plumb.yaml", "apps:\n  - {name: app, path: app}\n"),
            ("app/ns.yaml", &namespace(&fresh)),
            ("app/svc.yaml", &service),
        ],
        &[],
        "invalid",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    let error = error_of(&report, "app");
    assert!(error.contains("nothing was applied") && error.contains("Service/"), "{error}");
    assert!(Api::<Namespace>::all(client.clone()).get_opt(&fresh).await?.is_none(), "the namespace was not created");

    // A CRD and an object its schema rejects, in one commit: nothing written.
    let group = format!("{}.example.com", unique_name("g"));
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: gadgets.{group}}}\nspec:\n  group: {group}\n  scope: Cluster\n  names: {{kind: Gadget, plural: gadgets}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, required: [size], properties: {{size: {{type: integer}}}}}}}}}}}}\n"
    );
    let gadget = format!("apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g}}\nspec: {{size: big}}\n");
    repo.commit(
        &[("app/crd.yaml", &crd), ("app/gadget.yaml", &gadget)],
        &["app/svc.yaml", "app/ns.yaml"],
        "crd + bad object",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    let error = error_of(&report, "app");
    assert!(
        error.contains("spec.size: must be integer, not string") && error.contains("nothing was applied"),
        "{error}"
    );
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    assert!(crds.get_opt(&format!("gadgets.{group}")).await?.is_none(), "the CRD was not created");
    inventories.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_change_is_refused_by_name_unless_the_object_asks_to_be_replaced() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-immutable").await?;
    let n = ns.name().to_string();
    let _readiness = PodReadiness::start(client.clone(), Some(&n));
    let agent = Agent::start(&cluster, &n).await?;
    let job = |image: &str, replace: bool| {
        let annotation = if replace { "\n  annotations: {plumb.dev/replace: \"true\"}" } else { "" };
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate{annotation}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: \"{image}\"}}]\n"
        )
    };
    let first = agent.sync("migrations", &n, &job("migrate:1", false), "c1").await;
    plumb_e2e::assert_ok(&first);
    let jobs = Api::<k8s_openapi::api::batch::v1::Job>::namespaced(client.clone(), &n);
    let before = jobs.get("migrate").await?.uid();

    let refused = agent
        .sync("migrations", ns.name(), &format!("{}---\n{}", job("migrate:2", false), cm("also", ns.name(), "1")), "c2")
        .await;
    let error = refused.result.as_ref().expect_err("immutable").to_string();
    assert!(error.contains("field is immutable") && error.contains("nothing was applied"), "{error}");
    assert!(Api::<ConfigMap>::namespaced(client.clone(), ns.name()).get_opt("also").await?.is_none());
    assert_eq!(jobs.get("migrate").await?.uid(), before);

    let replaced = agent.sync("migrations", ns.name(), &job("migrate:2", true), "c3").await;
    plumb_e2e::assert_ok(&replaced);
    assert_eq!(replaced.done(ObjectAction::Replace), 1, "{:#?}", replaced.objects);
    assert_ne!(jobs.get("migrate").await?.uid(), before, "deleted and created again");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orphaned_app_leaves_its_objects_and_an_empty_plumb_yaml_prunes_nothing() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-orphan").await?;
    let n = ns.name().to_string();
    let agent = Agent::start(&cluster, &n).await?;
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: keep, namespace: {n}, path: keep}}\n  - {{name: legacy, namespace: {n}, path: legacy}}\n")),
            ("keep/a.yaml", &cm("keep-a", &n, "1")),
            ("legacy/b.yaml", &cm("legacy-b", &n, "1")),
        ],
        &[],
        "two apps",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    let before = namespace_objects(&client, &n).await?;

    // Every app gone at once: refused, nothing pruned.
    repo.commit(&[("plumb.yaml", "apps: []\n")], &[], "oops")?;
    let refused = repo.sync(&agent.syncer).await?;
    assert!(error_of(&refused, "keep").contains("allowLargePrune"), "{}", error_of(&refused, "keep"));
    assert_eq!(namespace_objects(&client, &n).await?, before);

    // legacy removed with orphan: its object stays, no longer plumb's.
    repo.commit(
        &[("plumb.yaml", &format!("apps:\n  - {{name: keep, namespace: {n}, path: keep}}\norphan: [legacy]\n"))],
        &["legacy"],
        "let legacy go",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    let mut expected = before.clone();
    expected.remove("ConfigMap/plumb-inventory-legacy");
    assert_eq!(namespace_objects(&client, &n).await?, expected, "nothing deleted but legacy's inventory");
    let legacy = Api::<ConfigMap>::namespaced(client.clone(), &n).get("legacy-b").await?;
    assert!(!legacy.labels().contains_key("plumb.dev/app"), "{:?}", legacy.labels());
    assert_eq!(agent.syncer.managed_apps().await?, ["keep"]);
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_served_at_a_new_version_is_updated_not_replaced() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-version").await?;
    let n = ns.name().to_string();
    let group = format!("{}.example.com", unique_name("v"));
    let crd = |versions: &str| {
        format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: things.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Thing, plural: things}}\n  versions:\n{versions}"
        )
    };
    let version = |name: &str, storage: bool| {
        format!(
            "  - name: {name}\n    served: true\n    storage: {storage}\n    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
        )
    };
    let thing = |v: &str| format!("apiVersion: {group}/{v}\nkind: Thing\nmetadata: {{name: t}}\nspec: {{size: 1}}\n");
    let agent = Agent::start(&cluster, &n).await?;
    let first =
        agent.sync("things", &n, &format!("{}---\n{}", crd(&version("v1alpha1", true)), thing("v1alpha1")), "c1").await;
    plumb_e2e::assert_ok(&first);
    let resource =
        kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(&group, "v1alpha1", "Thing"));
    let uid = Api::<DynamicObject>::namespaced_with(client.clone(), &n, &resource).get("t").await?.uid();

    let both = format!("{}{}", version("v1alpha1", false), version("v1", true));
    let second = agent.sync("things", &n, &format!("{}---\n{}", crd(&both), thing("v1")), "c2").await;
    plumb_e2e::assert_ok(&second);
    assert_eq!(second.done(ObjectAction::Prune), 0, "{:#?}", second.objects);
    let resource = kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(&group, "v1", "Thing"));
    assert_eq!(Api::<DynamicObject>::namespaced_with(client.clone(), &n, &resource).get("t").await?.uid(), uid);
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.delete(&format!("things.{group}"), &Default::default()).await?;
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn report_mode_writes_nothing_and_reports_drift_of_objects_it_never_applied() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "own-report").await?;
    let n = ns.name().to_string();
    let agent = Agent::start_live(&cluster, &n).await?;
    // Made by hand, as Git does not say.
    let api = Api::<ConfigMap>::namespaced(client.clone(), &n);
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"v": "by-hand"}});
    api.patch("settings", &PatchParams::apply("kubectl"), &Patch::Apply(body)).await?;
    let writes = agent.requests.writes();
    let request = plumb::apply::SyncRequest {
        mode: plumb::apply::Mode::Report,
        ..plumb_e2e::request(
            "watch-only",
            &n,
            &format!("{}---\n{}", cm("settings", &n, "from-git"), cm("new", &n, "1")),
            "c1",
        )
    };
    let report = agent.syncer.sync(request).await;
    plumb_e2e::assert_ok(&report);
    assert_eq!(agent.requests.writes(), writes, "report mode wrote");
    let drifted = agent.drift.as_ref().expect("live agent").drifted(Some("watch-only"));
    assert_eq!(drifted.len(), 1, "{drifted:#?}");
    assert_eq!(drifted[0].drift.fields[0].path, "data.v");
    assert_eq!(api.get("settings").await?.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("by-hand"));
    assert!(api.get_opt("new").await?.is_none());
    ns.delete().await?;
    Ok(())
}
