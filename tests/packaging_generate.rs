//! What the package ships besides the binary works: generated man pages render, completions
//! load in bash, the hand-written jailor.conf(5) renders, the systemd unit is accepted by
//! `systemd-analyze verify` and keeps its hardening, the maintainer scripts parse.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const JAILOR: &str = env!("CARGO_BIN_EXE_jailor");

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn generate(what: &str, dir: &Path) -> Vec<PathBuf> {
    let out = Command::new(JAILOR)
        .args(["generate", what])
        .arg(dir)
        .output()
        .unwrap();
    ok(out, what).lines().map(PathBuf::from).collect()
}

fn packaging() -> PathBuf {
    jailor_testkit::project_root().join("packaging")
}

#[test]
fn man_pages_cover_every_subcommand_and_render() {
    let tmp = tempfile::tempdir().unwrap();
    let pages = generate("man", tmp.path());
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in [
        "jailor.1",
        "jailor-server.1",
        "jailor-check.1",
        "jailor-regex.1",
        "jailor-import-fail2ban-db.1",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    // The packaging helper is hidden: neither in --help nor with a page of its own.
    assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");
    let help = ok(
        Command::new(JAILOR).arg("--help").output().unwrap(),
        "--help",
    );
    assert!(!help.contains("generate"), "{help}");
    let main = std::fs::read_to_string(tmp.path().join("jailor.1")).unwrap();
    assert!(main.contains("import\\-fail2ban\\-db"), "{main}");
    let import = std::fs::read_to_string(tmp.path().join("jailor-import-fail2ban-db.1")).unwrap();
    assert!(import.contains("dry\\-run"), "{import}");

    let Some(man) = jailor_testkit::require_command("man_pages_render", "man", "man-db") else {
        return;
    };
    let mut all = pages.clone();
    all.push(packaging().join("man/jailor.conf.5"));
    for page in &all {
        let out = Command::new(&man)
            .args(["--warnings", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = ok(out.clone(), &page.display().to_string());
        assert!(text.contains("NAME"), "{}: {text}", page.display());
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
    }
}

#[test]
fn completions_load_in_bash_and_know_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let files = generate("completions", tmp.path());
    assert_eq!(files.len(), 3, "{files:?}");
    let bash = tmp.path().join("jailor.bash");
    let zsh = std::fs::read_to_string(tmp.path().join("_jailor")).unwrap();
    assert!(zsh.starts_with("#compdef jailor"), "{zsh}");
    let fish = std::fs::read_to_string(tmp.path().join("jailor.fish")).unwrap();
    assert!(fish.contains("import-fail2ban-db"), "{fish}");
    let Some(sh) = jailor_testkit::require_command("completions_bash", "bash", "bash") else {
        return;
    };
    let script = format!(
        "source {} && complete -p jailor && COMP_WORDS=(jailor imp) COMP_CWORD=1 \
         COMP_LINE='jailor imp' COMP_POINT=10 && _jailor jailor imp jailor && \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    );
    let out = ok(
        Command::new(sh).args(["-c", &script]).output().unwrap(),
        "bash completion",
    );
    assert!(out.contains("-F _jailor jailor"), "{out}");
    assert!(out.lines().any(|l| l == "import-fail2ban-db"), "{out}");
}

#[test]
fn the_unit_is_hardened_and_systemd_accepts_it() {
    let unit = std::fs::read_to_string(packaging().join("jailor.service")).unwrap();
    for line in [
        // Readiness through sd_notify (tests/daemon_notify.rs checks what the server sends).
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH",
        "RuntimeDirectory=jailor",
        "StateDirectory=jailor",
        "ExecStart=/usr/sbin/jailor server -f -x",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    // The server's flags in ExecStart exist.
    let help = ok(
        Command::new(JAILOR)
            .args(["server", "--help"])
            .output()
            .unwrap(),
        "server --help",
    );
    for flag in [" -f", " -x"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    let Some(analyze) =
        jailor_testkit::require_command("unit_verify", "systemd-analyze", "systemd")
    else {
        return;
    };
    // Verify a copy whose binary is the one just built (the installed one may be missing).
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("jailor.service");
    std::fs::write(&copy, unit.replace("/usr/sbin/jailor", JAILOR)).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only complaints about this unit count (a container lacks units it points at).
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("jailor.service") && !l.contains("not found"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}

#[test]
fn maintainer_scripts_parse_and_logrotate_names_the_log() {
    for script in ["postinst", "prerm", "postrm"] {
        let path = packaging().join("debian").join(script);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#DEBHELPER#"), "{script}");
        ok(
            Command::new("sh").arg("-n").arg(&path).output().unwrap(),
            script,
        );
    }
    let rotate = std::fs::read_to_string(packaging().join("jailor.logrotate")).unwrap();
    assert!(rotate.starts_with("# ") && rotate.contains("/var/log/jailor.log {"));
    // The daemon's default log is the file rotated.
    let conf =
        std::fs::read_to_string(jailor_testkit::project_root().join("config/jailor.conf")).unwrap();
    assert!(conf.contains("logtarget = /var/log/jailor.log"), "{conf}");
}

#[test]
fn postinst_offers_the_alternatives_again_when_fail2bans_files_come_or_go() {
    // Every fail2ban-* name the alternatives manage is a file trigger of the package.
    let triggers = std::fs::read_to_string(packaging().join("debian/triggers")).unwrap();
    for name in ["fail2ban-client", "fail2ban-server", "fail2ban-regex"] {
        assert!(
            triggers
                .lines()
                .any(|l| l == format!("interest-noawait /usr/bin/{name}")),
            "{name} is no trigger:\n{triggers}"
        );
    }
    // postinst, run with a recording update-alternatives: "triggered" installs the same
    // alternative as "configure" (which puts links where fail2ban's files went).
    let tmp = tempfile::tempdir().unwrap();
    let record = tmp.path().join("calls");
    let stub = tmp.path().join("update-alternatives");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", record.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        tmp.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut calls = Vec::new();
    for args in [
        &["configure", "0.1.0"][..],
        &["triggered", "/usr/bin/fail2ban-client"],
    ] {
        let _ = std::fs::remove_file(&record);
        ok(
            Command::new("sh")
                .arg(packaging().join("debian/postinst"))
                .args(args)
                .env("PATH", &path)
                .output()
                .unwrap(),
            &format!("postinst {args:?}"),
        );
        calls.push(std::fs::read_to_string(&record).unwrap_or_default());
    }
    assert!(
        calls[0].starts_with(
            "--install /usr/bin/fail2ban-client fail2ban-client /usr/sbin/jailor 10 --slave"
        ),
        "{calls:?}"
    );
    assert_eq!(calls[0], calls[1]);
    let unknown = Command::new("sh")
        .arg(packaging().join("debian/postinst"))
        .arg("bogus")
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}
