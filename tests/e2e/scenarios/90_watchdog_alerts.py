#!/usr/bin/env python3
"""Scenario: the watchdog's stage alerts from heartbeats. tools/stack runs
the watchdog, crm-store and one stt-worker (heartbeat timeout 1 s); llm
and tts are never started.
  1. llm and tts, never heard of, get one stage_down alert each (warn)
     once the heartbeat timeout has passed; stt and crm-store get none.
  2. SIGKILL of the only stt-worker: a stage_down alert for stt.
  3. An stt-worker started again (by the scenario, with the stack's
     settings): a stage_up alert for stt, after the stage_down.
Each alert fires once per outage. Prints the delays; asserts order and
outcome. Why: a stage with no live worker silently turns every call into
apologies; ops must hear about it once, and hear when it is back."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402

KEEP = ["MERKAZIA_RUNTIME_DIR", "MERKAZIA_STATE_DIR", "OPENAI_API_KEY",
        "OPENAI_BASE_URL"]


def alerts(stack, kind, stage):
    return [ln for ln in stack.log("watchdog")
            if ln.get("alert") == kind and ln.get("stage") == stage]


def restart_env(stack):
    return wd.restart_env(stack, KEEP, {
        "MERKAZIA_HEARTBEAT_TIMEOUT_MS": str(wd.HEARTBEAT_TIMEOUT_MS)})


def scenario():
    stack = wd.start(only="watchdog,crm-store,stt-worker")
    timeout = wd.HEARTBEAT_TIMEOUT_MS / 1000.0
    stt_pid = stack.pid("stt-worker")

    # 1. Never started stages.
    for stage in ("llm", "tts"):
        e2e.wait_for(lambda: alerts(stack, "stage_down", stage),
                     T(timeout * 2 + 5), "a stage_down alert for %s" % stage)
        line = alerts(stack, "stage_down", stage)[0]
        check(line["level"] == "warn", "stage_down is %s" % line["level"])
    e2e.wait_for(lambda: any(ln.get("worker") == "live" and
                             ln.get("worker_pid") == stt_pid
                             for ln in stack.log("watchdog")),
                 T(10), "the watchdog to hear the stt-worker")
    for stage in ("stt", "crm-store"):
        check(not alerts(stack, "stage_down", stage),
              "stage_down for %s, which is running" % stage)

    # 2. The only stt-worker dies.
    killed_at = stack.kill("stt-worker")
    e2e.wait_for(lambda: alerts(stack, "stage_down", "stt"),
                 T(timeout * 1.25 + 5), "a stage_down alert for stt")
    e2e.delay("SIGKILL -> stage_down stt", time.monotonic() - killed_at)
    check(len(alerts(stack, "stage_down", "stt")) == 1,
          "more than one stage_down for stt")

    # 3. Another stt-worker comes up.
    log = open(stack.path("log", "stt-worker@restarted.log"), "ab")
    started_at = time.monotonic()
    p = subprocess.Popen([os.path.join(e2e.BIN, "stt-worker")],
                         env=restart_env(stack), stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, cwd=stack.run_dir)
    try:
        e2e.wait_for(lambda: alerts(stack, "stage_up", "stt"), T(10),
                     "a stage_up alert for stt")
        e2e.delay("restart -> stage_up stt", time.monotonic() - started_at)
        lines = [ln for ln in stack.log("watchdog")
                 if ln.get("stage") == "stt" and "alert" in ln]
        check([ln["alert"] for ln in lines] == ["stage_down", "stage_up"],
              "stt alerts: %s" % [ln["alert"] for ln in lines])
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=T(20))
        log.close()
    check(rc == 0, "the restarted stt-worker exited with %d" % rc)
    for stage in ("llm", "tts"):
        check(len(alerts(stack, "stage_down", stage)) == 1 and
              not alerts(stack, "stage_up", stage),
              "%s alerts repeated or recovered" % stage)

    code, report = stack.stop()
    check(code != 0 and len(report["problems"]) == 1 and
          "stt-worker" in report["problems"][0] and
          "signal 9" in report["problems"][0],
          "unexpected stop report: %s" % report["problems"])
    for s in report["stopped"]:
        if s["daemon"] != "stt-worker":
            check(s["code"] == 0, "%s stopped with %s" % (s["daemon"],
                                                          s["status"]))


e2e.main(scenario)
