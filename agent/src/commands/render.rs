//! `plumb render`: the manifests of a config repo as plumb would apply
//! them, offline (a directory, one of its commits, or a Git URL).

use std::sync::Arc;

use clap::Args;

use super::user_cache_dir;

/// `plumb render` options.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The config repo: a directory (its working tree) or a Git URL.
    #[arg(default_value = ".")]
    pub source: String,
    /// A commit, branch or tag to render (of the directory's git repository, or of the URL; default: the URL's main branch).
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// Only this app.
    #[arg(long)]
    pub app: Option<String>,
    /// Kubernetes version charts see in .Capabilities (default: the newest plumb supports, v1.37.0).
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities.APIVersions (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Print Secret values as <redacted> (for logs).
    #[arg(long)]
    pub redact_secrets: bool,
    /// Let charts' `lookup` read the cluster of the current kubeconfig
    /// (read-only); without it `lookup` finds nothing, as `helm template`.
    #[arg(long)]
    pub lookup_cluster: bool,
    /// How OCI registries are reached.
    #[command(flatten)]
    pub registry: super::RegistryArgs,
    /// Bytes plumb reads from one commit, all files of all apps together (a
    /// defence against commits built to exhaust memory): a number, or with Ki, Mi or Gi.
    #[arg(long, env = "PLUMB_MAX_COMMIT_BYTES", default_value = "128Mi", value_parser = crate::size::parse_size)]
    pub max_commit_bytes: u64,
}

/// `lookup` through the cluster of the current kubeconfig.
fn cluster_lookup() -> anyhow::Result<Arc<dyn crate::render::lookup::Lookup>> {
    let discovery = crate::render::fetch::run_blocking(async {
        let config = kube::Config::infer().await.map_err(|e| e.to_string())?;
        let cluster: crate::cluster::SharedCluster =
            Arc::new(crate::cluster::KubeCluster::new(config).map_err(|e| e.to_string())?);
        crate::cluster::catalog::Discovery::new(cluster).await.map_err(|e| e.to_string())
    })
    .map_err(anyhow::Error::msg)?
    .map_err(|e| anyhow::anyhow!("--lookup-cluster: no usable Kubernetes config (KUBECONFIG): {e}"))?;
    let objects = Arc::new(crate::cluster::objects::Objects::new(Arc::new(discovery), 4));
    Ok(Arc::new(crate::render::lookup::ClusterLookup::new(objects)))
}

/// Runs `plumb render`.
pub fn render(args: RenderArgs) -> anyhow::Result<()> {
    crate::source::tree::set_commit_byte_limit(args.max_commit_bytes);
    let tree = render_source(&args.source, args.reference.as_deref())?;
    let capabilities = crate::render::chart::Capabilities::offline(args.kube_version.as_deref(), &args.api_versions)
        .map_err(anyhow::Error::msg)?;
    let options = crate::runtime::offline::RenderOptions {
        app: args.app,
        env: crate::render::helm::ChartEnv {
            capabilities,
            remote: Some(Arc::new(
                crate::render::remote::RemoteCharts::new(user_cache_dir().join("charts"))
                    .with_registries(args.registry.load()?),
            )),
            lookup: if args.lookup_cluster { Some(cluster_lookup()?) } else { None },
            render_cache: None,
        },
        redact_secrets: args.redact_secrets,
    };
    let rendered = crate::runtime::offline::render(tree, &options).map_err(anyhow::Error::msg)?;
    for warning in rendered.warnings {
        eprintln!("warning: {warning}");
    }
    for (app, digest) in rendered.digests {
        eprintln!("{app}: render digest {digest}");
    }
    print!("{}", rendered.text);
    Ok(())
}

/// The tree `plumb render` reads: a directory's working tree or one of its
/// commits, or a commit of a Git URL fetched into the user's cache.
fn render_source(source: &str, reference: Option<&str>) -> anyhow::Result<std::sync::Arc<dyn crate::source::Tree>> {
    use crate::source::git::{GitRef, GitSource, GitTree};
    let path = std::path::Path::new(source);
    if path.is_dir() {
        return Ok(match reference {
            Some(reference) => std::sync::Arc::new(GitTree::at_revision(path, reference)?),
            None => std::sync::Arc::new(crate::source::DirTree::new(path)?),
        });
    }
    let url = crate::source::url::parse(source, false)?;
    let git_ref = match reference {
        Some(r) if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) => GitRef::Commit(r.to_string()),
        Some(r) => GitRef::Branch(r.to_string()),
        None => GitRef::Branch("main".into()),
    };
    let cache = user_cache_dir().join("render-git");
    let tag = match &git_ref {
        GitRef::Branch(name) => Some(name.clone()),
        _ => None,
    };
    let open = |reference: GitRef| -> anyhow::Result<(GitSource, String)> {
        let source = GitSource::open(url.clone(), reference, &cache)?;
        let commit = source.poll()?.commit().to_string();
        Ok((source, commit))
    };
    // A name that is not a branch may be a tag.
    let (source, commit) = match (open(git_ref), tag) {
        (Ok(found), _) => found,
        (Err(_), Some(name)) => open(GitRef::Tag(name))?,
        (Err(e), None) => return Err(e),
    };
    Ok(std::sync::Arc::new(source.tree(&commit)?))
}
