#!/usr/bin/env python3
"""Start time and idle memory of `jailor server` alone, repeated: run.py's start measure
(exec -> every jail's " started" line in the server log, a fresh database each time) taken
--runs times for 1 and 10 jails, with the median and the minimum, and the idle RSS with its
parts (/proc/PID/smaps_rollup: file-backed, anonymous) after --idle seconds.

Usage: python3 bench/daemon/start.py [--jailor target/release/jailor] [--runs 15]
       [--idle 3] [--workdir /tmp/jailor-start] [--fail2ban]
(--fail2ban: the same start measure for fail2ban-server, fewer runs as it is slower.)
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the side-by-side script: same configuration, same measure)


def rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024.0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jailor", default=os.path.join(run.ROOT, "target", "release", "jailor"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--workdir", default="/tmp/jailor-start")
    ap.add_argument("--fail2ban", action="store_true")
    a = ap.parse_args()
    kinds = ["jailor"] + (["fail2ban"] if a.fail2ban else [])
    print("load average at start: %s" % open("/proc/loadavg").read().split()[0])
    for kind in kinds:
        wd = os.path.join(a.workdir, kind)
        runs = a.runs if kind == "jailor" else max(3, a.runs // 5)
        for jails in (1, 10):
            times = []
            for _ in range(runs):
                p, _conf, _names, t = run.run_startup(kind, a.jailor, wd, jails)
                if t is not None:
                    times.append(t)
                if jails == 10 and len(times) == 1:
                    time.sleep(a.idle)
                    r = rollup(p.pid)
                    print("%s idle, 10 jails: RSS %.1f MB (anonymous %.1f, file-backed %.1f)"
                          % (kind, r.get("Rss", 0), r.get("Anonymous", 0),
                             r.get("Rss", 0) - r.get("Anonymous", 0)))
                run.stop(p)
            if times:
                print("%s start -> %d jail(s) ready: median %.1f ms, min %.1f ms (%d runs)"
                      % (kind, jails, statistics.median(times) * 1000, min(times) * 1000, len(times)))
    print("load average at end: %s" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
