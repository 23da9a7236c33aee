#!/usr/bin/env python3
"""jailor server vs Debian's fail2ban-server, side by side, on the same configuration.

Both servers get a copy of /etc/fail2ban (jail.d emptied) with the same jail.local, the same
file-writing action (`actionban` appends `ban <ip>` to a target file) and polling-free
defaults (backend auto). Everything is observed the same way for both, from outside: the
server's own log (fail2ban's format, which jailor writes too) and the action's target file.

Measures (printed as one table):
  start    exec -> "Jail '<name>' started" logged for every jail (1 and 10 jails)
  idle     VmRSS with 10 jails after 3 s idle
  latency  maxretry sshd failure lines for a fresh address in one write -> action ran
           (p50/p99 over --latency samples, after a first one reported on its own: jailor
           compiles a jail's filter when its first line arrives, fail2ban at start)
  append   100k generated sshd lines appended in one write -> all failures "Found" and all
           bans in the target file
  distinct N lines from N distinct addresses (each below maxretry) -> all "Found"; RSS after
           (--distinct for jailor, --f2b-distinct for fail2ban, which is much slower)

Usage: python3 bench/daemon/run.py [--jailor target/release/jailor] [--workdir /tmp/jbench]
       [--latency 20] [--distinct 1000000] [--f2b-distinct 100000] [--only jailor|fail2ban]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_authlog.py")

EXTRA = [("sshd-aggr", "sshd[mode=aggressive]"), ("nginx-http-auth", "nginx-http-auth"),
         ("nginx-botsearch", "nginx-botsearch"), ("nginx-bad-request", "nginx-bad-request"),
         ("nginx-limit-req", "nginx-limit-req"), ("apache-auth", "apache-auth"),
         ("apache-badbots", "apache-badbots"), ("postfix", "postfix"), ("dovecot", "dovecot")]

ACTION = """[Definition]
actionban = echo "ban <ip>" >> <target>
actionunban = echo "unban <ip>" >> <target>
[Init]
target = /dev/null
"""


def write_conf(wd, jails):
    conf = os.path.join(wd, "conf")
    shutil.rmtree(wd, ignore_errors=True)
    shutil.copytree("/etc/fail2ban", conf)
    for f in os.listdir(os.path.join(conf, "jail.d")):
        os.remove(os.path.join(conf, "jail.d", f))
    with open(os.path.join(conf, "action.d", "bench-record.conf"), "w") as f:
        f.write(ACTION)
    logs = os.path.join(wd, "logs")
    os.makedirs(logs)
    with open(os.path.join(conf, "fail2ban.local"), "w") as f:
        f.write("[DEFAULT]\nloglevel = INFO\nlogtarget = %s/server.log\nsocket = %s/s.sock\n"
                "pidfile = %s/s.pid\ndbfile = %s/state.sqlite3\n" % (wd, wd, wd, wd))
    j = ["[DEFAULT]", "maxretry = 5", "findtime = 600", "bantime = 600",
         'banaction = bench-record[target="%s/target"]' % wd,
         'action = bench-record[target="%s/target"]' % wd, "ignoreself = false",
         "ignoreip = 127.0.0.1/8 ::1", ""]
    names = [("sshd", "sshd")] + EXTRA[:jails - 1]
    for name, flt in names:
        p = os.path.join(logs, name + ".log")
        open(p, "a").close()
        j += ["[%s]" % name, "enabled = true", "filter = %s" % flt, "logpath = %s" % p,
              "port = 0:65535", ""]
    with open(os.path.join(conf, "jail.local"), "w") as f:
        f.write("\n".join(j))
    return conf, [n for n, _ in names]


class Tail:
    """Counts occurrences of a text in a growing file, reading only what is new."""

    def __init__(self, path, needle):
        self.path, self.needle, self.pos, self.n, self.rest = path, needle.encode(), 0, 0, b""

    def count(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return self.n
        self.pos += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.n += data[:cut].count(self.needle)
        self.rest = data[cut:]
        return self.n


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def start(kind, exe, wd, conf):
    if kind == "jailor":
        cmd = [exe, "server", "-f", "-x", "-c", conf]
    else:
        cmd = ["fail2ban-server", "-f", "-x", "-s", wd + "/s.sock", "-p", wd + "/s.pid", "-c", conf]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(cond, timeout, step=0.001):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def syslog_now():
    return time.strftime("%b %d %H:%M:%S", time.localtime())


def run_startup(kind, exe, wd, jails):
    conf, names = write_conf(wd, jails)
    t0 = time.time()
    p = start(kind, exe, wd, conf)
    started = Tail(wd + "/server.log", " started")
    ok = wait(lambda: started.count() >= len(names), 30)
    dt = time.time() - t0
    return p, conf, names, (dt if ok else None)


def bench(kind, exe, a):
    wd = os.path.join(a.workdir, kind)
    out = {}
    p, *_ , t1 = run_startup(kind, exe, wd, 1)
    out["start_1"] = t1
    stop(p)
    p, conf, names, t10 = run_startup(kind, exe, wd, 10)
    out["start_10"] = t10
    time.sleep(3)
    out["idle_rss_10"] = rss_mb(p.pid)
    stop(p)
    # One sshd jail for the rest.
    p, conf, names, _ = run_startup(kind, exe, wd, 1)
    log = os.path.join(wd, "logs", "sshd.log")
    target = os.path.join(wd, "target")
    lat = []
    for k in range(a.latency + 1):
        ip = "198.18.%d.%d" % (k // 250, k % 250 + 1)
        data = "".join("%s host sshd[%d]: Failed password for root from %s port %d ssh2\n"
                       % (syslog_now(), 1000 + i, ip, 40000 + i) for i in range(5))
        tail = Tail(target, "ban %s\n" % ip)
        t0 = time.time()
        with open(log, "a") as f:
            f.write(data)
        if wait(lambda: tail.count() >= 1, 10, 0.0002):
            if k == 0:
                out["lat_first_ms"] = (time.time() - t0) * 1000
            else:
                lat.append(time.time() - t0)
        time.sleep(0.05)
    lat.sort()
    if lat:
        out["lat_p50_ms"] = lat[len(lat) // 2] * 1000
        out["lat_p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    # 100k append.
    gen = os.path.join(a.workdir, "append100k.log")
    if not os.path.exists(gen):
        subprocess.run([sys.executable, GEN, "--lines", "100000", "--seed", "11", "--attackers", "1000",
                        "--end-now", "--span", "60", "--out", gen], check=True, stdout=subprocess.DEVNULL)
    truth = json.load(open(gen + ".truth.json"))["summary"]
    want_found, want_bans = truth["expected_fail2ban_sshd_normal"], truth["ips_with_normal_ge_5"]
    found = Tail(wd + "/server.log", "] Found ")
    bans = Tail(target, "ban ")
    f0, b0 = found.count(), bans.count()
    data = open(gen, "rb").read()
    t0 = time.time()
    with open(log, "ab") as f:
        f.write(data)
    ok = wait(lambda: found.count() - f0 >= want_found, 120, 0.005)
    out["append_found_s"] = (time.time() - t0) if ok else None
    ok = wait(lambda: bans.count() - b0 >= want_bans, 120, 0.005)
    out["append_bans_s"] = (time.time() - t0) if ok else None
    out["append_found"] = found.count() - f0
    out["append_bans"] = bans.count() - b0
    out["append_want"] = "%d found / %d bans" % (want_found, want_bans)
    # Distinct addresses, each failing once.
    n = a.distinct if kind == "jailor" else a.f2b_distinct
    if n:
        stamp = syslog_now()
        chunks = []
        for i in range(n):
            ip = "%d.%d.%d.%d" % (11 + i // 16_000_000, (i // 62500) % 256, (i // 250) % 250, i % 250 + 1)
            chunks.append("%s host sshd[9]: Failed password for root from %s port 22 ssh2\n" % (stamp, ip))
        blob = "".join(chunks).encode()
        f0 = found.count()
        t0 = time.time()
        with open(log, "ab") as f:
            f.write(blob)
        ok = wait(lambda: found.count() - f0 >= n, 900, 0.01)
        out["distinct_n"] = n
        out["distinct_s"] = (time.time() - t0) if ok else None
        out["distinct_rss"] = rss_mb(p.pid)
    stop(p)
    return out


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return "%.3f%s" % (v, unit) if v < 10 else "%.1f%s" % (v, unit)
    return "%s%s" % (v, unit)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jailor", default=os.path.join(ROOT, "target", "release", "jailor"))
    ap.add_argument("--workdir", default="/tmp/jailor-bench")
    ap.add_argument("--latency", type=int, default=20)
    ap.add_argument("--distinct", type=int, default=1_000_000)
    ap.add_argument("--f2b-distinct", type=int, default=100_000)
    ap.add_argument("--only", choices=["jailor", "fail2ban"])
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    res = {}
    for kind in ["jailor", "fail2ban"]:
        if a.only and a.only != kind:
            continue
        if kind == "fail2ban" and not shutil.which("fail2ban-server"):
            print("fail2ban-server not installed: skipped", file=sys.stderr)
            continue
        res[kind] = bench(kind, a.jailor, a)
        print(kind, json.dumps(res[kind]), file=sys.stderr)
    rows = [("start -> jails ready, 1 jail", "start_1", " s"), ("start -> jails ready, 10 jails", "start_10", " s"),
            ("idle RSS, 10 jails", "idle_rss_10", " MB"),
            ("first ban after start", "lat_first_ms", " ms"), ("ban latency p50", "lat_p50_ms", " ms"),
            ("ban latency p99", "lat_p99_ms", " ms"), ("100k append: all found", "append_found_s", " s"),
            ("100k append: all bans done", "append_bans_s", " s"), ("100k append: found/bans", "append_found", ""),
            ("distinct addresses fed", "distinct_n", ""), ("distinct: all found", "distinct_s", " s"),
            ("distinct: RSS after", "distinct_rss", " MB")]
    kinds = list(res)
    print("| measure | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for label, key, unit in rows:
        vals = []
        for k in kinds:
            v = res[k].get(key)
            if key == "append_found":
                v = "%s / %s (want %s)" % (res[k].get("append_found"), res[k].get("append_bans"), res[k].get("append_want"))
            vals.append(fmt(v, unit))
        print("| %s | %s |" % (label, " | ".join(vals)))


if __name__ == "__main__":
    main()
