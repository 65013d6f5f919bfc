#!/usr/bin/env python3
"""Scenario: the six daemons start through tools/stack and keep the systemd
contract: each sends READY=1 from its main pid, then WATCHDOG=1 pings at
about half of WATCHDOG_USEC. Why: systemd (Type=notify, WatchdogSec=)
kills a unit that never gets ready or stops pinging; PID 1 on the test
machines is not systemd, so tools/stack plays its part."""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402


def scenario():
    stack = e2e.Stack("--watchdog-usec", "1000000")
    ready = stack.start()
    check(sorted(ready["ready"]) == sorted(e2e.DAEMONS),
          "ready list %s is not the six daemons" % ready["ready"])
    check(os.path.exists(ready["env"]), "no stack.env")
    for k in ("DATABASE_URL", "MERKAZIA_RUNTIME_DIR",
              "MERKAZIA_ENDPOINT_JOBS_STT", "MERKAZIA_ENDPOINT_STORE"):
        check(stack.settings.get(k), "stack.env lacks %s" % k)

    def watchdog_after_ready():
        seen = {}
        ready_at = {}
        for n in stack.notifications():
            if n["text"] == "READY=1":
                ready_at.setdefault(n["daemon"], n["mono"])
            elif n["text"] == "WATCHDOG=1" and n["daemon"] in ready_at:
                seen.setdefault(n["daemon"], n["mono"])
        return seen if len(seen) == len(e2e.DAEMONS) else None

    pings = e2e.wait_for(watchdog_after_ready, T(10),
                         "WATCHDOG=1 after READY=1 from every daemon")
    notes = stack.notifications()
    to_ready, to_ping = [], []
    for d in e2e.DAEMONS:
        mine = [n for n in notes if n["daemon"] == d]
        ready = [n for n in mine if n["text"] == "READY=1"]
        check(len(ready) == 1, "%s sent READY=1 %d times" % (d, len(ready)))
        check(ready[0]["pid"] == stack.pid(d),
              "%s: READY=1 came from pid %s, not its main pid %s" %
              (d, ready[0]["pid"], stack.pid(d)))
        to_ready.append("%s %.3f" % (d, ready[0]["mono"] -
                                     stack.pids[d]["started"]))
        to_ping.append("%s %.3f" % (d, pings[d] - ready[0]["mono"]))
    e2e.say("delay: READY=1 after start (s): " + ", ".join(to_ready))
    e2e.say("delay: first WATCHDOG=1 after READY=1 (s): " + ", ".join(to_ping))
    code, report = stack.stop()
    check(code == 0 and report["ok"], "stack stop reported problems: %s" %
          report.get("problems"))
    gaps = []
    for s in report["stopped"]:
        check(s["watchdogs"] >= 2, "%s pinged the watchdog %d times" %
              (s["daemon"], s["watchdogs"]))
        gaps.append("%s %.3f" % (s["daemon"], s["watchdog_max_gap_s"] or 0))
    e2e.say("delay: longest WATCHDOG=1 gap (s, WATCHDOG_USEC 1 s): " +
            ", ".join(gaps))

e2e.main(scenario)
