#!/usr/bin/env python3
"""Scenario: a clean stop. SIGINT to tools/stack (what Ctrl-C in `make
demo` sends) stops the daemons in order -- gateway, workers, watchdog,
crm-store last -- each with SIGTERM; each sends STOPPING=1 from its main
pid, logs "stopped" and exits 0, and PostgreSQL is stopped and removed.
Then a daemon that ignores SIGTERM (held with SIGSTOP) is SIGKILLed after
the bounded wait and reported. Why: systemd stops units with SIGTERM and
expects exit 0 (Restart=on-failure otherwise); a daemon that hangs must
not hang the launcher, the tests or `make demo`."""
import os
import signal
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402

GROUP = {"gateway": 0, "stt-worker": 1, "llm-worker": 1, "tts-worker": 1,
         "watchdog": 2, "crm-store": 3}


def scenario():
    stack = e2e.Stack()
    stack.start()
    pgdir = stack.settings.get("MERKAZIA_PG_DIR")
    check(pgdir and os.path.isdir(pgdir), "PostgreSQL directory missing")
    code, report = stack.stop(sig=signal.SIGINT)
    check(code == 0 and report["ok"], "stop reported problems: %s" %
          report["problems"])
    check(report["postgres"] == "stopped", "PostgreSQL: %s" %
          report["postgres"])
    check(not os.path.exists(pgdir), "PostgreSQL directory %s left" % pgdir)
    stopping = {}
    for n in stack.notifications():
        if n["text"] == "STOPPING=1":
            check(n["pid"] == stack.pid(n["daemon"]),
                  "%s: STOPPING=1 from pid %s, not its main pid" %
                  (n["daemon"], n["pid"]))
            stopping.setdefault(n["daemon"], n["mono"])
    times = []
    for s in report["stopped"]:
        d = s["daemon"]
        check(s["code"] == 0 and not s["killed"],
              "%s stopped with %s" % (d, s["status"]))
        check(d in stopping, "%s sent no STOPPING=1" % d)
        check(stack.log(d) and stack.log(d)[-1]["msg"] == "stopped",
              "%s did not log 'stopped' last" % d)
        times.append("%s %.3f" % (d, s["stop_s"]))
    e2e.say("delay: SIGTERM to exit (s): " + ", ".join(times))
    order = sorted(stopping, key=stopping.get)
    check([GROUP[d] for d in order] == sorted(GROUP[d] for d in order),
          "STOPPING=1 order %s is not gateway, workers, watchdog, "
          "crm-store" % order)
    e2e.say("note: STOPPING=1 order: " + ", ".join(order))

    # A daemon that does not react to SIGTERM is killed after the bound.
    hung = e2e.Stack("--only", "gateway,stt-worker", "--stop-timeout", "1",
                     run_dir=os.path.join(e2e.RUN_DIR, "h"))
    hung.start()
    os.kill(hung.pid("stt-worker"), signal.SIGSTOP)
    t = time.monotonic()
    code, report = hung.stop()
    e2e.delay("stop with a hung daemon took", time.monotonic() - t)
    check(code != 0 and not report["ok"], "the hung daemon went unreported")
    by = {s["daemon"]: s for s in report["stopped"]}
    check(by["stt-worker"]["killed"], "stt-worker was not SIGKILLed")
    check(by["gateway"]["code"] == 0, "gateway: %s" % by["gateway"]["status"])
    check(any("stt-worker" in p and "killed" in p
              for p in report["problems"]),
          "problems do not name stt-worker: %s" % report["problems"])


e2e.main(scenario)
