#!/usr/bin/env python3
"""Scenario: how the watchdog treats Twilio's answers to a redirect.
tools/stack runs the gateway, the watchdog (start timeout 1.5 s),
crm-store and fake-twilio; each call is sim-caller --no-start.
  1. The call is already over at Twilio (fake-twilio holds it as
     completed, so the update gets 400 with error 21220 "Call is not
     in-progress"): the watchdog logs the call as gone, sends exactly one
     request (no retry) and forgets the call.
  2. Twilio fails twice with 503: the client retries with backoff within
     the redirect budget and the third attempt redirects the call; one
     redirect decision, three requests.
Prints the delays; asserts order and outcome.
Why: a call that ended must never be retried into a storm, and a Twilio
hiccup must not cost a caller the fallback."""
import os
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import watchdog_e2e as wd  # noqa: E402
from e2e import T, check  # noqa: E402


def scenario():
    stack = wd.start()
    tw = wd.Twilio(stack)

    # 1. Gone: 21220.
    t0 = time.monotonic()
    p, sid = wd.watched_call(stack, "sim-caller-gone", "--no-start",
                             "--hangup-after", "4000")
    tw.set_call(sid, "completed")  # before the start timeout runs out
    gone, t_gone = wd.wait_decision(stack, sid, "gone",
                                    wd.START_TIMEOUT_MS / 1000 + 10)
    wd.sim_caller_wait(p)
    e2e.delay("gone: webhook -> Twilio said gone", t_gone - t0)
    check(gone["error_code"] == 21220 and gone["http_status"] == 400 and
          gone["outcome"] == "gone" and gone["attempts"] == 1,
          "gone line: %s" % gone)
    # Nothing more: no retry, no second redirect, no failure line.
    time.sleep(T((wd.START_TIMEOUT_MS + 1500) / 1000.0))
    ups = tw.updates(sid)
    check(len(ups) == 1, "%d requests for the gone call" % len(ups))
    wd.check_record_update(ups[0], sid, tw)
    check(ups[0]["status"] == 400, "fake-twilio answered %s" %
          ups[0]["status"])
    kinds = [d["decision"] for d in wd.decisions(stack, sid)]
    check(kinds == ["watch", "redirect", "gone"],
          "decisions for the gone call: %s" % kinds)

    # 2. Twilio 503 twice, then fine.
    t0 = time.monotonic()
    p, sid2 = wd.watched_call(stack, "sim-caller-503", "--no-start",
                              "--hangup-after", "5000", known=(sid,))
    tw.control("POST", "fail", {"path": tw.call_path(sid2), "mode": "503",
                                "count": 2})
    ok, t_ok = wd.wait_decision(stack, sid2, "redirected",
                                wd.START_TIMEOUT_MS / 1000 + 15)
    wd.sim_caller_wait(p)
    e2e.delay("503 x2: webhook -> redirected", t_ok - t0)
    check(ok["attempts"] == 3 and ok["outcome"] == "ok",
          "after two 503s: %s" % ok)
    ups = tw.updates(sid2)
    check([u["status"] for u in ups] == [503, 503, 200],
          "statuses of the retried update: %s" % [u["status"] for u in ups])
    for u in ups:
        wd.check_record_update(u, sid2, tw)
    kinds = [d["decision"] for d in wd.decisions(stack, sid2)]
    check(kinds == ["watch", "redirect", "redirected"],
          "decisions for the retried call: %s" % kinds)

    code, report = stack.stop()
    check(code == 0 and report["ok"], "the stack did not stop cleanly: %s" %
          report.get("problems"))


e2e.main(scenario)
