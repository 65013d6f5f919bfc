#!/usr/bin/env python3
"""Scenario: the CSV import of leads (POST /api/import, issue #13)
against the real gateway, crm-store and PostgreSQL.

Setup: crm-store with the demo business (1, whose leads include
+972501234567 "דנה כהן") and an admin from the environment; in SQL an
owner and an agent of business 1 and an owner of business 2 (the admin's
password hash).
Asserts: a preview (dry run) of a file with a BOM, quoted fields, Israeli
phones in four spellings, a duplicate within the file, a bad phone and a
bad stage reports create / update-or-skip / skip / invalid per line and
changes nothing; the commit with on_existing=skip creates the new leads
(E.164, cities split, budget parsed, defaults applied) and leaves the
existing one; a second commit with on_existing=update updates it and
creates nothing new (dedupe by phone); business 2 importing the same
phones creates its own rows and never touches business 1's; the audit
log has the commits; an agent gets 403; a mapping naming a missing column
or no phone, a file without rows and one over 2,000 rows are 400 naming
the field; CSRF is required.
Why: offices move in with a spreadsheet of leads; a preview that lies or a
commit that duplicates or crosses tenants would be worse than no import.
"""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import check  # noqa: E402
from api_e2e import (Api, add_business, add_users, sql,  # noqa: E402
                     wait_admin)

ADMIN_EMAIL = "admin@merkazia.test"
ADMIN_PASSWORD = "Admin-pw-%d-secret" % os.getpid()

CSV = ("\ufeffשם מלא,טלפון,עיר,תקציב,שלב\r\n"
       "\"כהן, דנה\",050-1234567,תל אביב,,\r\n"
       "אבי לוי,+972 52 333 4444,\"רמת גן; גבעתיים\",\"₪1,850,000\",\r\n"
       "שרה,972533334445,חולון,,contacted\r\n"
       "אבי שוב,052-3334444,,,\r\n"
       "טלפון שבור,12345,,,\r\n"
       "שלב שגוי,0541119999,,,sold\r\n"
       "\r\n"
       "ענת,541118888,הרצליה,2000000,\r\n")
MAPPING = {"name": "שם מלא", "phone": " טלפון ", "cities": "עיר",
           "budget_max": "תקציב", "stage": "שלב"}


def by_line(doc):
    return {r["line"]: r for r in doc["rows"]}


def scenario():
    env = dict(os.environ)
    env["MERKAZIA_ADMIN_EMAIL"] = ADMIN_EMAIL
    env["MERKAZIA_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack = e2e.Stack("--only", "crm-store,gateway", "--no-standins",
                      "--set", "crm-store:MERKAZIA_STORE_DEMO=1", env=env)
    ready = stack.start()
    add_business(stack)
    wait_admin(stack)
    add_users(stack, [(1, "owner@imp.test", "owner", "owner"),
                      (1, "agent@imp.test", "agent", "agent"),
                      (2, "owner2@imp.test", "owner", "owner")])
    existing = sql(stack, "SELECT id FROM customers WHERE business_id = 1 "
                          "AND phone = '+972501234567'")
    check(existing, "the demo lead +972501234567 is missing")
    before = sql(stack, "SELECT count(*) FROM customers")

    owner = Api(ready["listen"])
    owner.login_ok("owner@imp.test", ADMIN_PASSWORD)
    body = {"csv": CSV, "mapping": MAPPING, "dry_run": True,
            "defaults": {"pipeline": "buyer_renter"}}

    st, doc = owner.ask("POST", "/api/import", body, csrf=False)
    check(st == 403 and doc["error"] == "csrf", "no CSRF: %s %s" % (st, doc))

    # The preview.
    st, doc = owner.ask("POST", "/api/import", body)
    check(st == 200 and doc["dry_run"] is True, "preview: %s %s" % (st, doc))
    rows = by_line(doc)
    check(rows[2]["action"] == "skip" and rows[2]["id"] == int(existing) and
          rows[2]["phone"] == "+972501234567", "line 2: %s" % rows[2])
    check(rows[3]["action"] == "create" and
          rows[3]["phone"] == "+972523334444", "line 3: %s" % rows[3])
    check(rows[4]["action"] == "create" and
          rows[4]["phone"] == "+972533334445", "line 4: %s" % rows[4])
    check(rows[5]["action"] == "skip" and
          rows[5]["error"] == "duplicate in file", "line 5: %s" % rows[5])
    check(rows[6]["action"] == "invalid" and rows[7]["action"] ==
          "invalid" and "stage" in rows[7]["error"], "lines 6-7: %s" % doc)
    check(rows[9]["action"] == "create" and
          rows[9]["phone"] == "+972541118888", "line 9: %s" % rows[9])
    check(doc["counts"] == {"create": 3, "update": 0, "skip": 2,
                            "invalid": 2}, "counts: %s" % doc["counts"])
    check(sql(stack, "SELECT count(*) FROM customers") == before,
          "the preview changed rows")

    # Commit, skipping existing phones.
    body["dry_run"] = False
    st, doc = owner.ask("POST", "/api/import", body)
    check(st == 200 and doc["counts"]["create"] == 3, "commit: %s %s" %
          (st, doc))
    check(all(r.get("id") for r in doc["rows"]
              if r["action"] in ("create", "skip") and r["line"] != 5),
          "ids missing: %s" % doc)
    row = sql(stack, "SELECT name || '|' || array_to_string(cities, '/') || "
                     "'|' || budget_max || '|' || source || '|' || pipeline "
                     "FROM customers WHERE business_id = 1 AND phone = "
                     "'+972523334444'")
    check(row == "אבי לוי|רמת גן/גבעתיים|1850000|web|buyer_renter",
          "imported row: %r" % row)
    check(sql(stack, "SELECT name FROM customers WHERE id = %s" % existing)
          == "דנה כהן", "skip changed the existing lead")
    check(sql(stack, "SELECT stage FROM customers WHERE business_id = 1 AND "
                     "phone = '+972533334445'") == "contacted", "stage")

    # Again with update: nothing new, the existing lead updated.
    body["on_existing"] = "update"
    st, doc = owner.ask("POST", "/api/import", body)
    check(st == 200 and doc["counts"]["create"] == 0 and
          doc["counts"]["update"] == 4, "update commit: %s %s" % (st, doc))
    check(sql(stack, "SELECT name FROM customers WHERE id = %s" % existing)
          == "כהן, דנה", "update did not write the name")
    check(sql(stack, "SELECT count(*) FROM customers WHERE business_id = 1 "
                     "AND phone IN ('+972523334444', '+972533334445', "
                     "'+972541118888')") == "3", "duplicated by phone")

    # Another business imports the same phones: its own rows only.
    other = Api(ready["listen"])
    other.login_ok("owner2@imp.test", ADMIN_PASSWORD)
    body["on_existing"] = "skip"
    st, doc = other.ask("POST", "/api/import", body)
    check(st == 200 and doc["counts"]["create"] == 4, "business 2: %s" % doc)
    check(sql(stack, "SELECT count(*) FROM customers WHERE phone = "
                     "'+972501234567'") == "2", "business 2's row missing")
    check(sql(stack, "SELECT name FROM customers WHERE id = %s" % existing)
          == "כהן, דנה", "business 2's import touched business 1")

    # The audit log.
    st, doc = owner.ask("GET", "/api/audit")
    check(st == 200 and [r["action"] for r in doc["rows"]].count(
        "import.commit") == 2, "audit: %s %s" % (st, doc))

    # Refusals.
    agent = Api(ready["listen"])
    agent.login_ok("agent@imp.test", ADMIN_PASSWORD)
    st, doc = agent.ask("POST", "/api/import", body)
    check(st == 403 and doc["error"] == "forbidden", "agent: %s %s" %
          (st, doc))
    for bad, field in (({"csv": CSV, "mapping": {"phone": "Phone"}},
                        "mapping"),
                       ({"csv": CSV, "mapping": {"name": "שם מלא"}},
                        "mapping"),
                       ({"csv": "טלפון\n", "mapping": {"phone": "טלפון"}},
                        "csv"),
                       ({"csv": CSV, "mapping": MAPPING,
                         "on_existing": "merge"}, "on_existing"),
                       ({"mapping": MAPPING}, "csv"),
                       ({"csv": "טלפון\n" + "".join(
                           "05%08d\n" % i for i in range(2001)),
                         "mapping": {"phone": "טלפון"}}, "csv")):
        st, doc = owner.ask("POST", "/api/import", bad)
        check(st == 400 and field in doc.get("fields", {}),
              "%s: %s %s" % (bad.get("mapping"), st, doc))


e2e.main(scenario)
