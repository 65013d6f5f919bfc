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
import e2e  # noqa: E402
from e2e import check  # noqa: E402

ADMIN_EMAIL = "admin@merkazia.test"
PASSWORD = "Browser-pw-%d-secret" % os.getpid()
OWNER_EMAIL = "owner@shai.test"
AGENT_EMAIL = "agent@shai.test"
WEB_DIST = os.path.join(e2e.REPO, "web", "dist")
CHROMIUM = "/usr/bin/chromium"
MARKUP_SID = "CAbrowsermarkup0001"
MARKUP = '<img src=x onerror="window.__injected=1"><b class="injected">שלום</b>'


def sql(stack, query):
    code, out, err = e2e.run(["psql", stack.settings["DATABASE_URL"], "-X",
                              "-At", "-v", "ON_ERROR_STOP=1", "-c", query])
    check(code == 0, "psql failed: %s" % err[-300:])
    return out.strip()


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def scenario():
    if not os.path.exists(CHROMIUM):
        e2e.say("note: skipped: %s is absent (make deps installs Debian's "
                "chromium)" % CHROMIUM)
        return
    check(os.path.exists(os.path.join(WEB_DIST, "index.html")),
          "web/dist is not built (make web)")
    env = dict(os.environ)
    env["MERKAZIA_ADMIN_EMAIL"] = ADMIN_EMAIL
    env["MERKAZIA_ADMIN_PASSWORD"] = PASSWORD
    stack = e2e.Stack("--only", "crm-store,gateway", "--no-standins",
                      "--set", "crm-store:MERKAZIA_STORE_DEMO=1",
                      "--set", "gateway:MERKAZIA_WEB_DIR=" + WEB_DIST,
                      env=env)
    ready = stack.start()

    e2e.wait_for(lambda: sql(stack, "SELECT count(*) FROM users WHERE "
                                    "role = 'admin'") == "1",
                 e2e.T(10), "the admin account")
    for email, name, role in ((OWNER_EMAIL, "בעלת המשרד", "owner"),
                              (AGENT_EMAIL, "סוכן שטח", "agent")):
        sql(stack, "INSERT INTO users (business_id, email, name, "
                   "password_hash, role) SELECT 1, %s, %s, password_hash, "
                   "%s FROM users WHERE role = 'admin'" %
                   (lit(email), lit(name), lit(role)))
    sql(stack, "INSERT INTO calls (call_sid, business_id, from_number, "
               "to_number, status, started_at, ended_at, duration_s) VALUES "
               "(%s, 1, '+972501234567', '+97235550100', 'completed', "
               "now() - interval '10 minutes', now() - interval '9 minutes',"
               " 60)" % lit(MARKUP_SID))
    sql(stack, "INSERT INTO turns (call_sid, seq, speaker, heard_text, "
               "start_ms, end_ms) VALUES (%s, 0, 'caller', %s, 0, 1500)" %
               (lit(MARKUP_SID), lit(MARKUP)))

    art = os.path.join(e2e.RUN_DIR, "browser")
    os.makedirs(art, exist_ok=True)
    benv = dict(os.environ)
    benv.update({
        "MERKAZIA_BROWSER_BASE": "http://" + ready["listen"],
        "MERKAZIA_BROWSER_ARTEFACTS": art,
        "MERKAZIA_BROWSER_OWNER": OWNER_EMAIL,
        "MERKAZIA_BROWSER_AGENT": AGENT_EMAIL,
        "MERKAZIA_BROWSER_PASSWORD": PASSWORD,
        "MERKAZIA_BROWSER_MARKUP_CALL": MARKUP_SID,
        # Chromium's profile and Playwright's temporary files stay in the
        # run directory, so nothing is left in /tmp.
        "TMPDIR": art,
    })
    p = subprocess.run(["node", os.path.join(e2e.REPO, "tests", "browser",
                                             "crm.mjs")],
                       env=benv, stdin=subprocess.DEVNULL,
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
