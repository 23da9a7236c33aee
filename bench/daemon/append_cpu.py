#!/usr/bin/env python3
"""Where the 100k append's time goes in jailor: CPU seconds per thread of the server.

Starts `jailor server` as run.py does (one sshd jail, the file-writing action), compiles
the filter with a first line, then appends run.py's 100k-line log in one write and waits
for every failure ("Found") and every ban (the action's file). Prints the wall time and
the CPU time of the whole process and of each named thread (threads that ended, like the
short-lived `match-ahead` helpers, are in the process total only). The action shells (the
server's child processes: the co-shells with the subshells they forked and reaped) are
reported apart as "shells": their own CPU plus their reaped children's, a co-shell that
ended during the append is missed. A CPU figure is much steadier than the wall time on a
loaded machine.

Usage: python3 bench/daemon/append_cpu.py JAILOR [--runs 3] [--workdir /tmp/jailor-append]
Needs run.py's generated log (run run.py once, or pass --log FILE with its .truth.json).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def ticks(stat):
    f = stat[stat.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12])


def sys_ticks(stat):
    return int(stat[stat.rindex(")") + 2:].split()[12])


def shell_ticks(pid):
    """CPU ticks of each child process of `pid` and of the children they reaped."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            kids = open("/proc/%d/task/%s/children" % (pid, t)).read().split()
        except FileNotFoundError:
            continue
        for k in kids:
            try:
                s = open("/proc/%s/stat" % k).read()
            except FileNotFoundError:
                continue
            f = s[s.rindex(")") + 2:].split()
            # Its own CPU in ns (schedstat: precise even for many short runs), and the
            # children it reaped (cutime + cstime, in ticks).
            try:
                own = int(open("/proc/%s/schedstat" % k).read().split()[0]) / 1e9 * HZ
            except (FileNotFoundError, ValueError, IndexError):
                own = int(f[11]) + int(f[12])
            out[k] = own + int(f[13]) + int(f[14])
    return out


def per_thread(pid):
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            s = open("/proc/%d/task/%s/stat" % (pid, t)).read()
        except FileNotFoundError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        out[name] = out.get(name, 0) + ticks(s)
    return out


def once(exe, wd, gen):
    truth = json.load(open(gen + ".truth.json"))["summary"]
    want_found, want_bans = truth["expected_fail2ban_sshd_normal"], truth["ips_with_normal_ge_5"]
    p, conf, names, _ = R.run_startup("jailor", exe, wd, 1)
    log = os.path.join(wd, "logs", "sshd.log")
    target = os.path.join(wd, "target")
    with open(log, "a") as f:
        f.write("%s host sshd[1]: Failed password for root from 198.18.0.1 port 1 ssh2\n"
                % R.syslog_now())
    time.sleep(1)
    found = R.Tail(wd + "/server.log", "] Found ")
    bans = R.Tail(target, "ban ")
    f0, b0 = found.count(), bans.count()
    data = open(gen, "rb").read()
    st0 = open("/proc/%d/stat" % p.pid).read()
    before, total0, sys0 = per_thread(p.pid), ticks(st0), sys_ticks(st0)
    shells0 = shell_ticks(p.pid)
    t0 = time.time()
    with open(log, "ab") as f:
        f.write(data)
    R.wait(lambda: found.count() - f0 >= want_found, 120, 0.005)
    t_found = time.time() - t0
    R.wait(lambda: bans.count() - b0 >= want_bans, 120, 0.005)
    t_bans = time.time() - t0
    time.sleep(0.3)
    st1 = open("/proc/%d/stat" % p.pid).read()
    after, total1, sys1 = per_thread(p.pid), ticks(st1), sys_ticks(st1)
    shells1 = shell_ticks(p.pid)
    shells = sum(v - shells0.get(k, 0) for k, v in shells1.items()) / HZ
    n_found, n_bans = found.count() - f0, bans.count() - b0
    R.stop(p)
    threads = {k: (after[k] - before.get(k, 0)) / HZ for k in after if after[k] - before.get(k, 0)}
    return (t_found, t_bans, (total1 - total0) / HZ, (sys1 - sys0) / HZ, threads, n_found,
            n_bans, shells)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jailor")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/jailor-append")
    ap.add_argument("--log", default="/tmp/jailor-bench/append100k.log")
    a = ap.parse_args()
    for _ in range(a.runs):
        tf, tb, cpu, sys_cpu, threads, nf, nb, shells = once(a.jailor, a.workdir, a.log)
        print("found %.3f s, bans done %.3f s (%d found, %d bans); process CPU %.2f s "
              "(system %.2f), shells %.2f s: %s"
              % (tf, tb, nf, nb, cpu, sys_cpu, shells,
                 ", ".join("%s %.2f" % kv for kv in sorted(threads.items()))))


if __name__ == "__main__":
    main()
