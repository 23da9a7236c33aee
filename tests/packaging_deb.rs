//! The Debian package holds what a sysadmin needs: the binary, the unit, the configuration as
//! conffiles, the logrotate snippet, man pages, completions and the alternatives scripts.
//!
//! Runs on the package named by `JAILOR_DEB`, else the newest under `<target>/debian/`
//! (`packaging/build-deb.sh` writes it there); skips when there is none.
use std::path::{Path, PathBuf};
use std::process::Command;

const JAILOR: &str = env!("CARGO_BIN_EXE_jailor");

/// The package to check, or a skip.
fn find_deb(test: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("JAILOR_DEB") {
        return Some(PathBuf::from(path));
    }
    // The test binary's target folder: <target>/<profile>/jailor.
    let target = Path::new(JAILOR).parent().and_then(Path::parent);
    let dirs = [
        target.map(|t| t.join("debian")),
        Some(jailor_testkit::project_root().join("target/debian")),
    ];
    let newest = dirs
        .iter()
        .flatten()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("jailor_"))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    match newest {
        Some(p) => Some(p),
        None => jailor_testkit::skip(
            test,
            "no jailor .deb found (run packaging/build-deb.sh or set JAILOR_DEB)",
        ),
    }
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dpkg-deb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One control member of the package (`conffiles`, `postinst`...).
fn dpkg_deb_member(deb: &Path, member: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-I")
        .arg(deb)
        .arg(member)
        .output()
        .unwrap();
    assert!(out.status.success(), "no {member} in {}", deb.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The paths in the package, without the leading `.`.
fn contents(deb: &Path) -> Vec<String> {
    dpkg_deb(&["-c"], deb)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_owned())
        .collect()
}

fn has(files: &[String], path: &str) -> bool {
    files.iter().any(|f| f == path)
}

/// A man page, gzipped or not.
fn has_page(files: &[String], path: &str) -> bool {
    has(files, path) || has(files, &format!("{path}.gz"))
}

#[test]
fn the_package_holds_binary_unit_config_pages_and_completions() {
    let test = "packaging_deb";
    let Some(_) = jailor_testkit::require_command(test, "dpkg-deb", "dpkg") else {
        return;
    };
    let Some(deb) = find_deb(test) else { return };
    let files = contents(&deb);
    let missing = |path: &str| format!("{path} missing from {}: {files:#?}", deb.display());

    assert!(
        has(&files, "/usr/sbin/jailor"),
        "{}",
        missing("/usr/sbin/jailor")
    );
    assert!(
        has(&files, "/usr/lib/systemd/system/jailor.service")
            || has(&files, "/lib/systemd/system/jailor.service"),
        "{}",
        missing("jailor.service")
    );
    assert!(
        has(&files, "/etc/logrotate.d/jailor"),
        "{}",
        missing("logrotate")
    );
    for page in ["man1/jailor.1", "man5/jailor.conf.5"] {
        let path = format!("/usr/share/man/{page}");
        assert!(has_page(&files, &path), "{}", missing(&path));
    }
    for completion in [
        "/usr/share/bash-completion/completions/jailor",
        "/usr/share/zsh/vendor-completions/_jailor",
        "/usr/share/fish/vendor_completions.d/jailor.fish",
    ] {
        assert!(has(&files, completion), "{}", missing(completion));
    }

    // One man page per visible subcommand, as `jailor --help` lists them.
    let help = Command::new(JAILOR).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let subcommands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip(1) // the rest of the "Commands:" line
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .collect();
    assert!(subcommands.contains(&"server"), "{help}");
    for sub in &subcommands {
        let path = format!("/usr/share/man/man1/jailor-{sub}.1");
        assert!(has_page(&files, &path), "{}", missing(&path));
    }

    // Every file of the default configuration is installed under /etc/jailor, and is a
    // conffile, so a sysadmin's changes survive upgrades.
    let conffiles = dpkg_deb_member(&deb, "conffiles");
    let config = jailor_testkit::project_root().join("config");
    let mut count = 0;
    for entry in walk(&config) {
        let rel = entry
            .strip_prefix(&config)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let installed = format!("/etc/jailor/{rel}");
        assert!(has(&files, &installed), "{}", missing(&installed));
        assert!(
            conffiles.lines().any(|l| l.trim() == installed),
            "{installed} is not a conffile:\n{conffiles}"
        );
        count += 1;
    }
    assert!(
        count > 50,
        "only {count} configuration files in {}",
        config.display()
    );

    // The maintainer scripts offer the fail2ban names through alternatives and take them back.
    let info = dpkg_deb(&["-I"], &deb);
    assert!(info.contains("Package: jailor"), "{info}");
    for script in ["postinst", "prerm"] {
        assert!(info.contains(script), "no {script}: {info}");
    }
    // File triggers rerun postinst when fail2ban's files come or go.
    let triggers = dpkg_deb_member(&deb, "triggers");
    assert!(
        triggers.contains("interest-noawait /usr/bin/fail2ban-client"),
        "{triggers}"
    );
    let postinst = dpkg_deb_member(&deb, "postinst");
    for name in ["fail2ban-client", "fail2ban-server", "fail2ban-regex"] {
        assert!(
            postinst.contains(&format!("/usr/bin/{name} {name} /usr/sbin/jailor")),
            "{name} alternative missing:\n{postinst}"
        );
    }
}

/// Every regular file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}
