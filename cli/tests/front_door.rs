//! The README's front door, driven as a person would: `sandpiper up` prints its ready line and
//! dev tokens, `sandpiper submit` files an example, `sandpiper status` shows it reach
//! `in_review`, and Ctrl-C stops everything, nats-server included (also during start-up).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SANDPIPER: &str = env!("CARGO_BIN_EXE_sandpiper");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../shared/examples/{name}.json"))
}

/// `sandpiper up` on free ports in its own data dir, its stdout lines on a channel.
fn up(data_dir: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(SANDPIPER)
        .args([
            "up",
            "--nats-port",
            "0",
            "--http-port",
            "0",
            "--notifier-port",
            "0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("SANDPIPER_API_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandpiper up starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// Lines until one starts with `prefix` (which is returned), failing after 120 s.
fn wait_for_line(lines: &mpsc::Receiver<String>, prefix: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(line) => seen.push(line),
            Err(err) => panic!("no line starting {prefix:?} ({err}); printed so far: {seen:#?}"),
        }
    }
}

fn sandpiper(args: &[&str], data_dir: &Path) -> String {
    let out = Command::new(SANDPIPER)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SANDPIPER_API_URL")
        .env_remove("SANDPIPER_TOKEN")
        .output()
        .expect("sandpiper runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sandpiper {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn interrupt(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "sandpiper up did not stop within 60 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The processes whose command line names `data_dir` (the nats-server `up` started keeps its
/// store there).
fn processes_using(data_dir: &Path) -> Vec<String> {
    let needle = data_dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) && !cmdline.contains(SANDPIPER) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn up_submit_status_then_ctrl_c_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("stack");
    let (mut child, lines) = up(&data_dir);
    let mut seen = Vec::new();
    let ready = wait_for_line(&lines, "ready api=", &mut seen);
    assert!(ready.contains(" notifier=http://"), "{ready}");
    assert!(
        seen.iter().any(|l| l.trim_start().starts_with("demo partner: demo-")),
        "dev tokens printed: {seen:#?}"
    );
    assert!(
        !processes_using(&data_dir).is_empty(),
        "nats-server runs in the data dir"
    );

    let submitted = sandpiper(
        &["submit", example("bedrock-agents-support").to_str().unwrap()],
        &data_dir,
    );
    let id = submitted
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("an id in {submitted:?}"))
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = sandpiper(&["status", &id], &data_dir);
        if status.contains("in_review") {
            break;
        }
        assert!(Instant::now() < deadline, "{id} never reached in_review: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }

    interrupt(&child);
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status}");
    assert_eq!(wait_for_line(&lines, "stopped", &mut seen), "stopped");
    assert_eq!(processes_using(&data_dir), Vec::<String>::new(), "nothing left running");
}

#[test]
fn ctrl_c_during_start_up_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("stack");
    let (mut child, _lines) = up(&data_dir);
    // As soon as nats-server is up, before the services are ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_using(&data_dir).is_empty() {
        assert!(Instant::now() < deadline, "nats-server never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    interrupt(&child);
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status {status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_using(&data_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}",
            processes_using(&data_dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
