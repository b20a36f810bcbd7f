//! Which OpenClaw release keepalive believes it faces (issue 10, finding 5), end to end:
//! found from a running gateway process serving this state dir, else `meta.lastTouchedVersion`
//! in `openclaw.json`, else an `openclaw` package on `PATH`; shown with its source in `status`,
//! `status --json`, `doctor` and the log, and re-detected each tick. The process here is a real
//! process whose command line runs a file inside an `openclaw` package folder, as a gateway's
//! does (`node .../node_modules/openclaw/openclaw.mjs gateway run`); the interop suite checks
//! the same against a real gateway.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::{Env, ok};

/// A fake installed package `<root>/node_modules/openclaw` of `version`, with an
/// `openclaw.mjs` that is a shell script sleeping (so it can run as a "gateway").
fn package(root: &Path, version: &str) -> PathBuf {
    let dir = root.join("node_modules/openclaw");
    std::fs::create_dir_all(&dir).expect("package dir");
    std::fs::write(
        dir.join("package.json"),
        format!("{{\n  \"name\": \"openclaw\",\n  \"version\": \"{version}\"\n}}\n"),
    )
    .expect("package.json");
    std::fs::write(dir.join("openclaw.mjs"), "sleep 600\n").expect("openclaw.mjs");
    dir
}

fn release(status: &Value) -> (Value, String, String) {
    let r = &status["openclaw_release"];
    (
        r["version"].clone(),
        r["source"].as_str().unwrap_or_default().to_string(),
        r["detail"].as_str().unwrap_or_default().to_string(),
    )
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `sh <package>/openclaw.mjs gateway run` with `OPENCLAW_STATE_DIR` set to `state_dir`.
fn gateway(package: &Path, state_dir: &Path) -> Gateway {
    Gateway(
        Command::new("sh")
            .arg(package.join("openclaw.mjs"))
            .args(["gateway", "run"])
            .env("OPENCLAW_STATE_DIR", state_dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn the stand-in gateway process"),
    )
}

#[test]
fn the_release_comes_from_the_running_gateway_else_the_config_else_the_package() {
    let env = Env::new();
    let empty_path = env.dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty_path).expect("dir");
    let no_package: [(&str, &OsStr); 1] = [("PATH", empty_path.as_os_str())];

    // Nothing tells: unknown, and it says what it assumes.
    let daemon = env.spawn_daemon_with(&["--tick-ms", "200"], &no_package);
    daemon.wait_ready(&env.socket);
    let (version, source, detail) = release(&env.status());
    assert_eq!((version, source.as_str()), (Value::Null, "unknown"));
    assert!(detail.contains("assumes each release line"), "{detail}");
    let said = ok(&env.ctl(&["status"]));
    assert!(said.contains("openclaw:  release unknown"), "{said}");
    assert!(
        daemon.log().contains("OpenClaw release unknown"),
        "{}",
        daemon.log()
    );

    // The config's meta.lastTouchedVersion, picked up at the next tick.
    env.config("{ meta: { lastTouchedVersion: '2026.4.12' }, session: {} }");
    let status = env.wait_status("the config's release", |s| {
        s["openclaw_release"]["version"] == "2026.4.12"
    });
    assert_eq!(release(&status).1, "config");
    assert!(ok(&env.ctl(&["status"])).contains("openclaw:  2026.4.12"));

    // A running gateway serving this state dir beats the config.
    let installed = package(&env.dir.path().join("pkg"), "2026.6.35");
    let gw = gateway(&installed, &env.state_dir);
    let status = env.wait_status("the running gateway's release", |s| {
        s["openclaw_release"]["version"] == "2026.6.35"
    });
    let (_, source, detail) = release(&status);
    assert_eq!(source, "process");
    assert!(
        detail.contains(&format!("gateway pid {}", gw.0.id()))
            && detail.contains("node_modules/openclaw/package.json"),
        "{detail}"
    );
    assert!(
        daemon.log().contains("OpenClaw 2026.6.35"),
        "the change is logged: {}",
        daemon.log()
    );

    // A gateway serving another state dir is not ours.
    drop(gw);
    let other = env.dir.path().join("other-state");
    std::fs::create_dir_all(&other).expect("dir");
    let _theirs = gateway(&installed, &other);
    let status = env.wait_status("back to the config", |s| {
        s["openclaw_release"]["source"] == "config"
    });
    assert_eq!(release(&status).0, "2026.4.12");
    drop(daemon);

    // doctor (no daemon) finds the installed package on PATH when nothing else tells.
    env.config("{ session: {} }");
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(installed.join("openclaw.mjs"), bin.join("openclaw"))
        .expect("bin link");
    let state_dir = env.state_dir.display().to_string();
    let with_package: [(&str, &OsStr); 1] = [("PATH", bin.as_os_str())];
    let out = env.ctl_with(
        &["--json", "doctor", "--state-dir", &state_dir],
        &with_package,
    );
    let report: Value = serde_json::from_str(ok(&out).trim()).expect("doctor --json");
    let (version, source, detail) = release(&report);
    assert_eq!(
        (version, source.as_str()),
        (Value::from("2026.6.35"), "package")
    );
    assert!(detail.contains("installed package"), "{detail}");
    // A package (like the config) is a hint: the gateway may run a newer release, so doctor
    // lists the policy of the hint's line and of any later one the stores allow; here both
    // are daily at 4 by default.
    assert_eq!(
        report["reset_policy"][0]["release"],
        "if 2026.5.2 to 2026.7.35"
    );
    assert_eq!(report["reset_policy"][0]["rule"]["mode"], "daily");
    assert!(
        detail.contains("later release lines are considered"),
        "{detail}"
    );
    let out = env.ctl_with(&["doctor", "--state-dir", &state_dir], &with_package);
    assert!(ok(&out).contains("OpenClaw:   2026.6.35"), "{}", ok(&out));
}
