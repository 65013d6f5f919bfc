#!/usr/bin/env python3
"""Scenario: the watchdog's remaining cases of issue #11. tools/stack runs
the gateway, the watchdog (start timeout 2 s, media timeout 2 s,
MERKAZIA_PUBLIC_URL set), crm-store, one stt-worker and fake-twilio.
  1. A stream that never connects (sim-caller --no-start) while Twilio
     answers the first update with 500: the redirect is decided no sooner
     than the 2 s start timeout after the webhook (waited_ms; the upper
     bound is the timeout plus 5 s, x MERKAZIA_TEST_TIMEOUT_MULT), the
     client tries again and fake-twilio gets exactly two requests (500,
     200): one redirect, one redirected line.
  2. A silent caller whose media keeps flowing (5 s of silence frames,
     then stop): no update, decisions watch then forget.
  3. The watchdog is killed (SIGKILL) in the middle of a call and started
     again; the call's media then stops without `stop`: the new watchdog
     still redirects it (stalled), exactly once.
  4. The only stt-worker is killed: the gateway's /readyz says 503 with
     no stt worker, where it had one.
Prints the delays; asserts order and outcome."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import standins  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402

START_MS = 2000
KEEP = ["MERKAZIA_RUNTIME_DIR", "MERKAZIA_STATE_DIR", "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "DATABASE_URL"]


def readyz(stack):
    listen, _ = wd.gateway_http(stack)
    code, _, body = standins.http("GET", "http://%s/readyz" % listen)
    return code, json.loads(body)


def watchdog_env(stack):
    return wd.restart_env(stack, KEEP, {
        "MERKAZIA_PUBLIC_URL": wd.PUBLIC_URL,
        "MERKAZIA_WATCHDOG_START_TIMEOUT_MS": str(START_MS),
        "MERKAZIA_WATCHDOG_MEDIA_TIMEOUT_MS": str(wd.MEDIA_TIMEOUT_MS),
        "MERKAZIA_HEARTBEAT_TIMEOUT_MS": str(wd.HEARTBEAT_TIMEOUT_MS)})


def scenario():
    stack = wd.start("--set", "watchdog:MERKAZIA_WATCHDOG_START_TIMEOUT_MS="
                     "%d" % START_MS,
                     only="gateway,watchdog,crm-store,stt-worker")
    tw = wd.Twilio(stack)

    # 1. Never connects; Twilio fails once with 500.
    t0 = time.monotonic()
    p, sid = wd.watched_call(stack, "sim-caller-no-start", "--no-start",
                             "--hangup-after", "6000")
    tw.control("POST", "fail", {"path": tw.call_path(sid), "mode": "500",
                                "count": 1})
    red, t_red = wd.wait_decision(stack, sid, "redirect",
                                  START_MS / 1000 + 5)
    ok, t_ok = wd.wait_decision(stack, sid, "redirected", 15)
    wd.sim_caller_wait(p)
    e2e.delay("no-start: webhook -> redirect decided (waited_ms)",
              red["waited_ms"] / 1000.0)
    e2e.delay("no-start: scenario start -> Twilio answered", t_ok - t0)
    check(red["reason"] == "never_started", "reason %s" % red["reason"])
    check(red["waited_ms"] >= START_MS,
          "redirected %d ms after the webhook, before the %d ms start "
          "timeout" % (red["waited_ms"], START_MS))
    check(red["waited_ms"] <= T(START_MS / 1000.0 + 5) * 1000,
          "redirected only %d ms after the webhook" % red["waited_ms"])
    check(ok["attempts"] == 2 and ok["outcome"] == "ok",
          "after one 500: %s" % ok)
    ups = tw.updates(sid)
    check([u["status"] for u in ups] == [500, 200],
          "statuses of the retried update: %s" % [u["status"] for u in ups])
    kinds = [d["decision"] for d in wd.decisions(stack, sid)]
    check(kinds == ["watch", "redirect", "redirected"],
          "decisions for the 500-then-200 call: %s" % kinds)

    # 2. Silent caller, media flowing for longer than the media timeout.
    quiet = wd.sim_caller(stack, "sim-caller-silent", "--hangup-after",
                          str(wd.MEDIA_TIMEOUT_MS * 2 + 1000))
    check(quiet["start_sent"] and quiet["stop_sent"],
          "the silent call: %s" % quiet["result"])
    qsid = quiet["call_sid"]
    wd.wait_decision(stack, qsid, "forget", 10)
    time.sleep(T(wd.MEDIA_TIMEOUT_MS / 1000.0 + 1))
    kinds = [d["decision"] for d in wd.decisions(stack, qsid)]
    check(kinds == ["watch", "forget"], "decisions for the silent call: "
          "%s" % kinds)
    check(tw.updates(qsid) == [], "the silent call was updated")

    # 3. The watchdog restarts mid-call; the stream then dies.
    known = (sid, qsid)
    p, rsid = wd.watched_call(stack, "sim-caller-restart", "--no-stop",
                              "--hangup-after", "6000", known=known)
    stack.kill("watchdog")
    log_path = stack.path("log", "watchdog@restarted.log")
    log = open(log_path, "ab")
    t_restart = time.monotonic()
    w = subprocess.Popen([os.path.join(e2e.BIN, "watchdog")],
                         env=watchdog_env(stack), stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, cwd=stack.run_dir)
    try:
        wd.sim_caller_wait(p)
        e2e.wait_for(
            lambda: [d for d in e2e.json_lines(log_path)
                     if d.get("call_sid") == rsid and
                     d.get("decision") == "redirected"],
            T(wd.MEDIA_TIMEOUT_MS / 1000.0 + 20),
            "the restarted watchdog to redirect the call")
        e2e.delay("restart -> redirected", time.monotonic() - t_restart)
        mine = [d for d in e2e.json_lines(log_path)
                if d.get("call_sid") == rsid and "decision" in d]
        kinds = [d["decision"] for d in mine]
        check(kinds[0] == "watch" and "redirect" in kinds and
              kinds.count("redirect") == 1,
              "decisions of the restarted watchdog: %s" % kinds)
        red = [d for d in mine if d["decision"] == "redirect"][0]
        check(red["reason"] == "stalled", "reason %s" % red["reason"])
        ups = tw.updates(rsid)
        check(len(ups) == 1, "%d updates for the restarted call" %
              len(ups))
        wd.check_record_update(ups[0], rsid, tw)
    finally:
        w.send_signal(signal.SIGTERM)
        rc = w.wait(timeout=T(20))
        log.close()
    check(rc == 0, "the restarted watchdog exited with %d" % rc)

    # 4. A killed worker shows in /readyz.
    e2e.wait_for(lambda: readyz(stack)[1]["workers"]["stt"] >= 1, T(10),
                 "/readyz to count the stt-worker")
    killed_at = stack.kill("stt-worker")
    code, doc = e2e.wait_for(
        lambda: (lambda r: r if r[1]["workers"]["stt"] == 0 else None)(
            readyz(stack)),
        T(wd.HEARTBEAT_TIMEOUT_MS / 1000.0 * 1.25 + 5),
        "/readyz to lose the stt-worker")
    e2e.delay("SIGKILL stt-worker -> /readyz without it",
              time.monotonic() - killed_at)
    check(code == 503 and doc["ok"] is False,
          "/readyz without an stt worker: %d %s" % (code, doc))

    code, report = stack.stop()
    problems = report.get("problems") or []
    check(all("signal 9" in pr and ("watchdog" in pr or "stt-worker" in pr)
              for pr in problems) and len(problems) == 2,
          "unexpected stop report: %s" % problems)
    for s in report["stopped"]:
        if s["daemon"] not in ("watchdog", "stt-worker"):
            check(s["code"] == 0, "%s stopped with %s" % (s["daemon"],
                                                          s["status"]))


e2e.main(scenario)
