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
import conv_e2e  # noqa: E402
import e2e  # noqa: E402
from e2e import check  # noqa: E402

ADMIN_EMAIL = "admin@merkazia.test"
PASSWORD = "Browser-pw-%d-secret" % os.getpid()
OWNER_EMAIL = "owner@shai.test"
WEB_DIST = os.path.join(e2e.REPO, "web", "dist")
CHROMIUM = "/usr/bin/chromium"


def scenario():
    if not os.path.exists(CHROMIUM):
        e2e.say("note: skipped: %s is absent (make deps installs Debian's "
                "chromium)" % CHROMIUM)
        return
    check(os.path.exists(os.path.join(WEB_DIST, "index.html")),
          "web/dist is not built (make web)")
    os.environ["MERKAZIA_ADMIN_EMAIL"] = ADMIN_EMAIL
    os.environ["MERKAZIA_ADMIN_PASSWORD"] = PASSWORD
    stack = conv_e2e.start(sets=["gateway:MERKAZIA_WEB_DIR=" + WEB_DIST])
    e2e.wait_for(lambda: conv_e2e.sql(stack, "SELECT count(*) FROM users "
                                             "WHERE role = 'admin'") == "1",
                 e2e.T(10), "the admin account")
    conv_e2e.sql(stack, "INSERT INTO users (business_id, email, name, "
                        "password_hash, role) SELECT 1, '%s', 'בעלת המשרד', "
                        "password_hash, 'owner' FROM users WHERE role = "
                        "'admin'" % OWNER_EMAIL)

    art = os.path.join(e2e.RUN_DIR, "browser")
    os.makedirs(art, exist_ok=True)
    benv = dict(os.environ)
    benv.update({
        "MERKAZIA_BROWSER_BASE": "http://" + stack.ready["listen"],
        "MERKAZIA_BROWSER_ARTEFACTS": art,
        "MERKAZIA_BROWSER_OWNER": OWNER_EMAIL,
        "MERKAZIA_BROWSER_PASSWORD": PASSWORD,
        "TMPDIR": art,
    })
    node = subprocess.Popen(["node", os.path.join(e2e.REPO, "tests",
                                                  "browser", "call.mjs")],
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
