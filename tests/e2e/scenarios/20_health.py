#!/usr/bin/env python3
"""Scenario: heartbeats. The gateway and the watchdog each log every worker
stage (stt, llm, tts, crm-store) as live, and a worker killed with SIGKILL
as lost, naming its pid, while the other instance of its stage stays live.
Why: /readyz, alerts and job re-sends all rest on knowing which workers are
alive; a SIGKILL leaves no goodbye, only silence."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import T, check  # noqa: E402

TIMEOUT_MS = 1000  # MERKAZIA_HEARTBEAT_TIMEOUT_MS (its minimum is 500)
STAGES = {"stt": ["stt-worker"], "llm": ["llm-worker", "llm-worker@1"],
          "tts": ["tts-worker"], "crm-store": ["crm-store"]}


def transitions(stack, follower, state):
    """{worker pid: stage} of the transitions to state follower logged."""
    out = {}
    for line in stack.log(follower):
        if line.get("worker") == state:
            out.setdefault(line["worker_pid"], line["worker_stage"])
    return out


def scenario():
    stack = e2e.Stack("--instances", "llm-worker=2", "--set",
                      "MERKAZIA_HEARTBEAT_TIMEOUT_MS=%d" % TIMEOUT_MS)
    stack.start()
    t_ready = stack.pids["gateway"]["ready"]
    want = {stack.pid(n): stage for stage, names in STAGES.items()
            for n in names}
    for follower in ("gateway", "watchdog"):
        e2e.wait_for(
            lambda: all(transitions(stack, follower, "live").get(p) == s
                        for p, s in want.items()),
            T(10), "%s to log every worker live (%s)" % (follower, want))
    e2e.delay("every stage live in both followers after READY=1",
              time.monotonic() - t_ready)

    victim = stack.pid("llm-worker@1")
    killed_at = stack.kill("llm-worker@1")
    for follower in ("gateway", "watchdog"):
        e2e.wait_for(lambda: victim in transitions(stack, follower, "lost"),
                     T(TIMEOUT_MS / 1000 * 1.25 + 5),
                     "%s to log llm-worker@1 (pid %d) lost" %
                     (follower, victim))
        e2e.delay("%s logged the SIGKILLed worker lost after" % follower,
                  time.monotonic() - killed_at)
        lost = transitions(stack, follower, "lost")
        check(lost[victim] == "llm", "%s logged the victim's stage as %s" %
              (follower, lost[victim]))
        check(list(lost) == [victim], "%s logged others lost too: %s" %
              (follower, lost))
    # The other llm instance goes on: still no lost line after another
    # whole timeout.
    survivor = stack.pid("llm-worker")
    time.sleep(T(TIMEOUT_MS / 1000 * 1.5))
    for follower in ("gateway", "watchdog"):
        check(survivor not in transitions(stack, follower, "lost"),
              "%s logged the surviving llm-worker lost" % follower)

    code, report = stack.stop()
    check(code != 0 and not report["ok"],
          "the stack did not report the killed worker")
    check(len(report["problems"]) == 1 and "llm-worker@1" in
          report["problems"][0] and "signal 9" in report["problems"][0],
          "unexpected problems: %s" % report["problems"])
    for s in report["stopped"]:
        if s["daemon"] != "llm-worker@1":
            check(s["code"] == 0, "%s stopped with %s" % (s["daemon"],
                                                          s["status"]))


e2e.main(scenario)
