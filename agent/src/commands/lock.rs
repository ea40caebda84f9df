//! `plumb lock`: resolves remote charts through their repositories and
//! writes `plumb.lock`.

/// Runs `plumb lock`.
pub async fn lock(dir: &std::path::Path, registry: &super::RegistryArgs) -> anyhow::Result<()> {
    use crate::render::config::{self, CONFIG_FILE};
    use crate::render::lock::{LOCK_FILE, Lock};
    use anyhow::Context;
    let text = std::fs::read_to_string(dir.join(CONFIG_FILE))
        .with_context(|| format!("read {}", dir.join(CONFIG_FILE).display()))?;
    let config = config::parse(CONFIG_FILE, &text)?;
    let registries = registry.load()?;
    let mut lock = Lock::default();
    for app in &config.apps {
        let Some(chart) = &app.chart else { continue };
        let (Some(repo), Some(name), Some(version)) = (&chart.repo, &chart.name, &chart.version) else { continue };
        let progress = crate::progress::Progress::start(&format!("{}: {name} {version} from {repo}", app.name));
        let entry = crate::render::remote::resolve(repo, name, version, &registries)
            .await
            .with_context(|| format!("app {:?}", app.name))?;
        progress.finish(&format!("pinned {}", entry.digest));
        lock.charts.push(entry);
    }
    // Remote Kustomize bases: each tag or branch pinned to its commit.
    let tree: std::sync::Arc<dyn crate::source::Tree> = std::sync::Arc::new(crate::source::DirTree::new(dir)?);
    let git_cache = crate::render::remote::RemoteCharts::new(super::user_cache_dir().join("charts")).git_cache();
    for app in &config.apps {
        let Some(path) = &app.path else { continue };
        for spec in crate::render::kustomize::remote_bases(&tree, path) {
            if plumb_kustomize::remote::is_commit(&spec.reference) {
                continue;
            }
            let progress = crate::progress::Progress::start(&format!("{}: {}", app.name, spec.raw));
            let base = crate::render::kustomize::resolve_base(&spec, &git_cache)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("app {:?}", app.name))?;
            progress.finish(&format!("pinned {}", base.commit));
            lock.bases.push(base);
        }
    }
    let path = dir.join(LOCK_FILE);
    std::fs::write(&path, lock.to_text()).with_context(|| format!("write {}", path.display()))?;
    println!("wrote {} ({} charts, {} remote bases)", path.display(), lock.charts.len(), lock.bases.len());
    Ok(())
}
