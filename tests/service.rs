//! Running keepalive as a service: `keepalivectl service install|uninstall|
//! status` writing real unit and plist files under a temporary HOME (checked
//! with `systemd-analyze verify` and a real plist parser when the machine
//! has them), readiness sent to a real `$NOTIFY_SOCKET`, and
//! `keepalived --exit-with PID` following a real process.
//!
//! Over 400 lines: most of it is the unit and the plist, checked line by line.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{CTL, DAEMON, Env, ok, stderr, text};

const NEXT_SYSTEMD: &str =
    "systemctl --user daemon-reload && systemctl --user enable --now openclaw-keepalive";

fn unit_path(env: &Env) -> PathBuf {
    env.home
        .join(".config/systemd/user/openclaw-keepalive.service")
}

fn plist_path(env: &Env) -> PathBuf {
    env.home
        .join("Library/LaunchAgents/ai.openclaw.keepalive.plist")
}

/// keepalived next to the keepalivectl under test, as the service runs it.
fn daemon_path() -> PathBuf {
    std::fs::canonicalize(DAEMON).expect("keepalived")
}

#[test]
fn install_status_and_uninstall_a_systemd_unit() {
    let env = Env::new();
    let state_dir = env.state_dir.to_str().expect("utf-8");
    let socket = env.socket.to_str().expect("utf-8");

    let status = ok(&env.ctl(&["service", "status", "--platform", "systemd"]));
    assert!(status.contains("file:     not installed"), "{status}");
    assert!(status.contains("daemon:   not running"), "{status}");

    let printed = ok(&env.ctl(&[
        "service",
        "install",
        "--platform",
        "systemd",
        "--state-dir",
        state_dir,
        "--print",
    ]));
    assert!(!unit_path(&env).exists(), "--print must not write");
    let exec = format!(
        "ExecStart={} --state-dir {state_dir} --socket {socket}",
        daemon_path().display()
    );
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        exec.as_str(),
        "Restart=on-failure",
        "RestartSec=5",
        "WantedBy=default.target",
    ] {
        assert!(
            printed.lines().any(|l| l == line),
            "{line:?} in:\n{printed}"
        );
    }

    let installed = ok(&env.ctl(&[
        "service",
        "install",
        "--platform",
        "systemd",
        "--state-dir",
        state_dir,
    ]));
    assert!(
        installed.contains(&format!("wrote: {}", unit_path(&env).display())),
        "{installed}"
    );
    assert!(
        installed.contains(&format!("next: {NEXT_SYSTEMD}\n")),
        "{installed}"
    );
    assert_eq!(
        std::fs::read_to_string(unit_path(&env)).expect("unit"),
        printed
    );
    let again = ok(&env.ctl(&[
        "service",
        "install",
        "--platform",
        "systemd",
        "--state-dir",
        state_dir,
    ]));
    assert!(again.starts_with("already current: "), "{again}");

    // Status compares with what install would write with the same options.
    let daemon = env.daemon(&[]);
    let status = ok(&env.ctl(&[
        "service",
        "status",
        "--platform",
        "systemd",
        "--state-dir",
        state_dir,
    ]));
    assert!(status.contains("file:     installed, current"), "{status}");
    assert!(status.contains("enabled:  no"), "{status}");
    assert!(
        status.contains(&format!("daemon:   running (pid {})", daemon.pid())),
        "{status}"
    );
    let status = ok(&env.ctl(&["service", "status", "--platform", "systemd"]));
    assert!(
        status.contains("installed, but differs") && status.contains("line 10"),
        "{status}"
    );
    let json = env.ctl_json(&["service", "status", "--platform", "systemd"]);
    assert_eq!(json["installed"], true);
    assert_eq!(json["current"], false);
    assert_eq!(json["running"], true);
    assert_eq!(json["pid"], daemon.pid());

    // An enabled unit is disabled first, while systemd can still find it.
    let wants = env.home.join(".config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).expect("wants");
    std::os::unix::fs::symlink(unit_path(&env), wants.join("openclaw-keepalive.service"))
        .expect("link");
    let refused = env.ctl(&["service", "uninstall", "--platform", "systemd"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("systemctl --user disable --now openclaw-keepalive"),
        "{}",
        text(&refused)
    );
    assert!(unit_path(&env).exists());

    std::fs::remove_file(wants.join("openclaw-keepalive.service")).expect("unlink");
    let removed = ok(&env.ctl(&["service", "uninstall", "--platform", "systemd"]));
    let advice = removed
        .find("systemctl --user stop openclaw-keepalive")
        .expect("advice");
    let done = removed.find("removed: ").expect("removed");
    assert!(advice < done, "advice comes first:\n{removed}");
    assert!(!unit_path(&env).exists());
    let again = ok(&env.ctl(&["service", "uninstall", "--platform", "systemd"]));
    assert!(again.starts_with("not installed"), "{again}");
}

#[test]
fn the_unit_honours_xdg_config_home_and_passes_the_profile() {
    let env = Env::new();
    let config = env.dir.path().join("cfg");
    let out = env.ctl_with(
        &[
            "service",
            "install",
            "--platform",
            "systemd",
            "--profile",
            "work",
        ],
        &[("XDG_CONFIG_HOME", config.as_os_str())],
    );
    ok(&out);
    let unit = std::fs::read_to_string(config.join("systemd/user/openclaw-keepalive.service"))
        .expect("unit under $XDG_CONFIG_HOME");
    assert!(unit.contains(" --profile work "), "{unit}");
    assert!(!unit_path(&env).exists());
}

#[test]
fn a_state_dir_set_only_in_the_shell_is_pointed_out() {
    let env = Env::new();
    let out = env.ctl_with(
        &["service", "install", "--platform", "systemd", "--print"],
        &[("OPENCLAW_STATE_DIR", env.state_dir.as_os_str())],
    );
    ok(&out);
    assert!(
        stderr(&out).contains("$OPENCLAW_STATE_DIR is set in this shell")
            && stderr(&out).contains("--state-dir"),
        "{}",
        text(&out)
    );
}

/// `systemd-analyze verify` on the unit, with paths that need quoting.
#[test]
fn systemd_analyze_verifies_the_unit() {
    let Some(analyze) = which("systemd-analyze") else {
        eprintln!("SKIPPED: systemd-analyze is not installed; the unit's content is still tested");
        return;
    };
    let env = Env::new();
    let odd = env.dir.path().join("odd 50% $dir \"q\"");
    std::fs::create_dir_all(&odd).expect("odd dir");
    let unit = ok(&env.ctl(&[
        "service",
        "install",
        "--platform",
        "systemd",
        "--state-dir",
        odd.to_str().expect("utf-8"),
        "--profile",
        "a b",
    ]));
    assert!(unit.contains(NEXT_SYSTEMD));
    let runtime = env.dir.path().join("analyze-run");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let out = Command::new(analyze)
        .args(["verify", "--user", "--man=no"])
        .arg(unit_path(&env))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("XDG_CONFIG_HOME", env.home.join(".config"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .current_dir(env.dir.path())
        .output()
        .expect("run systemd-analyze");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Unknown keys and bad values are only warnings: there must be none.
    assert!(
        !stderr(&out).contains("openclaw-keepalive"),
        "systemd-analyze complained:\n{}",
        text(&out)
    );
}

#[test]
fn install_and_uninstall_a_launchd_agent() {
    let env = Env::new();
    let out = ok(&env.ctl(&["service", "install", "--platform", "launchd"]));
    let plist = plist_path(&env);
    let uid = keepalive::paths::current_uid();
    assert!(
        out.contains(&format!(
            "next: launchctl bootstrap gui/{uid} {}\n",
            plist.display()
        )),
        "{out}"
    );
    let content = std::fs::read_to_string(&plist).expect("plist");
    let state_home = env.home.join("state/keepalive");
    assert!(state_home.is_dir(), "launchd needs the log directory");
    for needle in [
        "<string>ai.openclaw.keepalive</string>".to_string(),
        format!("<string>{}</string>", daemon_path().display()),
        format!("<string>{}</string>", env.socket.display()),
        format!(
            "<string>{}</string>",
            state_home.join("keepalived.log").display()
        ),
        format!(
            "<key>StandardErrorPath</key>\n\t<string>{}</string>",
            state_home.join("keepalived.stdio.log").display()
        ),
        "<key>RunAtLoad</key>\n\t<true/>".to_string(),
    ] {
        assert!(content.contains(&needle), "{needle} in:\n{content}");
    }
    check_plist_with_python(&plist);

    let status = ok(&env.ctl(&["service", "status", "--platform", "launchd"]));
    assert!(status.contains("launchd agent") && status.contains("installed, current"));
    let removed = ok(&env.ctl(&["service", "uninstall", "--platform", "launchd"]));
    assert!(
        removed.contains(&format!(
            "launchctl bootout gui/{uid}/ai.openclaw.keepalive"
        )),
        "{removed}"
    );
    assert!(!plist.exists());
}

/// Parses the plist with Python's plistlib (a real parser), when there is a python3.
fn check_plist_with_python(plist: &Path) {
    let Some(python) = which("python3") else {
        eprintln!("SKIPPED: no python3 to parse the plist; its content is still tested");
        return;
    };
    let script = "import plistlib, sys\n\
                  p = plistlib.load(open(sys.argv[1], 'rb'))\n\
                  assert p['Label'] == 'ai.openclaw.keepalive', p\n\
                  assert p['RunAtLoad'] is True and p['KeepAlive'] == {'SuccessfulExit': False}, p\n\
                  assert p['ProgramArguments'][0].endswith('/keepalived'), p\n\
                  print(len(p['ProgramArguments']))\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(plist)
        .output()
        .expect("run python3");
    assert_eq!(out.status.code(), Some(0), "plistlib: {}", text(&out));
}

#[test]
fn keepalived_tells_notify_socket_it_is_ready_and_stopping() {
    let env = Env::new();
    let notify = env.dir.path().join("notify.sock");
    let listener = UnixDatagram::bind(&notify).expect("bind the notify socket");
    listener
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut daemon = env.spawn_daemon_with(&[], &[("NOTIFY_SOCKET", notify.as_os_str())]);
    let ready = receive(&listener, &daemon);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS=serving 0 agent(s)"), "{ready:?}");
    // READY=1 comes once the socket answers.
    daemon.wait_ready(&env.socket);

    ok(&env.ctl(&["stop"]));
    let stopping = receive(&listener, &daemon);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(daemon.wait_exit(), Some(0));
}

fn receive(listener: &UnixDatagram, daemon: &support::Daemon) -> String {
    let mut buf = [0u8; 4096];
    let n = listener
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no notification ({e}); log:\n{}", daemon.log()));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A `sleep 30` standing in for the gateway; killed when dropped.
struct Gateway(Child);

impl Gateway {
    fn start() -> Self {
        Gateway(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn sleep"),
        )
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }

    /// Kills it and reaps it, as the gateway's own parent would.
    fn exit(&mut self) {
        self.0.kill().expect("kill sleep");
        self.0.wait().expect("wait sleep");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keepalived_exits_with_the_process_it_follows() {
    let env = Env::new();
    let mut gateway = Gateway::start();
    let mut daemon = env.daemon(&["--exit-with", &gateway.pid()]);
    assert!(env.socket.exists());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.child.try_wait().expect("try_wait"), None);

    gateway.exit();
    let started = Instant::now();
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!env.socket.exists(), "the socket is removed");
    let log = daemon.log();
    assert!(
        log.contains(&format!(
            "process {} (--exit-with) exited: shutting down",
            gateway.pid()
        )),
        "{log}"
    );
}

#[test]
fn exit_with_a_process_that_does_not_exist_fails() {
    let env = Env::new();
    let mut daemon = env.spawn_daemon(&["--exit-with", "999999999"]);
    assert_eq!(daemon.wait_exit(), Some(1), "{}", daemon.log());
    let log = daemon.log();
    assert!(
        log.contains("--exit-with 999999999: no process with that id is running"),
        "{log}"
    );
    assert!(!env.socket.exists());

    let out = env.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn keepalivectl_start_passes_exit_with_on() {
    let env = Env::new();
    let mut gateway = Gateway::start();
    let out = env.ctl(&["start", "--exit-with", &gateway.pid()]);
    ok(&out);
    let pid = env.status()["pid"].as_u64().expect("pid");

    gateway.exit();
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.socket.exists() {
        assert!(
            Instant::now() < deadline,
            "keepalived (pid {pid}) did not exit with the process it follows"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // A daemon that is already running keeps its options, and says so.
    let _daemon = env.daemon(&[]);
    let other = Gateway::start();
    let out = env.ctl(&["start", "--exit-with", &other.pid()]);
    ok(&out);
    assert!(
        stderr(&out).contains("--exit-with") && stderr(&out).contains("not applied"),
        "{}",
        text(&out)
    );
}

#[test]
fn keepalivectl_service_is_in_the_help() {
    let help = ok(&Command::new(CTL)
        .args(["service", "--help"])
        .output()
        .expect("run"));
    for sub in ["install", "uninstall", "status"] {
        assert!(help.contains(sub), "{help}");
    }
    let help = ok(&Command::new(CTL)
        .args(["service", "install", "--help"])
        .output()
        .expect("run"));
    assert!(
        help.contains("--print") && help.contains("--state-dir"),
        "{help}"
    );
    assert!(
        !help.contains("--platform"),
        "the test-only option is hidden"
    );
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
