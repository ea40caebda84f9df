//! The git source against real servers on 127.0.0.1: cheap polling,
//! shallow fetches, force-pushes, deleted refs, and safe reading of commits.

use std::path::Path;

use plumb::source::git::{GitRef, GitSource, Poll};
use plumb::source::{ByteBudget, SourceError, Tree, url};
use plumb_testenv::git::{GitDaemon, GitRepo, init_bare};

/// A bare "remote" and a working clone that pushes to it.
fn remote_and_work(root: &Path) -> anyhow::Result<(std::path::PathBuf, GitRepo)> {
    let bare = root.join("served/config.git");
    init_bare(&bare)?;
    // The scenario deletes and recreates the served branch.
    plumb_testenv::git::git(&bare, &["config", "receive.denyDeleteCurrent", "ignore"])?;
    let work = GitRepo::init(&root.join("work"))?;
    work.git(&["remote", "add", "origin", &bare.display().to_string()])?;
    Ok((bare, work))
}

/// The scenario every transport passes: first fetch, no fetch when
/// unchanged, a new commit, a force-push to unrelated history, the branch
/// deleted then recreated.
fn scenario(source_url: &str, cache: &Path, work: &GitRepo) -> anyhow::Result<()> {
    scenario_with(source_url, cache, work, plumb::source::credentials::Credentials::default())
}

fn scenario_with(
    source_url: &str,
    cache: &Path,
    work: &GitRepo,
    credentials: plumb::source::credentials::Credentials,
) -> anyhow::Result<()> {
    work.write("apps/web/cm.yaml", "kind: ConfigMap\n")?;
    let c1 = work.commit("first")?;
    work.git(&["push", "-q", "origin", "main"])?;

    let source = GitSource::open(url::parse(source_url, false)?, GitRef::Branch("main".into()), cache)?
        .with_credentials(credentials.clone());
    assert_eq!(source.poll()?, Poll::Fetched(c1.clone()));
    assert_eq!((source.ls_remote_count(), source.fetch_count()), (1, 1));

    for _ in 0..3 {
        assert_eq!(source.poll()?, Poll::Unchanged(c1.clone()));
    }
    assert_eq!((source.ls_remote_count(), source.fetch_count()), (4, 1), "unchanged polls must not fetch");

    work.write("apps/web/cm.yaml", "kind: ConfigMap\ndata: {}\n")?;
    let c2 = work.commit("second")?;
    work.git(&["push", "-q", "origin", "main"])?;
    assert_eq!(source.poll()?, Poll::Fetched(c2.clone()));
    assert_eq!(source.tree(&c2)?.read_string("apps/web/cm.yaml")?, "kind: ConfigMap\ndata: {}\n");
    let info = source.commit_info(&c2)?;
    assert_eq!(
        (info.author.name.as_str(), info.summary.as_str(), info.parents.clone()),
        ("Plumb Test", "second", vec![c1.clone()])
    );

    // Force-push an unrelated history.
    work.git(&["checkout", "-q", "--orphan", "rewrite"])?;
    work.git(&["rm", "-rq", "--cached", "."])?;
    std::fs::remove_dir_all(work.path().join("apps"))?;
    work.write("other/new.yaml", "kind: Secret\n")?;
    let c3 = work.commit("unrelated")?;
    work.git(&["push", "-q", "-f", "origin", "rewrite:main"])?;
    assert_eq!(source.poll()?, Poll::Fetched(c3.clone()));
    assert_eq!(source.tree(&c3)?.walk("")?, ["other/new.yaml"]);

    // The branch is deleted: an error naming the ref, the last good commit kept.
    work.git(&["push", "-q", "origin", "--delete", "main"])?;
    match source.poll() {
        Err(SourceError::RefNotFound { reference, last, .. }) => {
            assert_eq!((reference.as_str(), last.as_deref()), ("branch main", Some(c3.as_str())));
        }
        other => panic!("a deleted branch must be an error, got {other:?}"),
    }
    assert_eq!(source.last_fetched().as_deref(), Some(c3.as_str()));

    // Recreated: picked up again.
    let c4 = work.commit("recreated")?;
    work.git(&["push", "-q", "origin", "rewrite:main"])?;
    assert_eq!(source.poll()?, Poll::Fetched(c4));

    // The cache survives a restart: a new source on the same cache does not fetch again.
    let reopened = GitSource::open(url::parse(source_url, false)?, GitRef::Branch("main".into()), cache)?
        .with_credentials(credentials);
    assert!(matches!(reopened.poll()?, Poll::Unchanged(_)));
    assert_eq!(reopened.fetch_count(), 0);
    Ok(())
}

#[test]
fn file_transport() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (bare, work) = remote_and_work(root.path())?;
    scenario(&format!("file://{}", bare.display()), &root.path().join("cache"), &work)
}

#[test]
fn plain_local_path() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (bare, work) = remote_and_work(root.path())?;
    scenario(&bare.display().to_string(), &root.path().join("cache"), &work)
}

#[tokio::test(flavor = "multi_thread")]
async fn git_daemon_transport() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (_bare, work) = remote_and_work(root.path())?;
    let daemon = GitDaemon::start(&root.path().join("served")).await?;
    let url = daemon.url("config.git");
    let cache = root.path().join("cache");
    tokio::task::spawn_blocking(move || scenario(&url, &cache, &work)).await??;
    let pid = daemon.pid();
    drop(daemon);
    assert!(!plumb_testenv::process::pid_alive(pid), "git daemon survived");
    Ok(())
}

#[test]
fn unreachable_remote_is_a_typed_error() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let port = plumb_testenv::ports::free_port()?;
    let source = GitSource::open(
        url::parse(&format!("git://127.0.0.1:{port}/nothing"), false)?,
        GitRef::Branch("main".into()),
        root.path(),
    )?;
    assert!(matches!(source.poll(), Err(SourceError::Unreachable { .. })));
    Ok(())
}

#[test]
fn unsafe_paths_in_a_commit_are_refused_and_nothing_outside_is_read() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (bare, work) = remote_and_work(root.path())?;
    work.write("apps/ok.yaml", "kind: ConfigMap\n")?;
    work.write("apps/big.yaml", vec![b'#'; 5 * 1024 * 1024])?;
    std::os::unix::fs::symlink("/etc/passwd", work.path().join("apps/passwd.yaml"))?;
    std::os::unix::fs::symlink("../../outside.yaml", work.path().join("apps/up.yaml"))?;
    std::os::unix::fs::symlink("ok.yaml", work.path().join("apps/alias.yaml"))?;
    let sha = work.commit("unsafe")?;
    work.git(&["push", "-q", "origin", "main"])?;

    let source = GitSource::open(
        url::parse(&bare.display().to_string(), false)?,
        GitRef::Branch("main".into()),
        &root.path().join("cache"),
    )?;
    source.poll()?;
    let tree = source.tree(&sha)?.with_byte_budget(ByteBudget::new(4 * 1024 * 1024));
    assert_eq!(tree.read_string("apps/alias.yaml")?, "kind: ConfigMap\n", "in-repo links are followed");
    let err = tree.read("apps/passwd.yaml").expect_err("absolute link").to_string();
    assert_eq!(
        err,
        "apps/passwd.yaml: is a symlink to \"/etc/passwd\", outside the repository; plumb never follows it"
    );
    let err = tree.read("apps/up.yaml").expect_err("escaping link").to_string();
    assert!(err.contains("outside the repository"), "{err}");
    let err = tree.read("apps/big.yaml").expect_err("over the commit's byte budget").to_string();
    assert_eq!(
        err,
        "apps/big.yaml: reading its 5242880 bytes takes this commit to 5242896 bytes, over the 4194304-byte budget \
         per commit; if the repository really is this large, raise it with --max-commit-bytes (PLUMB_MAX_COMMIT_BYTES)"
    );
    assert!(matches!(tree.read("apps/../../etc/passwd"), Err(SourceError::UnsafePath { .. })));

    // Rendering that commit's directory fails on the first unsafe file, naming it.
    let err = plumb::render::plain::load(&tree, "apps").expect_err("unsafe render").to_string();
    assert!(err.starts_with("apps/big.yaml: "), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn smart_http_transport() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let (_bare, work) = remote_and_work(root.path())?;
    let server = plumb_testenv::git_http::GitHttpServer::start(&root.path().join("served"), None).await?;
    let url = server.url("config.git");
    let cache = root.path().join("cache");
    tokio::task::spawn_blocking(move || scenario(&url, &cache, &work)).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn http_credentials_right_wrong_and_missing() -> anyhow::Result<()> {
    use plumb::source::credentials::Credentials;
    let root = tempfile::tempdir()?;
    let (_bare, work) = remote_and_work(root.path())?;
    work.write("a.yaml", "kind: ConfigMap\n")?;
    let sha = work.commit("first")?;
    work.git(&["push", "-q", "origin", "main"])?;
    let server =
        plumb_testenv::git_http::GitHttpServer::start(&root.path().join("served"), Some(("robot", "right-token")))
            .await?;
    let url = server.url("config.git");
    let cache = root.path().join("cache");

    let poll = |credentials: Credentials, cache: std::path::PathBuf, url: String| {
        tokio::task::spawn_blocking(move || {
            let source = GitSource::open(url::parse(&url, false)?, GitRef::Branch("main".into()), &cache)?
                .with_credentials(credentials);
            source.poll()
        })
    };
    assert_eq!(
        poll(Credentials::userpass("robot", "right-token"), cache.join("a"), url.clone()).await??,
        Poll::Fetched(sha)
    );

    for (what, credentials) in
        [("wrong", Credentials::userpass("robot", "wrong-token")), ("missing", Credentials::default())]
    {
        let before = server.requests();
        let started = std::time::Instant::now();
        let result = poll(credentials, cache.join(what), url.clone()).await?;
        match result {
            Err(SourceError::AuthFailed { url: shown, reason }) => {
                assert!(!reason.contains("wrong-token") && !shown.contains("wrong-token"), "{reason}");
            }
            other => panic!("{what} credentials: expected AuthFailed, got {other:?}"),
        }
        let requests = server.requests() - before;
        println!("{what} credentials: AuthFailed after {requests} request(s) in {:?}", started.elapsed());
        assert!(requests <= 3, "{what} credentials caused {requests} requests: a retry storm");
    }
    Ok(())
}

/// A bare remote, a working clone and a source following the remote's
/// main branch, for the signature tests.
struct SigningRepo {
    root: tempfile::TempDir,
    work: GitRepo,
    source: GitSource,
}

impl SigningRepo {
    fn new() -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        let (bare, work) = remote_and_work(root.path())?;
        let url = url::parse(&bare.display().to_string(), false)?;
        let source = GitSource::open(url, GitRef::Branch("main".into()), &root.path().join("cache"))?;
        Ok(Self { root, work, source })
    }

    /// An empty commit signed with `signing` (git `-c` settings).
    fn signed(&self, signing: &[String], message: &str) -> anyhow::Result<String> {
        let mut args: Vec<&str> = signing.iter().flat_map(|c| ["-c", c.as_str()]).collect();
        args.extend(["commit", "-q", "-S", "--allow-empty", "-m", message]);
        self.work.git(&args)?;
        Ok(self.work.git(&["rev-parse", "HEAD"])?)
    }

    /// A copy of `signed` with its message changed and its signature kept.
    fn forged(&self, signed: &str, from: &str, to: &str) -> anyhow::Result<String> {
        let raw = self.work.git(&["cat-file", "commit", signed])?;
        let path = self.root.path().join("forged");
        std::fs::write(&path, format!("{}\n", raw.replace(from, to)))?;
        Ok(self.work.git(&["hash-object", "-t", "commit", "-w", &path.display().to_string()])?)
    }

    /// Points the remote's main at `commit` and fetches it.
    fn publish(&self, commit: &str) -> anyhow::Result<()> {
        self.work.git(&["push", "-q", "-f", "origin", &format!("{commit}:refs/heads/main")])?;
        self.source.poll()?;
        Ok(())
    }

    /// Checks that each commit is refused with its reason.
    fn assert_rejected(
        &self,
        policy: &plumb::source::signature::VerifyPolicy,
        cases: &[(&str, String)],
    ) -> anyhow::Result<()> {
        for (commit, reason) in cases {
            self.publish(commit)?;
            let err = self.source.verify(commit, policy).expect_err("rejected").to_string();
            assert!(
                err.starts_with(&format!("commit {commit} rejected: ")) && err.contains(reason.as_str()),
                "{err}\n  expected: {reason}"
            );
        }
        Ok(())
    }
}

#[test]
fn ssh_signed_commits_pass_and_unsigned_tampered_and_foreign_ones_are_rejected() -> anyhow::Result<()> {
    use plumb::source::signature::{AllowedSigners, SignatureStatus, VerifyPolicy};
    let repo = SigningRepo::new()?;
    let (trusted, trusted_public) = plumb_testenv::sshd::client_key(repo.root.path(), "trusted")?;
    let (foreign, _) = plumb_testenv::sshd::client_key(repo.root.path(), "foreign")?;
    let signers = repo.root.path().join("allowed_signers");
    std::fs::write(&signers, format!("release@plumb.invalid {trusted_public}\n"))?;
    let policy = VerifyPolicy::Ssh(AllowedSigners::load(&signers)?);
    let with = |key: &Path| vec!["gpg.format=ssh".to_string(), format!("user.signingkey={}", key.display())];

    let good = repo.signed(&with(&trusted), "signed by a trusted key")?;
    repo.publish(&good)?;
    match repo.source.verify(&good, &policy)? {
        SignatureStatus::Verified { format, signer, key } => {
            assert_eq!((format.as_str(), signer.as_str()), ("ssh", "release@plumb.invalid"));
            assert!(key.starts_with("SHA256:"), "{key}");
        }
        other => panic!("expected a verified commit, got {other:?}"),
    }
    let unsigned = repo.work.commit("unsigned")?;
    let wrong_key = repo.signed(&with(&foreign), "signed by an unknown key")?;
    let forged = repo.forged(&good, "signed by a trusted key", "signed by a trusted key, and forged")?;
    repo.assert_rejected(
        &policy,
        &[
            (&unsigned, "it is not signed".into()),
            (&wrong_key, "which is not in allowed_signers".into()),
            (&forged, "does not match the commit (tampered?)".into()),
        ],
    )?;
    assert_eq!(repo.source.verify(&unsigned, &VerifyPolicy::Off)?, SignatureStatus::NotChecked);
    Ok(())
}

/// A throwaway GnuPG home; its agent is stopped on drop.
struct GnupgHome {
    dir: tempfile::TempDir,
}

impl GnupgHome {
    fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(Self { dir })
    }

    fn gpg(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = std::process::Command::new("gpg")
            .env("GNUPGHOME", self.dir.path())
            .args(["--batch", "--quiet"])
            .args(args)
            .output()?;
        anyhow::ensure!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// A new signing key; its fingerprint.
    fn key(&self, uid: &str) -> anyhow::Result<String> {
        self.gpg(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ])?;
        let listing = self.gpg(&["--with-colons", "--list-keys", uid])?;
        let fpr = listing.lines().find_map(|l| l.strip_prefix("fpr:")).map(|l| l.trim_matches(':').to_string());
        fpr.ok_or_else(|| anyhow::anyhow!("no fingerprint for {uid}"))
    }

    /// A gpg wrapper for git's gpg.program, pinned to this home.
    fn program(&self) -> anyhow::Result<std::path::PathBuf> {
        let path = self.dir.path().join("gpg-here");
        std::fs::write(&path, format!("#!/bin/sh\nGNUPGHOME='{}' exec gpg \"$@\"\n", self.dir.path().display()))?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(path)
    }
}

impl Drop for GnupgHome {
    fn drop(&mut self) {
        let _ =
            std::process::Command::new("gpgconf").env("GNUPGHOME", self.dir.path()).args(["--kill", "all"]).status();
    }
}

#[test]
fn openpgp_signed_commits_pass_and_unsigned_tampered_and_foreign_ones_are_rejected() -> anyhow::Result<()> {
    use plumb::source::signature::{OpenPgpKeys, SignatureStatus, VerifyPolicy};
    let repo = SigningRepo::new()?;
    let gnupg = GnupgHome::new()?;
    let trusted = gnupg.key("Release <release@plumb.invalid>")?;
    let foreign = gnupg.key("Mallory <mallory@plumb.invalid>")?;
    let keyring = repo.root.path().join("trusted.asc");
    std::fs::write(&keyring, gnupg.gpg(&["--armor", "--export", &trusted])?)?;
    let policy = VerifyPolicy::OpenPgp(OpenPgpKeys::load(&keyring)?);
    let program = gnupg.program()?;
    let with = |key: &str| vec![format!("gpg.program={}", program.display()), format!("user.signingkey={key}")];

    let good = repo.signed(&with(&trusted), "signed by the release key")?;
    repo.publish(&good)?;
    match repo.source.verify(&good, &policy)? {
        SignatureStatus::Verified { format, key, .. } => {
            assert_eq!((format.as_str(), key.as_str()), ("openpgp", trusted.as_str()))
        }
        other => panic!("expected a verified commit, got {other:?}"),
    }
    let unsigned = repo.work.commit("unsigned")?;
    let wrong_key = repo.signed(&with(&foreign), "signed by an unknown key")?;
    let forged = repo.forged(&good, "signed by the release key", "signed by the release key, forged")?;
    repo.assert_rejected(
        &policy,
        &[
            (&unsigned, "it is not signed".into()),
            (&wrong_key, format!("signed with key {foreign}, which is not a trusted OpenPGP key")),
            (&forged, format!("the signature by key {trusted} does not match the commit (tampered?)")),
        ],
    )?;
    Ok(())
}

#[test]
fn ssh_keys_sign_only_within_their_allowed_signers_window() -> anyhow::Result<()> {
    use plumb::source::signature::{AllowedSigners, SignatureStatus, VerifyPolicy};
    let repo = SigningRepo::new()?;
    let (retired, retired_public) = plumb_testenv::sshd::client_key(repo.root.path(), "retired")?;
    let (current, current_public) = plumb_testenv::sshd::client_key(repo.root.path(), "current")?;
    let (future, future_public) = plumb_testenv::sshd::client_key(repo.root.path(), "future")?;
    let signers = repo.root.path().join("allowed_signers");
    std::fs::write(
        &signers,
        format!(
            "old@plumb.invalid valid-before=\"20200101\" {retired_public}\n\
             release@plumb.invalid valid-after=\"20200101\" {current_public}\n\
             next@plumb.invalid valid-after=20990101Z {future_public}\n"
        ),
    )?;
    let policy = VerifyPolicy::Ssh(AllowedSigners::load(&signers)?);
    let with = |key: &Path| vec!["gpg.format=ssh".to_string(), format!("user.signingkey={}", key.display())];

    let good = repo.signed(&with(&current), "signed by the current key")?;
    repo.publish(&good)?;
    assert!(matches!(repo.source.verify(&good, &policy)?, SignatureStatus::Verified { .. }));
    let by_retired = repo.signed(&with(&retired), "signed by a retired key")?;
    let by_future = repo.signed(&with(&future), "signed by a key not valid yet")?;
    repo.assert_rejected(
        &policy,
        &[
            (&by_retired, "(old@plumb.invalid), valid until 2020-01-01T00:00:00Z, but committed at".into()),
            (&by_future, "(next@plumb.invalid), valid from 2099-01-01T00:00:00Z, but committed at".into()),
        ],
    )?;
    Ok(())
}

#[test]
fn openpgp_revoked_and_expired_keys_are_refused() -> anyhow::Result<()> {
    use plumb::source::signature::{OpenPgpKeys, SignatureStatus, VerifyPolicy};
    let repo = SigningRepo::new()?;
    let gnupg = GnupgHome::new()?;
    let program = gnupg.program()?;
    let with = |key: &str| vec![format!("gpg.program={}", program.display()), format!("user.signingkey={key}")];
    let keyring = |fingerprint: &str| -> anyhow::Result<VerifyPolicy> {
        let path = repo.root.path().join(format!("{fingerprint}.asc"));
        std::fs::write(&path, gnupg.gpg(&["--armor", "--export", fingerprint])?)?;
        Ok(VerifyPolicy::OpenPgp(OpenPgpKeys::load(&path)?))
    };

    // Revoked: the commit verifies until the key's revocation is in the keyring.
    let revoked = gnupg.key("Revoked <revoked@plumb.invalid>")?;
    let signed = repo.signed(&with(&revoked), "signed before the revocation")?;
    repo.publish(&signed)?;
    assert!(matches!(repo.source.verify(&signed, &keyring(&revoked)?)?, SignatureStatus::Verified { .. }));
    let certificate = std::fs::read_to_string(gnupg.dir.path().join(format!("openpgp-revocs.d/{revoked}.rev")))?;
    let revocation = repo.root.path().join("revocation.asc");
    // gpg writes the certificate with its armor line escaped by a colon.
    std::fs::write(
        &revocation,
        certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"),
    )?;
    gnupg.gpg(&["--import", &revocation.display().to_string()])?;
    repo.assert_rejected(&keyring(&revoked)?, &[(&signed, format!("signed with key {revoked}, which is revoked"))])?;

    // Expired: a key made an hour ago whose expiry, set half an hour ago,
    // ended a minute after that; the commit signed now comes later.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let faked = |at: u64| format!("--faked-system-time={at}!");
    let uid = "Expired <expired@plumb.invalid>";
    gnupg.gpg(&[
        &faked(now - 3600),
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "ed25519",
        "sign",
        "never",
    ])?;
    let listing = gnupg.gpg(&["--with-colons", "--list-keys", uid])?;
    let expired = listing.lines().find_map(|l| l.strip_prefix("fpr:")).map(|l| l.trim_matches(':').to_string());
    let expired = expired.ok_or_else(|| anyhow::anyhow!("no fingerprint"))?;
    let late = repo.signed(&with(&expired), "signed after the key expired")?;
    gnupg.gpg(&[
        &faked(now - 1800),
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "--quick-set-expire",
        &expired,
        "seconds=60",
    ])?;
    repo.assert_rejected(&keyring(&expired)?, &[(&late, format!("signed with key {expired} at "))])?;
    let err = repo.source.verify(&late, &keyring(&expired)?).expect_err("expired").to_string();
    assert!(err.contains(", after the key expired at "), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_transport_with_a_key_and_known_hosts() -> anyhow::Result<()> {
    use plumb::source::credentials::Credentials;
    use plumb::source::known_hosts::KnownHosts;
    let root = tempfile::tempdir()?;
    let (bare, work) = remote_and_work(root.path())?;
    let (key, public) = plumb_testenv::sshd::client_key(root.path(), "plumb-client")?;
    let sshd = plumb_testenv::sshd::Sshd::start(&public).await?;
    let url = sshd.url(&bare);
    let trusted = KnownHosts::parse(&format!("{}\n", sshd.known_hosts_line())).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let credentials = Credentials::default().with_ssh_key(&key, None)?.with_known_hosts(trusted);
    let cache = root.path().join("cache");
    let scenario_url = url.clone();
    tokio::task::spawn_blocking(move || scenario_with(&scenario_url, &cache, &work, credentials)).await??;

    // An unknown host key (or none configured) is refused at once.
    let strangers = KnownHosts::parse(
        "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGNx7oAyfY3gNDSvT0SSXqBOxrv1VPRbD+UoRJEbYky\n",
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    for (what, credentials) in [
        ("unknown host", Credentials::default().with_ssh_key(&key, None)?.with_known_hosts(strangers)),
        ("no known_hosts", Credentials::default().with_ssh_key(&key, None)?),
    ] {
        let (url, cache) = (url.clone(), root.path().join(format!("cache-{}", what.replace(' ', "-"))));
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            GitSource::open(url::parse(&url, false)?, GitRef::Branch("main".into()), &cache)?
                .with_credentials(credentials)
                .poll()
        })
        .await?;
        match result {
            Err(SourceError::UnknownHostKey { reason, .. }) => {
                println!("{what}: refused in {:?}: {reason}", started.elapsed());
                assert!(reason.contains("SHA256:"), "{reason}");
            }
            other => panic!("{what}: expected UnknownHostKey, got {other:?}"),
        }
    }
    let pid = sshd.pid();
    drop(sshd);
    assert!(!plumb_testenv::process::pid_alive(pid), "sshd survived");
    Ok(())
}
