#!/usr/bin/env python3
"""Scenario: the browser API's record routes (issues #12 and #13) against
the real gateway, crm-store, PostgreSQL and fake-twilio.

Setup: crm-store with the demo business (1) and an admin from the
environment; in SQL a second business with an owner, an owner and an
agent of business 1 (the admin's password hash: Python has no Argon2id);
a call of business 1 with a recording rendered by fake-twilio and a call
of business 2, written through msgtool (STORE_WRITE).
Asserts: every route of the table needs a session (401), and every
state-changing one the CSRF header (403 csrf); customers: create (E.164
from 05X-..., 201), the same phone again is 409 with the id, PATCH moves
the stage and the detail's activity shows it (customer.stage from/to),
notes and tasks on the lead are in the detail; an owner of business 2
gets 404 for business 1's ids on every route and cannot see its tasks,
appointments or users; an agent gets 403 on users, audit and settings
changes, and on assigning; live calls list the open call; the recording
is served whole and by Range (206) and a call without one is 404;
settings change (greeting) and go back; appointments: create, move to
confirmed, list in the week (Sunday first) and by range; tasks from a
call in one step, mine / overdue filters, done; users: create with a
one-time password that logs in, duplicate email 409, role change,
deactivate (login refused, own deactivation 400); audit lists the
customer's entries. No password in the gateway's log.
Why: the web UI's lead, calendar, tasks and users pages are written
against docs/api.md; this checks the contract end to end, tenants first.
"""
import datetime
import json
import os
import socket
import sys
import urllib.request

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import check  # noqa: E402
from api_e2e import (Api, add_business, add_users,  # noqa: E402
                     msgtool_write, sql, wait_admin)

ADMIN_EMAIL = "admin@merkazia.test"
ADMIN_PASSWORD = "Admin-pw-%d-secret" % os.getpid()
OWNER_EMAIL = "owner@records.test"
AGENT_EMAIL = "agent@records.test"
OTHER_EMAIL = "owner@other.test"


# Every route of docs/api.md but login, with a path that names ids.
ROUTES = [
    ("POST", "/api/logout"), ("GET", "/api/me"), ("POST", "/api/password"),
    ("GET", "/api/businesses"), ("GET", "/api/calls"),
    ("GET", "/api/calls/live"), ("GET", "/api/calls/1"),
    ("GET", "/api/calls/1/recording"), ("GET", "/api/customers"),
    ("POST", "/api/customers"), ("GET", "/api/customers/1"),
    ("PATCH", "/api/customers/1"), ("POST", "/api/customers/1/notes"),
    ("POST", "/api/customers/1/tasks"), ("GET", "/api/settings"),
    ("PATCH", "/api/settings"), ("GET", "/api/appointments"),
    ("POST", "/api/appointments"), ("PATCH", "/api/appointments/1"),
    ("GET", "/api/tasks"), ("POST", "/api/tasks"),
    ("PATCH", "/api/tasks/1"), ("POST", "/api/import"),
    ("GET", "/api/users"), ("POST", "/api/users"),
    ("PATCH", "/api/users/1"), ("GET", "/api/audit"),
    ("GET", "/api/events"),
]


def scenario():
    env = dict(os.environ)
    env["MERKAZIA_ADMIN_EMAIL"] = ADMIN_EMAIL
    env["MERKAZIA_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    stack = e2e.Stack("--only", "crm-store,gateway",
                      "--set", "crm-store:MERKAZIA_STORE_DEMO=1",
                      "--set", "gateway:MERKAZIA_SESSION_CACHE_MS=0",
                      env=env)
    ready = stack.start()
    listen = ready["listen"]
    twilio = stack.settings["TWILIO_API_BASE_URL"]

    add_business(stack)
    wait_admin(stack)
    add_users(stack, [(1, OWNER_EMAIL, "owner", "owner"),
                      (1, AGENT_EMAIL, "agent", "agent"),
                      (2, OTHER_EMAIL, "owner", "owner")])
    agent_id = int(sql(stack, "SELECT id FROM users WHERE email = '%s'" %
                       AGENT_EMAIL))

    # A recording on fake-twilio, a live call with it, another tenant's.
    req = urllib.request.Request(
        twilio + "/_standin/recordings",
        json.dumps({"text": "שלום, זו הקלטה", "call_sid":
                    "CA" + "1" * 32}).encode(),
        {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=e2e.T(30)) as r:
        rec = json.loads(r.read())
    sid1, sid2 = "CA" + "1" * 32, "CA" + "2" * 32
    msgtool_write(stack,
                  ("call", sid1, {"call_sid": sid1, "business_id": 1,
                                  "from": "+972507770001",
                                  "to": "+97235550100",
                                  "status": "in-progress",
                                  "recording_url": rec["url"]}),
                  ("call", sid2, {"call_sid": sid2, "business_id": 2,
                                  "from": "+972507770002",
                                  "to": "+97235550199",
                                  "status": "in-progress"}))
    call1 = sql(stack, "SELECT id FROM calls WHERE call_sid = '%s'" % sid1)
    call2 = sql(stack, "SELECT id FROM calls WHERE call_sid = '%s'" % sid2)

    # The route table: a session everywhere, CSRF on every change.
    anon = Api(listen)
    for method, path in ROUTES:
        st, _, doc, _ = anon.call(method, path, {} if method != "GET"
                                  else None)
        check(st == 401 and doc["error"] == "unauthorized",
              "%s %s without a session: %s %s" % (method, path, st, doc))
    owner = Api(listen)
    owner.login_ok(OWNER_EMAIL, ADMIN_PASSWORD)
    for method, path in ROUTES:
        if method == "GET":
            continue
        st, _, doc, _ = owner.call(method, path, {}, csrf=False)
        check(st == 403 and doc["error"] == "csrf",
              "%s %s without CSRF: %s %s" % (method, path, st, doc))

    # Live events: an edit reaches the business's browsers as SSE.
    sse = socket.create_connection((owner.host, owner.port),
                                   timeout=e2e.T(10))
    sse.sendall(("GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: "
                 "merkazia_session=%s\r\n\r\n" % owner.session).encode())

    # Customers: create, conflict, stage, notes, tasks, the timeline.
    st, _, doc, _ = owner.call("POST", "/api/customers", {
        "phone": "052-444-5566", "name": "רונית לוי", "pipeline":
        "seller_landlord", "budget_max": 3200000, "cities": ["רעננה"],
        "rooms_min": 4.5})
    check(st == 201 and doc["customer"]["phone"] == "+972524445566" and
          doc["customer"]["pipeline"] == "seller_landlord",
          "create: %s %s" % (st, doc))
    cid = doc["customer"]["id"]
    st, _, doc, _ = owner.call("POST", "/api/customers",
                               {"phone": "+972524445566"})
    check(st == 409 and doc["error"] == "conflict" and doc["id"] == cid,
          "the same phone: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("POST", "/api/customers", {"phone": "12"})
    check(st == 400 and "phone" in doc["fields"], "bad phone: %s" % doc)
    st, _, doc, _ = owner.call("POST", "/api/customers",
                               {"phone": "0524445567", "stage": "sold",
                                "id": 5})
    check(st == 400 and set(doc["fields"]) == {"stage", "id"},
          "bad fields: %s" % doc)
    st, _, doc, _ = owner.call("PATCH", "/api/customers/%d" % cid,
                               {"stage": "contacted", "timeline": None})
    check(st == 200 and doc["customer"]["stage"] == "contacted",
          "stage move: %s %s" % (st, doc))
    buf = b""
    end = e2e.T(10)
    while b"event: lead" not in buf or b"contacted" not in buf:
        sse.settimeout(end)
        chunk = sse.recv(65536)
        check(chunk, "the event stream closed: %r" % buf[-300:])
        buf += chunk
    sse.close()
    st, _, doc, _ = owner.call("POST", "/api/customers/%d/tasks" % cid,
                               {"title": "x", "assignee_id": 1})
    check(st == 400, "an assignee of no business: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("POST", "/api/customers/%d/notes" % cid,
                               {"body": "ביקשה לחזור אחרי החג"})
    check(st == 201 and doc["note"]["customer_id"] == cid,
          "note: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("POST", "/api/customers/%d/tasks" % cid,
                               {"title": "לשלוח הצעה", "due_at":
                                "2020-01-05", "assignee_id": agent_id})
    check(st == 201 and doc["task"]["assignee_id"] == agent_id,
          "task: %s %s" % (st, doc))
    overdue_task = doc["task"]["id"]
    st, _, doc, _ = owner.call("GET", "/api/customers/%d" % cid)
    check(st == 200 and len(doc["notes"]) == 1 and len(doc["tasks"]) == 1,
          "detail: %s %s" % (st, doc))
    stages = [a for a in doc["activity"] if a["action"] == "customer.stage"]
    check(stages and stages[0]["detail"] == {"from": "new",
                                             "to": "contacted"} and
          stages[0]["user_name"] == "owner", "activity: %s" % doc["activity"])
    check({"customer.create", "note.create"} <=
          {a["action"] for a in doc["activity"]}, "activity: %s" %
          doc["activity"])
    st, _, doc, _ = owner.call("GET", "/api/customers?pipeline="
                               "seller_landlord")
    check(st == 200 and doc["rows"][0]["id"] == cid and
          all(r["pipeline"] == "seller_landlord" for r in doc["rows"]) and
          doc["rows"][0]["last_activity_at"] and
          doc["rows"][0]["budget_max"] == 3200000,
          "pipeline filter: %s" % doc)
    st, _, doc, _ = owner.call("GET", "/api/audit?entity=customer&id=%d" %
                               cid)
    check(st == 200 and doc["total"] >= 2, "audit: %s %s" % (st, doc))

    # Another tenant: 404 for business 1's ids, nothing in its lists.
    other = Api(listen)
    check(other.login(OTHER_EMAIL, ADMIN_PASSWORD)[0] == 200, "login 2")
    for method, path, body in (
            ("GET", "/api/customers/%d" % cid, None),
            ("PATCH", "/api/customers/%d" % cid, {"stage": "lost"}),
            ("POST", "/api/customers/%d/notes" % cid, {"body": "x"}),
            ("POST", "/api/customers/%d/tasks" % cid, {"title": "x"}),
            ("PATCH", "/api/tasks/%d" % overdue_task, {"done": True}),
            ("POST", "/api/tasks", {"title": "x", "call_id": int(call1)}),
            ("POST", "/api/appointments", {"customer_id": cid}),
            ("GET", "/api/calls/%s/recording" % call1, None),
            ("PATCH", "/api/users/%d" % agent_id, {"name": "x"})):
        st, _, doc, _ = other.call(method, path, body)
        check(st == 404 and doc["error"] == "not_found",
              "business 2 %s %s: %s %s" % (method, path, st, doc))
    st, _, doc, _ = other.call("GET", "/api/tasks")
    check(st == 200 and doc["total"] == 0, "business 2's tasks: %s" % doc)
    st, _, doc, _ = other.call("GET", "/api/users")
    check(st == 200 and [u["email"] for u in doc["rows"]] == [OTHER_EMAIL],
          "business 2's users: %s" % doc)
    st, _, doc, _ = other.call("GET", "/api/calls/live")
    check(st == 200 and [c["call_sid"] for c in doc["rows"]] == [sid2],
          "business 2's live calls: %s" % doc)
    st, _, doc, _ = other.call("PATCH", "/api/settings?business_id=1",
                               {"greeting": "x"})
    check(st == 403, "another business's settings: %s %s" % (st, doc))

    # Live calls and the recording.
    st, _, doc, _ = owner.call("GET", "/api/calls/live")
    check(st == 200 and [c["call_sid"] for c in doc["rows"]] == [sid1] and
          doc["rows"][0]["from_number"] == "+972507770001",
          "live calls: %s %s" % (st, doc))
    st, h, _, raw = owner.call("GET", "/api/calls/%s/recording" % call1)
    check(st == 200 and h["content-type"].startswith("audio/") and
          raw[:4] == b"RIFF" and h.get("accept-ranges") == "bytes",
          "recording: %s %s" % (st, h))
    whole = raw
    st, h, _, raw = owner.call("GET", "/api/calls/%s/recording" % call1,
                               headers={"Range": "bytes=4-11"})
    check(st == 206 and raw == whole[4:12] and
          h["content-range"] == "bytes 4-11/%d" % len(whole),
          "range: %s %s" % (st, h))
    st, _, doc, _ = owner.call("GET", "/api/calls/999999/recording")
    check(st == 404, "no such call's recording: %s" % st)
    msgtool_write(stack, ("call", "CA" + "3" * 32, {
        "call_sid": "CA" + "3" * 32, "business_id": 1,
        "from": "+972507770003", "status": "completed"}))
    st, _, doc, _ = owner.call("GET", "/api/calls/%s/recording" %
                               ("CA" + "3" * 32))
    check(st == 404 and doc["error"] == "not_found",
          "a call without a recording: %s %s" % (st, doc))

    # Settings (owner), then back.
    st, _, doc, _ = owner.call("GET", "/api/settings")
    old_greeting = doc["business"]["greeting"]
    st, _, doc, _ = owner.call("PATCH", "/api/settings", {
        "greeting": "שלום, הגעתם למשרד", "transfer_number": "03-5550101",
        "business_hours": {"sun": [["09:00", "18:00"]], "sat": []}})
    check(st == 200 and doc["business"]["greeting"] == "שלום, הגעתם למשרד"
          and doc["business"]["transfer_number"] == "+97235550101" and
          doc["business"]["business_hours"]["sun"] == [["09:00", "18:00"]],
          "settings: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("PATCH", "/api/settings", {
        "business_hours": {"sun": [["19:00", "09:00"]]}})
    check(st == 400, "bad hours: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("PATCH", "/api/settings",
                               {"greeting": old_greeting})
    check(st == 200, "settings back: %s" % st)

    # Appointments: by hand, confirmed, in the week, by range.
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(
        hours=2)))
    sunday = (now - datetime.timedelta(days=(now.weekday() + 1) % 7)).date()
    when = "%sT10:30:00+02:00" % (sunday + datetime.timedelta(days=2))
    st, _, doc, _ = owner.call("POST", "/api/appointments", {
        "customer_id": cid, "starts_at": when, "address": "הרצל 10",
        "status": "requested", "call_id": int(call1)})
    check(st == 201 and doc["appointment"]["call_sid"] == sid1 and
          doc["appointment"]["status"] == "requested",
          "appointment: %s %s" % (st, doc))
    aid = doc["appointment"]["id"]
    st, _, doc, _ = owner.call("PATCH", "/api/appointments/%d" % aid,
                               {"status": "confirmed"})
    check(st == 200 and doc["appointment"]["status"] == "confirmed",
          "confirm: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("PATCH", "/api/appointments/%d" % aid,
                               {"status": "maybe"})
    check(st == 400, "bad status: %s" % st)
    st, _, doc, _ = owner.call("GET", "/api/appointments")
    check(st == 200 and aid in [a["id"] for a in doc["rows"]] and
          doc["rows"][0]["customer_name"] == "רונית לוי",
          "this week: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("GET", "/api/appointments?from=%s&to=%s" % (
        sunday + datetime.timedelta(days=7),
        sunday + datetime.timedelta(days=14)))
    check(st == 200 and aid not in [a["id"] for a in doc["rows"]],
          "next week: %s" % doc)
    st, _, doc, _ = other.call("GET", "/api/appointments")
    check(st == 200 and doc["rows"] == [], "business 2's week: %s" % doc)

    # Tasks: from a call in one step, mine, overdue, done.
    st, _, doc, _ = owner.call("POST", "/api/tasks", {
        "title": "לחזור למתקשר", "call_sid": sid1})
    check(st == 201 and doc["task"]["call_sid"] == sid1 and
          doc["task"]["customer_id"] is not None,
          "task from a call: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("GET", "/api/tasks?overdue=true")
    check(st == 200 and [t["id"] for t in doc["rows"]] == [overdue_task],
          "overdue: %s" % doc)
    agent = Api(listen)
    check(agent.login(AGENT_EMAIL, ADMIN_PASSWORD)[0] == 200, "agent login")
    st, _, doc, _ = agent.call("GET", "/api/tasks?mine=true")
    check(st == 200 and [t["id"] for t in doc["rows"]] == [overdue_task],
          "the agent's tasks: %s %s" % (st, doc))
    st, _, doc, _ = agent.call("PATCH", "/api/tasks/%d" % overdue_task,
                               {"done": True})
    check(st == 200 and doc["task"]["done"] is True, "done: %s" % doc)
    st, _, doc, _ = owner.call("GET", "/api/tasks?overdue=true")
    check(st == 200 and doc["total"] == 0, "overdue after done: %s" % doc)

    # An agent who sees only assigned customers: theirs when they create.
    st, _, doc, _ = agent.call("POST", "/api/customers",
                               {"phone": "0587776655", "name": "ליד סוכן"})
    check(st == 201 and doc["customer"]["assigned_user_id"] == agent_id,
          "agent create: %s %s" % (st, doc))
    st, _, doc, _ = agent.call("GET", "/api/customers/%d" %
                               doc["customer"]["id"])
    check(st == 200, "the agent's own lead: %s" % st)
    st, _, doc, _ = agent.call("GET", "/api/customers/%d" % cid)
    check(st == 404, "an unassigned lead for the agent: %s" % st)

    # The agent's limits.
    for method, path, body in (("GET", "/api/users", None),
                               ("POST", "/api/users", {"email": "a@b.c",
                                                       "role": "agent"}),
                               ("GET", "/api/audit", None),
                               ("PATCH", "/api/settings", {"greeting": "x"}),
                               ("POST", "/api/import", {"csv": "phone\n"}),
                               ("PATCH", "/api/customers/%d" % cid,
                                {"assigned_user_id": agent_id})):
        st, _, doc, _ = agent.call(method, path, body)
        check(st == 403 and doc["error"] == "forbidden",
              "agent %s %s: %s %s" % (method, path, st, doc))

    # Users: create (one-time password), conflict, role, deactivate.
    st, _, doc, _ = owner.call("POST", "/api/users", {
        "email": "new.agent@records.test", "name": "סוכן חדש",
        "role": "agent"})
    check(st == 201 and len(doc["password"]) == 16 and
          doc["user"]["role"] == "agent" and doc["user"]["active"],
          "user create: %s %s" % (st, doc))
    new_id, one_time = doc["user"]["id"], doc["password"]
    newbie = Api(listen)
    check(newbie.login("new.agent@records.test", one_time)[0] == 200,
          "the one-time password does not log in")
    st, _, doc, _ = owner.call("POST", "/api/users", {
        "email": "NEW.agent@records.test", "role": "agent"})
    check(st == 409, "duplicate email: %s %s" % (st, doc))
    st, _, doc, _ = owner.call("PATCH", "/api/users/%d" % new_id,
                               {"role": "owner"})
    check(st == 200 and doc["user"]["role"] == "owner", "role: %s" % doc)
    st, _, doc, _ = owner.call("PATCH", "/api/users/%d" % new_id,
                               {"active": False})
    check(st == 200 and doc["user"]["active"] is False, "deactivate: %s" %
          doc)
    st, _, doc, _ = newbie.call("GET", "/api/me")
    check(st == 401, "a deactivated user's session: %s" % st)
    st, _, _ = newbie.login("new.agent@records.test", one_time)
    check(st == 401, "a deactivated user logs in: %s" % st)
    own_id = owner.call("GET", "/api/me")[2]["user"]["id"]
    st, _, doc, _ = owner.call("PATCH", "/api/users/%d" % own_id,
                               {"active": False})
    check(st == 400, "deactivating oneself: %s %s" % (st, doc))

    # Secrets stay out of the log.
    for line in stack.log("gateway") + stack.log("crm-store"):
        text = json.dumps(line, ensure_ascii=False)
        check(ADMIN_PASSWORD not in text and one_time not in text,
              "a password in a log")


e2e.main(scenario)
