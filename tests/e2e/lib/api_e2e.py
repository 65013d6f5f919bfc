"""Helpers of the browser API scenarios (tests/e2e/scenarios/95_api.py,
95_api_records.py, 95_api_import.py, 98_browser_crm.py).

Why this exists: those scenarios talk to the gateway's /api/ as a browser
does (a session cookie and the CSRF token), read and seed PostgreSQL with
psql, write crm-store rows through msgtool, and add the same accounts
(users with the admin's password hash: Python has no Argon2id). Written
once here.

  api = Api(ready["listen"])
  api.login_ok(email, password)            # checks 200, keeps the session
  st, hdrs, doc, raw = api.call("GET", "/api/me")
  st, doc = api.ask("POST", "/api/tasks", {"title": "..."})
  sql(stack, "SELECT ...")                 # psql -At, ON_ERROR_STOP
  add_business(stack); wait_admin(stack)
  add_users(stack, [(1, "owner@x.test", "בעלים", "owner")])

Standard library only; every wait is bounded (x MERKAZIA_TEST_TIMEOUT_MULT).
"""

import http.client
import json
import os
import subprocess

import e2e
from e2e import T, check


class Api:
    """A browser: one cookie jar (the session) and the CSRF token."""

    def __init__(self, listen):
        self.host, port = listen.rsplit(":", 1)
        self.port = int(port)
        self.session = None
        self.csrf = None

    def call(self, method, path, body=None, csrf=True, headers=None,
             ctype=None):
        """One request; (status, lower-cased headers, JSON or None, raw)."""
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=T(20))
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = ctype or "application/json"
        if self.session:
            h["Cookie"] = "merkazia_session=" + self.session
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        doc = None
        if raw and hdrs.get("content-type", "").startswith(
                "application/json"):
            doc = json.loads(raw.decode("utf-8"))
        return r.status, hdrs, doc, raw

    def ask(self, method, path, body=None, csrf=True):
        """One request; (status, JSON or None)."""
        st, _, doc, _ = self.call(method, path, body, csrf)
        return st, doc

    def login(self, email, password):
        """POST /api/login; on 200 keep the session and CSRF token."""
        st, h, doc, _ = self.call("POST", "/api/login",
                                  {"email": email, "password": password})
        if st == 200:
            cookie = h.get("set-cookie", "")
            self.session = cookie.split(";", 1)[0].split("=", 1)[1]
            self.csrf = doc["csrf_token"]
        return st, h, doc

    def login_ok(self, email, password):
        st, _, doc = self.login(email, password)
        check(st == 200, "login %s: %s %s" % (email, st, doc))


def sql(stack, query):
    code, out, err = e2e.run(["psql", stack.settings["DATABASE_URL"], "-X",
                              "-At", "-v", "ON_ERROR_STOP=1", "-c", query])
    check(code == 0, "psql failed: %s" % err[-300:])
    return out.strip()


def lit(s):
    """s as an SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def wait_admin(stack):
    """Wait for crm-store to have made the admin of the environment."""
    e2e.wait_for(lambda: sql(stack, "SELECT count(*) FROM users WHERE "
                                    "role = 'admin'") == "1",
                 T(10), "the admin account")


def add_business(stack, biz=2, name="משרד אחר"):
    sql(stack, "INSERT INTO businesses (id, name) VALUES (%d, %s) "
               "ON CONFLICT DO NOTHING" % (biz, lit(name)))


def add_users(stack, users):
    """Add (business_id, email, name, role) users with the admin's
    password (wait_admin first)."""
    for biz, email, name, role in users:
        sql(stack, "INSERT INTO users (business_id, email, name, "
                   "password_hash, role) SELECT %d, %s, %s, password_hash, "
                   "%s FROM users WHERE role = 'admin'" %
            (biz, lit(email), lit(name), lit(role)))


def msgtool_write(stack, *writes):
    """STORE_WRITE each (kind, key, data) through msgtool; check the acks."""
    env = dict(os.environ)
    env.update(stack.settings)
    msgs = [json.dumps({"type": "STORE_WRITE", "job_id": 5000 + i,
                        "payload": {"kind": k, "key": key, "data": d}},
                       ensure_ascii=False)
            for i, (k, key, d) in enumerate(writes)]
    p = subprocess.run([os.path.join(e2e.BIN, "msgtool"), "send", "-e",
                        "STORE", "-p", "req", "-t",
                        str(int(T(5000)))] + msgs,
                       env=env, capture_output=True, text=True,
                       timeout=T(60), check=False)
    check(p.returncode == 0, "msgtool: %s" % p.stderr[-300:])
    for line in p.stdout.splitlines():
        if line.strip():
            check(json.loads(line)["type"] == "STORE_ACK",
                  "write refused: %s" % line)
