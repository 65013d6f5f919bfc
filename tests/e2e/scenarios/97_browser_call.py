#!/usr/bin/env python3
"""Scenario: a live call watched in a real browser (Debian's chromium,
headless, through playwright-core).

Setup: the whole stack as in 90_conversation_call (PostgreSQL with the
demo business, the six daemons, the stand-ins following
tests/scenarios/short_buyer.json), the gateway serving web/dist, an admin
from MERKAZIA_ADMIN_EMAIL / MERKAZIA_ADMIN_PASSWORD and, in SQL, an owner
of business 1 with its password hash. node tests/browser/call.mjs logs in
and waits on the dashboard; when it prints "ready: dashboard" sim-caller
places one call.
Asserts (in the browser): a live-call card appears by SSE, the caller's
number in it is LTR; its link opens the call page, where caller and agent
turns stream in without a reload, each RTL Hebrew; the card leaves after
the call. Here: the call itself ends normally.
Screenshots stay in the run directory's browser/ (MERKAZIA_TEST_KEEP=1).
Why: the live strip and the streaming transcript are what staff watch;
only a browser shows that SSE reaches them."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import browser_e2e  # noqa: E402
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def scenario():
    if not browser_e2e.can_run():
        return
    os.environ.update(browser_e2e.admin_env())
    stack = conv_e2e.start(
        sets=["gateway:MERKAZIA_WEB_DIR=" + browser_e2e.WEB_DIST])
    browser_e2e.add_owner(stack)

    benv = browser_e2e.node_env(stack.ready["listen"])
    node = subprocess.Popen(browser_e2e.node_argv("call"),
                            env=benv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = e2e._Lines(node.stdout)
        seen = []
        end = time.monotonic() + e2e.T(30)
        while time.monotonic() < end:
            line = lines.line(max(0.1, end - time.monotonic()))
            if line is None:
                break
            seen.append(line)
            e2e.say(line)
            if line.startswith("ready: ") or line.startswith("FAIL") or \
                    line.startswith("skip"):
                break
        check(seen and seen[-1].startswith("ready: "),
              "the browser did not reach the dashboard")
        call = conv_e2e.sim_call(stack, "sim-caller-call")
        e2e.say("call: result %s, %d turns" % (call["result"],
                                                len(call["turns"])))
        check(call["result"] == "ok", "the call failed: %s" % call)
        code = node.wait(timeout=e2e.T(45))
        while True:
            line = lines.line(1)
            if line is None:
                break
            e2e.say(line)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    check(code == 0, "tests/browser/call.mjs exited %d" % code)

    code, report = stack.stop()
    check(code == 0 and report["ok"], "stack stop: %s" % report)


e2e.main(scenario)
