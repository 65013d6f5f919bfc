#!/usr/bin/env python3
"""crm-store against a real PostgreSQL: schema, writes, reads, auth.

Why: crm-store is where "nothing said is lost" ends, and where one tenant
must never see another's rows. Checked here, through the real wire
protocol (msgtool on the STORE endpoint):
  * migrations from an empty database, recorded in schema_migrations; a
    database newer than the build is refused (exit 1);
  * every write kind sent twice gives one row, each acknowledged after
    commit, and each commit is published on STORE_CHANGES;
  * tenant isolation: business A never sees business B's rows through
    any STORE_QUERY, and a STORE_QUERY without business_id is forbidden;
  * Hebrew search ignores niqqud and final letters; phone search takes
    050-, +972 and 972 forms; system queries for the daemons;
  * login with a wrong password fails and is counted; sessions, password
    change and logout;
  * unknown and malformed messages are logged and dropped, counted, and
    serving goes on; the heartbeat says the database is reachable.
"""
import os
import json
import subprocess
import sys
import time

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import crmstore  # noqa: E402
from crmstore import check, say  # noqa: E402

B2_NUMBER = "+97235550200"


def w(kind, key, data):
    return {"type": "STORE_WRITE", "payload": {"kind": kind, "key": key,
                                               "data": data}}


def q(what, business, **args):
    # User 1 is the admin (made at start), who may name any business; what
    # owners and agents may see is 42_crm_store_roles.py's.
    p = {"q": what, "args": args, "user_id": 1}
    if business is not None:
        p["business_id"] = business
    return {"type": "STORE_QUERY", "payload": p}


def writes_for(b, sid, phone):
    """One write of every kind for business b."""
    return [
        w("call", sid, {"call_sid": sid, "business_id": b,
                        "direction": "inbound", "from": phone,
                        "to": "+97235550100", "status": "in-progress"}),
        w("call_status", sid + ":completed",
          {"call_sid": sid, "business_id": b, "status": "completed",
           "ended_at": "2026-01-01T10:05:00Z", "duration_s": 300}),
        w("turn", sid + ":0", {"call_sid": sid, "seq": 0,
                               "speaker": "caller",
                               "heard": "שלום, אני מחפש דירה ברמת גן"}),
        w("turn", sid + ":1", {"call_sid": sid, "seq": 1, "speaker": "agent",
                               "heard": "בשמחה, כמה חדרים?",
                               "generated": "בשמחה, כמה חדרים? ומה התקציב?",
                               "interrupted": True,
                               "latency": {"stt_ms": 300}}),
        w("call_event", sid + "-ev1", {"call_sid": sid, "type": "start",
                                       "data": {"stream": "MZ1"}}),
        w("analysis", sid, {"call_sid": sid, "summary": "מחפש 3.5 חדרים",
                            "sentiment": "positive", "lead_score": 77,
                            "extracted": {"rooms_min": 3.5}}),
        w("appointment", sid + "-apt", {"business_id": b,
                                        "customer_phone": phone,
                                        "call_sid": sid,
                                        "requested_text": "יום שלישי בערב"}),
        w("customer", "%d:%s" % (b, phone),
          {"business_id": b, "phone": phone, "name": "אֹהֶל גָּדוֹל",
           "cities": ["רמת גן"], "rooms_min": 3.5, "rooms_max": 4,
           "budget_max": 2500000, "need_mamad": True}),
        w("message", sid + "-sms", {"business_id": b, "channel": "sms",
                                    "direction": "inbound", "from": phone,
                                    "to": "+97235550100",
                                    "body": "אפשר לקבוע ביקור?"}),
        w("note", sid + "-note", {"business_id": b, "customer_phone": phone,
                                  "body": "לחזור אליו מחר"}),
        w("task", sid + "-task", {"business_id": b, "customer_phone": phone,
                                  "title": "לקבוע ביקור",
                                  "due_at": "2026-01-02T09:00:00Z"}),
    ]


def scenario(env):
    env.start()
    rows = env.sql("SELECT version, name FROM schema_migrations")
    check(rows and rows[0][1] == "0001_init.sql", "migrations: %r" % rows)
    say("migrated from empty: %r" % rows)
    check(env.count("businesses") == 1 and env.count("customers") == 3,
          "demo seed missing")

    # Changes are published after commit: watch them.
    sub = subprocess.Popen(
        [os.path.join(crmstore.BIN, "msgtool"), "recv", "-e",
         "STORE_CHANGES", "-t", str(int(8000 * crmstore.MULT))],
        env=env.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    env.procs.append(sub)

    # A second tenant.
    env.sql("INSERT INTO businesses (id, name) VALUES (2, 'משרד אחר'); "
            "INSERT INTO business_numbers VALUES ('%s', 2)" % B2_NUMBER)
    time.sleep(0.3)  # let the SUB socket connect before the writes

    a = writes_for(1, "CAaaaa", "+972501110001")
    b = writes_for(2, "CAbbbb", "+972502220002")
    replies = env.request(*(a + a + b + b))
    for m, r in zip(a + a + b + b, replies):
        check(r["type"] == "STORE_ACK", "%s: %s" % (m["payload"]["kind"], r))
        check(r["job_id"] >= 1000, "reply lost its job id")
    for table, per_tenant in [("calls", 1), ("turns", 2), ("call_events", 1),
                              ("appointments", 1), ("messages", 1),
                              ("notes", 1), ("tasks", 1)]:
        n = env.count(table)
        check(n == 2 * per_tenant, "%s: %d rows for 2 tenants x %d" %
              (table, n, per_tenant))
    check(env.count("customers", "phone IN ('+972501110001', "
                    "'+972502220002')") == 2, "customers duplicated")
    r = env.sql("SELECT status, duration_s, summary, lead_score FROM calls "
                "WHERE call_sid = 'CAaaaa'")[0]
    check(r == ["completed", "300", "מחפש 3.5 חדרים", "77"], "call %r" % r)
    r = env.sql("SELECT rooms_min, need_mamad, lead_score FROM customers "
                "WHERE phone = '+972501110001'")[0]
    check(r == ["3.5", "t", "77"], "customer %r" % r)
    say("every write kind sent twice gave one row")

    # Isolation: every query of business 1 sees only business 1.
    res = env.request(
        q("customers", 1, per_page=200), q("calls", 1),
        q("customer", 1, phone="+972502220002"),
        q("call", 1, call_sid="CAbbbb"), q("settings", 1),
        q("customers", 2), q("calls", 2), q("call", 2, call_sid="CAaaaa"),
        q("customer", 2, phone="+972501110001"), q("settings", 2),
        q("customers", 2, search="+972501110001"))
    c1 = res[0]["payload"]
    check(c1["total"] == 4 and all(x["phone"] != "+972502220002"
                                   for x in c1["rows"]), "A sees %r" % c1)
    check([x["call_sid"] for x in res[1]["payload"]["rows"]] == ["CAaaaa"],
          "A's calls %r" % res[1]["payload"])
    for i in (2, 3, 7, 8):
        check(res[i]["type"] == "STORE_ERROR" and
              res[i]["payload"]["error"] == "not_found",
              "cross-tenant read answered: %r" % res[i])
    check(res[4]["payload"]["numbers"] == ["+97235550100"], "settings A")
    check([x["phone"] for x in res[5]["payload"]["rows"]] ==
          ["+972502220002"], "B sees %r" % res[5]["payload"])
    check([x["call_sid"] for x in res[6]["payload"]["rows"]] == ["CAbbbb"],
          "B's calls")
    check(res[9]["payload"]["numbers"] == [B2_NUMBER], "settings B")
    check(res[10]["payload"]["total"] == 0, "B found A's customer")
    res = env.request(*[q(x, None) for x in
                        ("customers", "calls", "customer", "call",
                         "settings")])
    check(all(r["payload"].get("error") == "forbidden" for r in res),
          "queries without business_id: %r" % res)
    call = env.request(q("call", 1, call_sid="CAaaaa"))[0]["payload"]
    check([t["seq"] for t in call["turns"]] == [0, 1] and
          call["turns"][1]["interrupted"] and len(call["events"]) == 1,
          "call page %r" % call)
    say("tenant isolation held through every query")

    # Hebrew search: niqqud and final letters ignored; phone forms.
    res = env.request(q("customers", 1, search="אהל גדול"),
                      q("customers", 1, search="גָּדוֹל"),
                      q("customers", 1, search="כהנ"),
                      q("customers", 1, search="050-111-0001"),
                      q("customers", 1, search="+972 50 111"),
                      q("customers", 1, search="רמת גנ", sort="name",
                        order="asc"),
                      q("calls", 1, search="0501110001"))
    totals = [r["payload"]["total"] for r in res]
    check(totals == [1, 1, 1, 1, 1, 2, 1], "search totals %r" % totals)
    say("Hebrew and phone search: %r" % totals)

    # System queries.
    res = env.request(
        {"type": "STORE_SYSQUERY", "payload": {"q": "phone_numbers"}},
        {"type": "STORE_SYSQUERY", "payload": {
            "q": "business_by_number", "args": {"number": "+97235550100"}}},
        {"type": "STORE_SYSQUERY", "payload": {
            "q": "customer_by_phone",
            "args": {"business_id": 1, "phone": "+972501110001"}}},
        {"type": "STORE_SYSQUERY", "payload": {"q": "calls_in_progress"}},
        w("call", "CAlive", {"call_sid": "CAlive", "business_id": 1,
                             "from": "+972509999999", "status": "ringing"}),
        {"type": "STORE_SYSQUERY", "payload": {"q": "calls_in_progress"}})
    nums = {x["number"]: x["business_id"] for x in res[0]["payload"]["rows"]}
    check(nums == {"+97235550100": 1, B2_NUMBER: 2}, "numbers %r" % nums)
    biz = res[1]["payload"]["business"]
    check(biz["name"] == "שי דירות ומשרדים בע״מ" and biz["greeting"] and
          "ממ״ד" in biz["agent_instructions"], "business %r" % biz)
    cust = res[2]["payload"]
    check(cust["customer"]["name"] == "אֹהֶל גָּדוֹל" and
          cust["history"][0]["summary"] == "מחפש 3.5 חדרים",
          "caller %r" % cust)
    check(res[3]["payload"]["rows"] == [] and
          [x["call_sid"] for x in res[5]["payload"]["rows"]] == ["CAlive"],
          "calls in progress %r" % res[5])
    say("system queries answer")

    # Auth.
    bad = {"type": "AUTH_LOGIN", "payload": {
        "email": crmstore.ADMIN_EMAIL, "password": "not-the-password"}}
    res = env.request(bad, {"type": "AUTH_LOGIN", "payload": {
        "email": "nobody@x.test", "password": "whatever1"}},
        {"type": "AUTH_LOGIN", "payload": {
            "email": crmstore.ADMIN_EMAIL.upper(),
            "password": crmstore.ADMIN_PASSWORD, "ip": "127.0.0.1"}})
    check(res[0]["payload"]["error"] == "forbidden" and
          res[1]["payload"] == res[0]["payload"], "bad logins %r" % res[:2])
    check(res[2]["type"] == "STORE_REPLY" and
          res[2]["payload"]["user"]["role"] == "admin", "login %r" % res[2])
    tok = res[2]["payload"]["session"]
    st = env.stats()["counters"]
    check(st["login_failed"] == 2 and st["login_ok"] == 1, "counts %r" % st)
    check(env.count("audit_log", "action = 'login_failed'") == 2,
          "failed logins not audited")
    check(env.count("sessions", "token_hash = '%s'" % tok) == 0,
          "a session token is stored in the clear")
    res = env.request(
        {"type": "AUTH_SESSION", "payload": {"session": tok}},
        {"type": "AUTH_PASSWORD", "payload": {
            "session": tok, "old": "wrong-old-pw", "new": "new-password-1"}},
        {"type": "AUTH_PASSWORD", "payload": {
            "session": tok, "old": crmstore.ADMIN_PASSWORD,
            "new": "new-password-1"}},
        {"type": "AUTH_LOGIN", "payload": {
            "email": crmstore.ADMIN_EMAIL, "password": "new-password-1"}},
        {"type": "AUTH_LOGOUT", "payload": {"session": tok}},
        {"type": "AUTH_SESSION", "payload": {"session": tok}})
    check(res[0]["payload"]["user"]["email"] == crmstore.ADMIN_EMAIL,
          "session %r" % res[0])
    check(res[1]["payload"].get("error") == "forbidden" and
          res[2]["type"] == "STORE_ACK" and res[3]["type"] == "STORE_REPLY"
          and res[4]["type"] == "STORE_ACK" and
          res[5]["payload"].get("error") == "forbidden", "auth %r" % res)
    say("wrong passwords fail and are counted; sessions work")

    # Malformed and unknown: logged, dropped, counted; serving goes on.
    before = env.stats()["counters"]
    # An STT_JOB is not for crm-store: no answer (msgtool times out).
    p = subprocess.run(
        [os.path.join(crmstore.BIN, "msgtool"), "send", "-e", "STORE",
         "-p", "req", "-t", "700", '{"type":"STT_JOB","payload":{}}'],
        env=env.env(), capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 or not p.stdout.strip(),
          "crm-store answered an STT_JOB: %r" % p.stdout)
    res = env.request(w("bogus", "k", {}), w("turn", "k", {"seq": 1}),
                      {"type": "STORE_WRITE", "payload": {"kind": "turn"}},
                      w("turn", "CAaaaa:9", {"call_sid": "CAaaaa",
                                             "seq": "nine",
                                             "speaker": "caller"}),
                      q("nonsense", 1),
                      w("turn", "CAaaaa:2", {"call_sid": "CAaaaa", "seq": 2,
                                             "speaker": "caller"}))
    check([r["payload"].get("error") for r in res[:5]] == ["invalid"] * 5,
          "bad writes %r" % res[:5])
    check(res[5]["type"] == "STORE_ACK", "serving stopped: %r" % res[5])
    after = env.stats()["counters"]
    check(after["dropped"] == before["dropped"] + 1 and
          after["rejected"] == before["rejected"] + 4, "counters %r -> %r" %
          (before, after))
    logs = " ".join(l.get("msg", "") for l in env.log_lines())
    check("unexpected STT_JOB" in logs and "unknown kind bogus" in logs,
          "malformed messages not logged")
    say("malformed and unknown messages dropped and counted")

    # The heartbeat says the database is reachable.
    p = subprocess.run(
        [os.path.join(crmstore.BIN, "msgtool"), "recv", "-e",
         "HEALTH_GATEWAY", "-n", "1", "-t", str(int(4000 * crmstore.MULT))],
        env=env.env(), capture_output=True, text=True, timeout=30)
    hb = [json.loads(l) for l in p.stdout.splitlines()]
    check(hb and hb[0]["payload"]["stage"] == "crm-store" and
          hb[0]["payload"]["provider_reachable"] is True, "heartbeat %r" % hb)

    out, _ = sub.communicate(timeout=30)
    kinds = [json.loads(l)["payload"]["kind"]
             for l in out.splitlines() if l.strip()]
    for k in ("call", "turn", "call_event", "analysis", "appointment",
              "lead", "message", "note", "task"):
        check(k in kinds, "no STORE_CHANGE of kind %s in %r" % (k, kinds))
    say("changes published: %d" % len(kinds))

    # A database newer than this build is refused.
    env.stop_store()
    env.sql("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql')")
    proc = env.start_store(wait=False)
    code = proc.wait(timeout=30 * crmstore.MULT)
    check(code == 1, "crm-store started against a newer schema (%s)" % code)
    check(any("newer than version" in l.get("msg", "")
              for l in env.log_lines()), "refusal not logged")
    env.store = None
    say("a newer schema is refused")
    # No secret in any log.
    for l in env.log_lines():
        check(crmstore.ADMIN_PASSWORD not in l.get("msg", ""), "leak")


crmstore.main(scenario)
