//! The service files themselves: a systemd user unit and a launchd agent
//! plist, as pure functions of a [`ServiceSpec`], so both are tested on
//! every platform.

use std::path::{Path, PathBuf};

use super::{LAUNCHD_LABEL, SYSTEMD_UNIT};

/// What the service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Absolute path of keepalived.
    pub daemon: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The systemd user unit for `spec`.
pub fn systemd_unit(spec: &ServiceSpec) -> Result<String, String> {
    let mut exec = vec![systemd_quote(&utf8(&spec.daemon)?)?];
    for arg in &spec.args {
        exec.push(systemd_quote(arg)?);
    }
    Ok(format!(
        "\
# Written by `keepalivectl service install`. Run it again rather than editing this file
# (`keepalivectl service status` compares the two); local changes belong in
# `systemctl --user edit {SYSTEMD_UNIT}`.
[Unit]
Description=keepalive for OpenClaw: keeps chat sessions from expiring (keepalived)

[Service]
Type=notify
NotifyAccess=main
ExecStart={}
Restart=on-failure
RestartSec=5
# 2: bad command line; 4: another keepalived already serves the socket. Restarting fixes neither.
RestartPreventExitStatus=2 4

[Install]
WantedBy=default.target
",
        exec.join(" ")
    ))
}

/// The launchd agent plist for `spec`; launchd sends the daemon's stdout
/// and stderr to `output_log`.
pub fn launchd_plist(spec: &ServiceSpec, output_log: &Path) -> Result<String, String> {
    let mut arguments = format!("\t\t<string>{}</string>\n", xml(&utf8(&spec.daemon)?)?);
    for arg in &spec.args {
        arguments.push_str(&format!("\t\t<string>{}</string>\n", xml(arg)?));
    }
    let log = xml(&utf8(output_log)?)?;
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `keepalivectl service install`. Run it again rather than editing this file. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{LAUNCHD_LABEL}</string>
	<key>ProgramArguments</key>
	<array>
{arguments}	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>StandardOutPath</key>
	<string>{log}</string>
	<key>StandardErrorPath</key>
	<string>{log}</string>
</dict>
</plist>
"#
    ))
}

pub(super) fn utf8(path: &Path) -> Result<String, String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        format!(
            "{} is not valid UTF-8, which service files cannot hold; use a path without such bytes",
            path.display()
        )
    })
}

/// One word of a systemd `ExecStart=` line: `%` (specifiers) and `$`
/// (variables) are doubled everywhere; anything but plain characters is
/// double-quoted with C-style escapes.
fn systemd_quote(word: &str) -> Result<String, String> {
    if word.chars().any(char::is_control) {
        return Err(format!(
            "{word:?} contains a control character, which a systemd unit cannot hold"
        ));
    }
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "/._-+=:@,%$".contains(c));
    let mut out = String::with_capacity(word.len() + 2);
    if !plain {
        out.push('"');
    }
    for c in word.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    if !plain {
        out.push('"');
    }
    Ok(out)
}

/// Text for a plist `<string>`.
fn xml(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!(
            "{text:?} contains a control character, which a plist cannot hold"
        ));
    }
    Ok(text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;"))
}

/// `word` quoted for a POSIX shell where needed.
pub(super) fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> ServiceSpec {
        ServiceSpec {
            daemon: PathBuf::from("/opt/keep alive/bin/keepalived"),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn the_systemd_unit_has_every_directive() {
        let unit = systemd_unit(&spec(&["--state-dir", "/home/me/.openclaw"])).expect("unit");
        for line in [
            "[Unit]",
            "Description=keepalive for OpenClaw: keeps chat sessions from expiring (keepalived)",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
            r#"ExecStart="/opt/keep alive/bin/keepalived" --state-dir /home/me/.openclaw"#,
            "Restart=on-failure",
            "RestartSec=5",
            "RestartPreventExitStatus=2 4",
            "[Install]",
            "WantedBy=default.target",
        ] {
            assert!(unit.lines().any(|l| l == line), "{line:?} missing:\n{unit}");
        }
    }

    #[test]
    fn systemd_words_escape_specifiers_variables_and_quotes() {
        assert_eq!(systemd_quote("/a/b").unwrap(), "/a/b");
        assert_eq!(systemd_quote("50%").unwrap(), "50%%");
        assert_eq!(systemd_quote("$HOME").unwrap(), "$$HOME");
        assert_eq!(systemd_quote(r#"a "b" \c"#).unwrap(), r#""a \"b\" \\c""#);
        assert_eq!(systemd_quote("").unwrap(), r#""""#);
        assert!(systemd_quote("a\nb").is_err());
    }

    #[test]
    fn the_launchd_plist_has_label_arguments_keepalive_and_logs() {
        let plist = launchd_plist(
            &spec(&[
                "--profile",
                "a&b",
                "--log-file",
                "/Users/me/ka/keepalived.log",
            ]),
            Path::new("/Users/me/ka/keepalived.stdio.log"),
        )
        .expect("plist");
        assert!(plist.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        for needle in [
            "<key>Label</key>\n\t<string>ai.openclaw.keepalive</string>",
            "<key>ProgramArguments</key>\n\t<array>\n\t\t<string>/opt/keep alive/bin/keepalived</string>\n\t\t<string>--profile</string>\n\t\t<string>a&amp;b</string>\n",
            "<key>RunAtLoad</key>\n\t<true/>",
            "<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>",
            "<key>StandardOutPath</key>\n\t<string>/Users/me/ka/keepalived.stdio.log</string>",
            "<key>StandardErrorPath</key>\n\t<string>/Users/me/ka/keepalived.stdio.log</string>",
        ] {
            assert!(plist.contains(needle), "{needle:?} missing:\n{plist}");
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/a/b.plist"), "/a/b.plist");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
