"""Helpers of the real-browser scenarios (tests/e2e/scenarios/
97_browser_call.py, 98_browser_crm.py).

Why this exists: both drive Debian's chromium through playwright-core
(node tests/browser/<name>.mjs) against a gateway serving web/dist, log in
as an owner of the demo business with the password of the admin account
(Python has no Argon2id, so the owner borrows the admin's hash), and keep
the screenshots and the browser's temporary files in the run directory.
Written once here.

  if not browser_e2e.can_run(): return       # chromium absent: a note
  os.environ.update(browser_e2e.admin_env())
  ... start a stack with gateway:MERKAZIA_WEB_DIR=browser_e2e.WEB_DIST ...
  browser_e2e.add_owner(stack)               # and other users
  env = browser_e2e.node_env(listen, {"MERKAZIA_BROWSER_AGENT": ...})
  argv = browser_e2e.node_argv("crm")

Standard library only; every wait is bounded (x MERKAZIA_TEST_TIMEOUT_MULT).
"""

import os

import api_e2e
import e2e
from e2e import check

ADMIN_EMAIL = "admin@merkazia.test"
PASSWORD = "Browser-pw-%d-secret" % os.getpid()
OWNER_EMAIL = "owner@shai.test"
WEB_DIST = os.path.join(e2e.REPO, "web", "dist")
CHROMIUM = "/usr/bin/chromium"


def can_run():
    """False (with a note) when chromium is absent; web/dist must be
    built."""
    if not os.path.exists(CHROMIUM):
        e2e.say("note: skipped: %s is absent (make deps installs Debian's "
                "chromium)" % CHROMIUM)
        return False
    check(os.path.exists(os.path.join(WEB_DIST, "index.html")),
          "web/dist is not built (make web)")
    return True


def admin_env():
    """The admin crm-store makes at start, for the stack's environment."""
    return {"MERKAZIA_ADMIN_EMAIL": ADMIN_EMAIL,
            "MERKAZIA_ADMIN_PASSWORD": PASSWORD}


def add_owner(stack, more=()):
    """Wait for the admin, then add the owner of business 1 and more
    (business_id, email, name, role) users, all with PASSWORD."""
    api_e2e.wait_admin(stack)
    api_e2e.add_users(stack, [(1, OWNER_EMAIL, "בעלת המשרד", "owner")] +
                      list(more))


def node_env(listen, extra=None):
    """The environment of tests/browser/*.mjs; artefacts in the run
    directory's browser/."""
    art = os.path.join(e2e.RUN_DIR, "browser")
    os.makedirs(art, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "MERKAZIA_BROWSER_BASE": "http://" + listen,
        "MERKAZIA_BROWSER_ARTEFACTS": art,
        "MERKAZIA_BROWSER_OWNER": OWNER_EMAIL,
        "MERKAZIA_BROWSER_PASSWORD": PASSWORD,
        # Chromium's profile and Playwright's temporary files stay in the
        # run directory, so nothing is left in /tmp.
        "TMPDIR": art,
    })
    env.update(extra or {})
    return env


def node_argv(name):
    return ["node", os.path.join(e2e.REPO, "tests", "browser",
                                 name + ".mjs")]
