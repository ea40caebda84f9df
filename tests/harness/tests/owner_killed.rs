//! When the process owning a control plane is killed outright, its servers
//! die with it (PR_SET_PDEATHSIG) and the next start removes its folders.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plumb_testenv::control_plane::sweep_stale_folders;
use plumb_testenv::process::pid_alive;

#[test]
fn servers_die_with_a_killed_owner_and_folders_are_swept() {
    let mut owner = Command::new(env!("CARGO_BIN_EXE_plumb-testenv"))
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start plumb-testenv up");
    let stdout = owner.stdout.take().expect("piped stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("pids "))
        .expect("plumb-testenv up prints its pids");
    // "pids [1, 2, 3] folder /tmp/plumb-testenv-XXXX"
    let (pids, folder) = line.trim_start_matches("pids ").split_once(" folder ").expect("pids and folder");
    let pids: Vec<u32> = pids.trim_matches(['[', ']']).split(", ").map(|p| p.parse().expect("a pid")).collect();
    let folder = PathBuf::from(folder);
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|&p| pid_alive(p)));

    owner.kill().expect("SIGKILL the owner");
    owner.wait().expect("reap the owner");

    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| pid_alive(p)) {
        assert!(Instant::now() < deadline, "servers {pids:?} outlived their killed owner");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(folder.exists(), "a SIGKILLed owner cannot clean up, so its folder is still there");
    sweep_stale_folders();
    assert!(!folder.exists(), "stale folder {} was not swept", folder.display());
}
