//! jailor's own actions (`config/action.d`), read by the configuration reader as a jail
//! would name them and run by the real action runner.
//!
//! Every command runs through a recording shell: it keeps each rendered script, checks its
//! syntax with `sh -n` and then runs it. Without root the tools are stubs that record their
//! arguments, and the test compares them with the commands each tool must get (start, a
//! ban and an unban per address family, stop). Where the tool runs here (`iptables`/
//! `ip6tables`, `ipset`, `nft`, `ip route`) the same lifecycle runs for real inside a
//! network namespace the test creates: the ban is in the firewall, `actioncheck` passes,
//! and once unbanned and stopped the firewall is exactly as it was. `hostsdeny` and `dummy`
//! write a temporary file; `mail` goes to a stub `sendmail` and must not run log text.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use jailor_action::{
    Action, ActionRunner, ActionSpec, BanContext, CommandKind, Family, HostNames, JailInfo,
    Outcome, RunnerOptions, Skip, Ticket,
};
use jailor_config::{extract_options, Loader};

const V4: &str = "192.0.2.7";
const V6: &str = "2001:db8::7";
/// The tools our actions call, stubbed when not run for real.
const TOOLS: &[&str] = &[
    "iptables",
    "ip6tables",
    "ipset",
    "nft",
    "ip",
    "firewall-cmd",
    "ufw",
    "shorewall",
    "shorewall6",
    "sendmail",
];

fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// A folder with the recording shell (and the stub tools, for stubbed runs).
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    /// `run_in`: what runs each script (`ip netns exec NS`, or nothing); `stubs`: put the
    /// recording tools first on the `PATH` the scripts see.
    fn new(run_in: &[&str], stubs: bool) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let calls = d.join("calls");
        for tool in TOOLS {
            // One line per call: the tool and each argument in brackets, written with one
            // `printf` (calls run concurrently); sendmail keeps its input too.
            let keep_input = if *tool == "sendmail" {
                format!("cat >> '{}'\n", d.join("mailbox").display())
            } else {
                String::new()
            };
            let script = format!(
                "#!/bin/sh\nl='{tool}'; for a in \"$@\"; do l=\"$l [$a]\"; done; printf '%s\\n' \"$l\" >> '{}'\n{keep_input}exit 0\n",
                calls.display()
            );
            write_exec(&bin.join(tool), &script);
        }
        let path = if stubs {
            format!("PATH='{}':\"$PATH\"; export PATH\n", bin.display())
        } else {
            String::new()
        };
        let shell = format!(
            "#!/bin/sh\n[ \"$1\" = -c ] || exit 96\nprintf '%s\\n--\\n' \"$2\" >> '{}'\n/bin/sh -n -c \"$2\" || exit 97\n{path}exec {} /bin/sh -c \"$2\"\n",
            d.join("scripts").display(),
            run_in.join(" ")
        );
        write_exec(&d.join("shell"), &shell);
        Bench { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn runner(&self) -> ActionRunner {
        let mut o = RunnerOptions::default();
        o.shell = self.path("shell");
        // The recording shell takes `-c SCRIPT` only: no co-process reading stdin.
        o.coprocess = false;
        o.hostnames = HostNames::new("gate.example.org");
        ActionRunner::new(o)
    }

    /// The stub calls so far, one per line.
    fn calls(&self) -> Vec<String> {
        read(&self.path("calls"))
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Clears the recorded calls.
    fn clear(&self) {
        let _ = std::fs::remove_file(self.path("calls"));
    }

    /// Every script the shell ran.
    fn scripts(&self) -> String {
        read(&self.path("scripts"))
    }

    /// `file[args]` from `config/action.d`, as the jail `sshd` would name it.
    fn action(&self, file: &str, args: &str) -> Action {
        let text = format!("{file}[{args}]");
        let (name, args) = extract_options(&text).unwrap();
        let spec = Loader::new(config())
            .load_action(&name, &args, "sshd")
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        // As the daemon hands a command action to the runner (native.rs).
        let props = spec
            .commands
            .iter()
            .chain(spec.properties.iter())
            .map(|(k, v)| (k.clone(), v.clone()));
        Action::new(&ActionSpec::new(&spec.actname, props), &self.runner())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn ticket(addr: &str) -> Ticket {
    let mut t = Ticket::new(addr.parse().unwrap(), 1_700_000_000.0);
    t.failures = 3;
    // Log text that tries to run something: it must reach a command only as data.
    t.matches = vec![format!(
        "sshd[1]: Invalid user $(touch PWNED) `touch PWNED` ';touch PWNED;' from {addr}"
    )];
    t
}

/// Succeeded without a repair (a failed command would come back `Recovered` or `Err`).
fn ok(what: &str, r: Result<Outcome, jailor_action::Error>) {
    match r {
        Ok(Outcome::Done) | Ok(Outcome::Skipped(Skip::OnDemand | Skip::NotDefined)) => {}
        other => panic!("{what}: {other:?}"),
    }
}

fn ban(a: &Action, addr: &str) {
    let jail = JailInfo::new("sshd");
    ok(
        &format!("ban {addr}"),
        a.ban(&ticket(addr), &BanContext::new(&jail)),
    );
}

fn unban(a: &Action, addr: &str) {
    let jail = JailInfo::new("sshd");
    ok(
        &format!("unban {addr}"),
        a.unban(&ticket(addr), &BanContext::new(&jail)),
    );
}

/// start, ban and unban an IPv4 and an IPv6 address, stop: the stub calls of each step.
fn stub_lifecycle(bench: &Bench, a: &Action) -> Vec<Vec<String>> {
    let mut steps = Vec::new();
    let mut step = |f: &dyn Fn()| {
        bench.clear();
        f();
        steps.push(bench.calls());
    };
    step(&|| ok("start", a.start()));
    step(&|| ban(a, V4));
    step(&|| ban(a, V6));
    step(&|| unban(a, V4));
    step(&|| unban(a, V6));
    step(&|| ok("stop", a.stop()));
    steps
}

/// The stub calls of `actioncheck` once an IPv4 and an IPv6 address are banned.
fn stub_check(bench: &Bench, a: &Action) -> Vec<String> {
    ban(a, V4);
    ban(a, V6);
    bench.clear();
    ok("check", a.check());
    bench.calls()
}

/// `sh -n` on the command (`actioncheck` and `actionstart` have no per-ban tags).
fn syntax_ok(a: &Action, kind: CommandKind) {
    for family in [Family::Any, Family::Inet4, Family::Inet6] {
        if let Some(cmd) = a.command(kind, family) {
            let out = Command::new("/bin/sh")
                .args(["-n", "-c", cmd])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{} {kind:?} {family:?}: {}\n{cmd}",
                a.name(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const JAIL_ARGS: &str = "name=sshd, protocol=tcp, port=\"ssh,http\", chain=\"<known/chain>\"";

#[test]
fn every_action_is_listed_here() {
    let mut names: Vec<String> = std::fs::read_dir(config().join("action.d"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".conf"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dummy",
            "firewalld",
            "hostsdeny",
            "ipset",
            "iptables",
            "jailor-nftables",
            "mail",
            "route",
            "shorewall",
            "ufw"
        ],
        "a new action needs its test here"
    );
    // Every action's start, stop and check parse as shell.
    let bench = Bench::new(&[], true);
    for n in &names {
        let a = bench.action(n, JAIL_ARGS);
        for kind in [
            CommandKind::Start,
            CommandKind::Stop,
            CommandKind::Check,
            CommandKind::Flush,
        ] {
            syntax_ok(&a, kind);
        }
    }
}

#[test]
fn iptables_commands() {
    let bench = Bench::new(&[], true);
    let a = bench.action("iptables", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    let ipt = "iptables [-w]";
    let ip6 = "ip6tables [-w]";
    let m = "[-p] [tcp] [-m] [multiport] [--dports] [ssh,http]";
    assert_eq!(
        steps,
        vec![
            // Started with the first ban of each family.
            vec![],
            vec![
                format!("{ipt} [-N] [jailor-sshd]"),
                format!("{ipt} [-A] [jailor-sshd] [-j] [RETURN]"),
                format!("{ipt} [-I] [INPUT] {m} [-j] [jailor-sshd]"),
                format!("{ipt} [-I] [jailor-sshd] [1] [-s] [{V4}] [-j] [REJECT] [--reject-with=icmp-port-unreachable]"),
            ],
            vec![
                format!("{ip6} [-N] [jailor-sshd]"),
                format!("{ip6} [-A] [jailor-sshd] [-j] [RETURN]"),
                format!("{ip6} [-I] [INPUT] {m} [-j] [jailor-sshd]"),
                format!("{ip6} [-I] [jailor-sshd] [1] [-s] [{V6}] [-j] [REJECT] [--reject-with=icmp6-port-unreachable]"),
            ],
            vec![format!("{ipt} [-D] [jailor-sshd] [-s] [{V4}] [-j] [REJECT] [--reject-with=icmp-port-unreachable]")],
            vec![format!("{ip6} [-D] [jailor-sshd] [-s] [{V6}] [-j] [REJECT] [--reject-with=icmp6-port-unreachable]")],
            vec![
                format!("{ipt} [-D] [INPUT] {m} [-j] [jailor-sshd]"),
                format!("{ipt} [-F] [jailor-sshd]"),
                format!("{ipt} [-X] [jailor-sshd]"),
                format!("{ip6} [-D] [INPUT] {m} [-j] [jailor-sshd]"),
                format!("{ip6} [-F] [jailor-sshd]"),
                format!("{ip6} [-X] [jailor-sshd]"),
            ],
        ]
    );
    let bench = Bench::new(&[], true);
    let a = bench.action("iptables", JAIL_ARGS);
    assert_eq!(
        stub_check(&bench, &a),
        vec![
            format!("{ipt} [-C] [INPUT] {m} [-j] [jailor-sshd]"),
            format!("{ip6} [-C] [INPUT] {m} [-j] [jailor-sshd]"),
        ]
    );
    // type=allports drops the port match; a jail's blocktype replaces the reject.
    let bench = Bench::new(&[], true);
    let a = bench.action("iptables", "name=sshd, type=allports, blocktype=DROP");
    ban(&a, V4);
    assert_eq!(
        bench.calls()[2..],
        lines(&[
            "iptables [-w] [-I] [INPUT] [-p] [tcp] [-j] [jailor-sshd]",
            "iptables [-w] [-I] [jailor-sshd] [1] [-s] [192.0.2.7] [-j] [DROP]",
        ])
    );
}

#[test]
fn ipset_commands() {
    let bench = Bench::new(&[], true);
    let a = bench.action("ipset", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    let m = "[-p] [tcp] [-m] [multiport] [--dports] [ssh,http]";
    assert_eq!(
        steps,
        vec![
            vec![],
            vec![
                "ipset [-exist] [create] [jailor-sshd] [hash:ip] [timeout] [0] [family] [inet]".to_owned(),
                format!("iptables [-w] [-I] [INPUT] {m} [-m] [set] [--match-set] [jailor-sshd] [src] [-j] [REJECT] [--reject-with=icmp-port-unreachable]"),
                format!("ipset [-exist] [add] [jailor-sshd] [{V4}] [timeout] [600]"),
            ],
            vec![
                "ipset [-exist] [create] [jailor6-sshd] [hash:ip] [timeout] [0] [family] [inet6]".to_owned(),
                format!("ip6tables [-w] [-I] [INPUT] {m} [-m] [set] [--match-set] [jailor6-sshd] [src] [-j] [REJECT] [--reject-with=icmp6-port-unreachable]"),
                format!("ipset [-exist] [add] [jailor6-sshd] [{V6}] [timeout] [600]"),
            ],
            vec![format!("ipset [-exist] [del] [jailor-sshd] [{V4}]")],
            vec![format!("ipset [-exist] [del] [jailor6-sshd] [{V6}]")],
            vec![
                format!("iptables [-w] [-D] [INPUT] {m} [-m] [set] [--match-set] [jailor-sshd] [src] [-j] [REJECT] [--reject-with=icmp-port-unreachable]"),
                "ipset [flush] [jailor-sshd]".to_owned(),
                "ipset [destroy] [jailor-sshd]".to_owned(),
                format!("ip6tables [-w] [-D] [INPUT] {m} [-m] [set] [--match-set] [jailor6-sshd] [src] [-j] [REJECT] [--reject-with=icmp6-port-unreachable]"),
                "ipset [flush] [jailor6-sshd]".to_owned(),
                "ipset [destroy] [jailor6-sshd]".to_owned(),
            ],
        ]
    );
    let bench = Bench::new(&[], true);
    let a = bench.action("ipset", JAIL_ARGS);
    assert_eq!(
        stub_check(&bench, &a),
        vec![
            format!("iptables [-w] [-C] [INPUT] {m} [-m] [set] [--match-set] [jailor-sshd] [src] [-j] [REJECT] [--reject-with=icmp-port-unreachable]"),
            format!("ip6tables [-w] [-C] [INPUT] {m} [-m] [set] [--match-set] [jailor6-sshd] [src] [-j] [REJECT] [--reject-with=icmp6-port-unreachable]"),
        ]
    );
    // A permanent ban (-1) is an ipset entry without timeout (0).
    let bench = Bench::new(&[], true);
    let a = bench.action("ipset", JAIL_ARGS);
    let mut t = ticket(V4);
    t.bantime = -1;
    let jail = JailInfo::new("sshd");
    ok("permanent ban", a.ban(&t, &BanContext::new(&jail)));
    assert_eq!(
        bench.calls().last().unwrap(),
        "ipset [-exist] [add] [jailor-sshd] [192.0.2.7] [timeout] [0]"
    );
}

#[test]
fn nftables_shell_commands() {
    let bench = Bench::new(&[], true);
    let a = bench.action("jailor-nftables", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    let nft = "nft [--]";
    let m = "[meta] [l4proto] [{] [tcp] [}] [th] [dport] [{] [ssh,http] [}]";
    assert_eq!(
        steps[1],
        vec![
            format!("{nft} [add] [table] [inet] [jailor]"),
            format!("{nft} [add] [set] [inet] [jailor] [addr-sshd] [{{ type ipv4_addr; flags timeout; }}]"),
            format!("{nft} [add] [chain] [inet] [jailor] [in-sshd] [{{ type filter hook input priority -1; policy accept; }}]"),
            format!("{nft} [add] [rule] [inet] [jailor] [in-sshd] {m} [ip] [saddr] [@addr-sshd] [reject]"),
            format!("{nft} [add] [element] [inet] [jailor] [addr-sshd] [{{ {V4} timeout 600s }}]"),
        ]
    );
    assert_eq!(
        steps[2].last().unwrap(),
        &format!("{nft} [add] [element] [inet] [jailor] [addr6-sshd] [{{ {V6} timeout 600s }}]")
    );
    assert!(
        steps[2]
            .iter()
            .any(|c| c.contains("[ip6] [saddr] [@addr6-sshd]")),
        "{:?}",
        steps[2]
    );
    assert_eq!(
        steps[3],
        vec![format!(
            "{nft} [delete] [element] [inet] [jailor] [addr-sshd] [{{ {V4} }}]"
        )]
    );
    assert_eq!(
        steps[5][..2],
        lines(&[
            "nft [--] [delete] [chain] [inet] [jailor] [in-sshd]",
            "nft [--] [delete] [set] [inet] [jailor] [addr-sshd]",
        ])
    );
}

#[test]
fn firewalld_ufw_shorewall_route_commands() {
    let bench = Bench::new(&[], true);
    let a = bench.action("firewalld", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    let rich = |fam: &str, ip: &str, port: &str| {
        format!(
            "rule family='{fam}' source address='{ip}' port port='{port}' protocol='tcp' reject"
        )
    };
    assert_eq!(
        steps[1],
        vec![
            format!(
                "firewall-cmd [--quiet] [--add-rich-rule={}] [--timeout=600s]",
                rich("ipv4", V4, "ssh")
            ),
            format!(
                "firewall-cmd [--quiet] [--add-rich-rule={}] [--timeout=600s]",
                rich("ipv4", V4, "http")
            ),
        ]
    );
    assert_eq!(
        steps[4],
        vec![
            format!(
                "firewall-cmd [--quiet] [--remove-rich-rule={}]",
                rich("ipv6", V6, "ssh")
            ),
            format!(
                "firewall-cmd [--quiet] [--remove-rich-rule={}]",
                rich("ipv6", V6, "http")
            ),
        ]
    );
    assert!(steps[0].is_empty() && steps[5].is_empty(), "{steps:?}");
    let bench = Bench::new(&[], true);
    let a = bench.action("firewalld", JAIL_ARGS);
    let checks = stub_check(&bench, &a);
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c == "firewall-cmd [--state]"),
        "{checks:?}"
    );

    let bench = Bench::new(&[], true);
    let a = bench.action("ufw", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    assert_eq!(
        steps[1],
        lines(&["ufw [prepend] [deny] [from] [192.0.2.7] [to] [any] [port] [ssh,http] [proto] [tcp] [comment] [jailor sshd]"])
    );
    assert_eq!(
        steps[4],
        lines(&[
            "ufw [delete] [deny] [from] [2001:db8::7] [to] [any] [port] [ssh,http] [proto] [tcp]"
        ])
    );

    let bench = Bench::new(&[], true);
    let a = bench.action("shorewall", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    assert_eq!(steps[1], lines(&["shorewall [reject] [192.0.2.7]"]));
    assert_eq!(steps[2], lines(&["shorewall6 [reject] [2001:db8::7]"]));
    assert_eq!(steps[3], lines(&["shorewall [allow] [192.0.2.7]"]));
    assert_eq!(steps[4], lines(&["shorewall6 [allow] [2001:db8::7]"]));

    let bench = Bench::new(&[], true);
    let a = bench.action("route", JAIL_ARGS);
    let steps = stub_lifecycle(&bench, &a);
    assert_eq!(
        steps[1],
        lines(&["ip [route] [add] [unreachable] [192.0.2.7]"])
    );
    assert_eq!(
        steps[2],
        lines(&["ip [route] [add] [unreachable] [2001:db8::7]"])
    );
    assert_eq!(
        steps[3],
        lines(&["ip [route] [del] [unreachable] [192.0.2.7]"])
    );
}

#[test]
fn mail_sends_the_report_and_never_runs_log_text() {
    let bench = Bench::new(&[], true);
    let a = bench.action(
        "mail",
        "name=sshd, dest=\"admin@example.org\", sender=\"jailor@gate.example.org\", lines=yes, mailcmd=sendmail -t",
    );
    let steps = stub_lifecycle(&bench, &a);
    assert_eq!(steps[0], lines(&["sendmail [-t]"]));
    assert_eq!(steps[1], lines(&["sendmail [-t]"]));
    assert!(steps[3].is_empty(), "no mail on unban: {steps:?}");
    let mailbox = read(&bench.path("mailbox"));
    assert!(mailbox.contains("To: admin@example.org\n"), "{mailbox}");
    assert!(
        mailbox.contains("Subject: [jailor] sshd: banned 192.0.2.7 on gate.example.org"),
        "{mailbox}"
    );
    assert!(
        mailbox.contains("banned by the jail sshd on gate.example.org after 3 failures"),
        "{mailbox}"
    );
    // The matched line arrives as written, and nothing in it ran.
    assert!(
        mailbox
            .contains("Invalid user $(touch PWNED) `touch PWNED` ';touch PWNED;' from 192.0.2.7"),
        "{mailbox}"
    );
    assert!(!bench.dir.path().join("PWNED").exists());
    assert!(!Path::new("PWNED").exists());
    assert!(
        !bench.scripts().contains("touch PWNED"),
        "log text in a script"
    );
}

#[test]
fn hostsdeny_and_dummy_leave_their_file_as_it_was() {
    let bench = Bench::new(&[], false);
    let file = bench.path("hosts.deny");
    let before = "# local rules\nsshd: 198.51.100.1\nALL: 192.0.2.70\n";
    std::fs::write(&file, before).unwrap();
    let a = bench.action("hostsdeny", &format!("file=\"{}\"", file.display()));
    ok("start", a.start());
    ban(&a, V4);
    ban(&a, V6);
    assert_eq!(
        read(&file),
        format!("{before}ALL: {V4}\nALL: [{V6}]\n"),
        "hosts.deny after the bans"
    );
    unban(&a, V4);
    unban(&a, V6);
    ok("stop", a.stop());
    assert_eq!(read(&file), before, "hosts.deny after the unbans");

    let target = bench.path("dummy");
    let a = bench.action(
        "dummy",
        &format!("name=sshd, target=\"{}\"", target.display()),
    );
    ok("start", a.start());
    ban(&a, V4);
    unban(&a, V4);
    ok("stop", a.stop());
    assert_eq!(
        read(&target),
        format!("start sshd\n+{V4}\n-{V4}\nstop sshd\n")
    );
}

/// A network namespace for one test, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "jailor-act-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        sh_ok("ip", &["netns", "add", &name]);
        let ns = Netns(name);
        ns.run("ip link set lo up");
        ns
    }

    /// `sh -c script` inside the namespace; its stdout (it must succeed).
    fn run(&self, script: &str) -> String {
        sh_ok("ip", &["netns", "exec", &self.0, "sh", "-c", script])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh_ok(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Root and the tools, or a skip.
fn require(test: &str, tools: &[(&str, &str)]) -> Option<()> {
    jailor_testkit::require_root(test)?;
    jailor_testkit::require_command(test, "ip", "iproute2")?;
    for (tool, package) in tools {
        jailor_testkit::require_command(test, tool, package)?;
    }
    Some(())
}

/// The firewall's state in `ns` as `snapshot` prints it, compared before and after a real
/// lifecycle; `banned` must hold between the bans and the unbans.
fn real_lifecycle(
    ns: &Netns,
    file: &str,
    snapshot: &str,
    banned: &dyn Fn(&Netns) -> Result<(), String>,
) {
    let bench = Bench::new(&["ip", "netns", "exec", &ns.0], false);
    let before = ns.run(snapshot);
    let a = bench.action(file, JAIL_ARGS);
    ok("start", a.start());
    ban(&a, V4);
    ban(&a, V6);
    if let Err(e) = banned(ns) {
        panic!("{file}: not banned: {e}\nscripts:\n{}", bench.scripts());
    }
    // The invariant check holds while banned (no repair).
    ok("check", a.check());
    unban(&a, V4);
    unban(&a, V6);
    assert!(banned(ns).is_err(), "{file}: still banned after the unbans");
    ok("stop", a.stop());
    let after = ns.run(snapshot);
    assert_eq!(after, before, "{file}: the firewall differs after stop");
}

/// `iptables-save` without its comments and counters.
const IPTABLES_STATE: &str =
    "{ iptables-save; ip6tables-save; } | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'";

/// Some rules of the machine's own, so there is something to leave as it was.
const IPTABLES_OWN: &str = "iptables -w -A INPUT -s 198.51.100.1 -j ACCEPT && ip6tables -w -A INPUT -s 2001:db8::1 -j ACCEPT";

#[test]
fn iptables_for_real_in_a_netns() {
    let test = "iptables_for_real_in_a_netns";
    let Some(()) = require(test, &[("iptables", "iptables"), ("ip6tables", "iptables")]) else {
        return;
    };
    let ns = Netns::new();
    ns.run(IPTABLES_OWN);
    real_lifecycle(&ns, "iptables", IPTABLES_STATE, &|ns| {
        let v4 = ns.run("iptables -w -S jailor-sshd 2>/dev/null || true");
        let v6 = ns.run("ip6tables -w -S jailor-sshd 2>/dev/null || true");
        let input = ns.run("iptables -w -S INPUT");
        match (
            v4.contains(&format!("-A jailor-sshd -s {V4}/32 -j REJECT")),
            v6.contains(&format!("-A jailor-sshd -s {V6}/128 -j REJECT")),
            input.contains("--dports 22,80 -j jailor-sshd"),
        ) {
            (true, true, true) => Ok(()),
            _ => Err(format!("{input}\n{v4}\n{v6}")),
        }
    });
}

#[test]
fn ipset_for_real_in_a_netns() {
    let test = "ipset_for_real_in_a_netns";
    let Some(()) = require(
        test,
        &[
            ("iptables", "iptables"),
            ("ip6tables", "iptables"),
            ("ipset", "ipset"),
        ],
    ) else {
        return;
    };
    let ns = Netns::new();
    ns.run(IPTABLES_OWN);
    let state = format!("{IPTABLES_STATE}; ipset list -n");
    real_lifecycle(&ns, "ipset", &state, &|ns| {
        let v4 = ns.run(&format!(
            "ipset test jailor-sshd {V4} 2>&1 && echo yes || true"
        ));
        let v6 = ns.run(&format!(
            "ipset test jailor6-sshd {V6} 2>&1 && echo yes || true"
        ));
        let input = ns.run("iptables -w -S INPUT");
        match (
            v4.ends_with("yes\n"),
            v6.ends_with("yes\n"),
            input.contains("--match-set jailor-sshd src -j REJECT"),
        ) {
            (true, true, true) => Ok(()),
            _ => Err(format!("{input}\n{v4}\n{v6}")),
        }
    });
}

#[test]
fn nftables_shell_action_for_real_in_a_netns() {
    let test = "nftables_shell_action_for_real_in_a_netns";
    let Some(()) = require(test, &[("nft", "nftables")]) else {
        return;
    };
    let ns = Netns::new();
    ns.run("nft add table inet filter && nft add chain inet filter input '{ type filter hook input priority 0; policy accept; }' && nft add rule inet filter input ip saddr 198.51.100.1 accept");
    real_lifecycle(&ns, "jailor-nftables", "nft list ruleset", &|ns| {
        let v4 = ns.run(&format!(
            "nft get element inet jailor addr-sshd '{{ {V4} }}' >/dev/null 2>&1 && echo yes || true"
        ));
        let v6 = ns.run(&format!(
            "nft get element inet jailor addr6-sshd '{{ {V6} }}' >/dev/null 2>&1 && echo yes || true"
        ));
        match (v4.as_str(), v6.as_str()) {
            ("yes\n", "yes\n") => Ok(()),
            _ => Err(ns.run("nft list ruleset")),
        }
    });
}

#[test]
fn route_for_real_in_a_netns() {
    let test = "route_for_real_in_a_netns";
    let Some(()) = require(test, &[]) else {
        return;
    };
    let ns = Netns::new();
    ns.run("ip route add unreachable 198.51.100.1");
    real_lifecycle(
        &ns,
        "route",
        "ip route show table all type unreachable; ip -6 route show table all type unreachable",
        &|ns| {
            let v4 = ns.run("ip route show type unreachable");
            let v6 = ns.run("ip -6 route show type unreachable");
            match (v4.contains(V4), v6.contains(V6)) {
                (true, true) => Ok(()),
                _ => Err(format!("{v4}\n{v6}")),
            }
        },
    );
}
