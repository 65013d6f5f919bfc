#!/usr/bin/env python3
"""Scenario: the web CRM in a real browser (Debian's chromium, headless,
through playwright-core) against the real gateway serving web/dist,
crm-store and PostgreSQL with the demo business.

Setup: tools/stack with crm-store and the gateway only (MERKAZIA_STORE_DEMO=1,
MERKAZIA_WEB_DIR=web/dist); an admin from MERKAZIA_ADMIN_EMAIL /
MERKAZIA_ADMIN_PASSWORD; in SQL an owner and an agent of business 1 with
the admin's password hash (Python has no Argon2id), and a finished call
whose caller turn holds HTML markup. Then node tests/browser/crm.mjs.
Asserts (in the browser, see that file): login; <html dir="rtl"
lang="he">; a phone's computed direction is ltr; the CSV export has a
UTF-8 BOM and Hebrew; a stage move on a lead's page is stored; markup in a
transcript is shown as text; the kanban moves a lead by mouse and by
keyboard; an appointment shows in the week calendar (Sunday first); a CSV
import merges a duplicate phone; an agent cannot open the users page.
Steps whose API route still answers 501 are skipped with a note line.
Screenshots and the downloaded CSV are kept in the run directory's
browser/ (MERKAZIA_TEST_KEEP=1 keeps it).
Why: RTL, LTR islands, downloads and drag and drop only show in a real
browser; the Vitest suite runs in jsdom."""
import os
import subprocess
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import browser_e2e  # noqa: E402
import e2e  # noqa: E402
from api_e2e import lit, sql  # noqa: E402
from e2e import check  # noqa: E402

AGENT_EMAIL = "agent@shai.test"
MARKUP_SID = "CAbrowsermarkup0001"
MARKUP = '<img src=x onerror="window.__injected=1"><b class="injected">שלום</b>'


def scenario():
    if not browser_e2e.can_run():
        return
    env = dict(os.environ)
    env.update(browser_e2e.admin_env())
    stack = e2e.Stack("--only", "crm-store,gateway", "--no-standins",
                      "--set", "crm-store:MERKAZIA_STORE_DEMO=1",
                      "--set", "gateway:MERKAZIA_WEB_DIR=" +
                      browser_e2e.WEB_DIST, env=env)
    ready = stack.start()

    browser_e2e.add_owner(stack, [(1, AGENT_EMAIL, "סוכן שטח", "agent")])
    sql(stack, "INSERT INTO calls (call_sid, business_id, from_number, "
               "to_number, status, started_at, ended_at, duration_s) VALUES "
               "(%s, 1, '+972501234567', '+97235550100', 'completed', "
               "now() - interval '10 minutes', now() - interval '9 minutes',"
               " 60)" % lit(MARKUP_SID))
    sql(stack, "INSERT INTO turns (call_sid, seq, speaker, heard_text, "
               "start_ms, end_ms) VALUES (%s, 0, 'caller', %s, 0, 1500)" %
               (lit(MARKUP_SID), lit(MARKUP)))

    benv = browser_e2e.node_env(ready["listen"], {
        "MERKAZIA_BROWSER_AGENT": AGENT_EMAIL,
        "MERKAZIA_BROWSER_MARKUP_CALL": MARKUP_SID,
    })
    p = subprocess.run(browser_e2e.node_argv("crm"), env=benv,
                       stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=e2e.T(88), check=False)
    out = p.stdout.decode("utf-8", "replace")
    for line in out.splitlines():
        e2e.say(line)
    check(p.returncode == 0, "tests/browser/crm.mjs exited %d" %
          p.returncode)
    check("ok: login" in out, "the browser test did not log in")

    code, report = stack.stop()
    check(code == 0 and report["ok"], "stack stop: %s" % report)


e2e.main(scenario)
