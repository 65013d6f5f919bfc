#!/usr/bin/env python3
"""crm-store roles: what an owner, an agent and the admin may read.

Why: "an agent sees only what the owner shares" is enforced in crm-store
(the only process with a database connection), not only in the UI, so it
is checked here through the real wire protocol against a real PostgreSQL:
  * migration 0002 is applied: businesses.agents_see defaults to
    'assigned', customers.assigned_user_id exists;
  * the customer write assigns a customer (assigned_user_id), keeps the
    assignment when the field is absent, clears it with 0, and is refused
    (invalid) for a user of another business, the admin, or no user;
  * an agent of a business with agents_see = 'assigned' sees only the
    customers assigned to them (list, search, page) and only the calls of
    those customers (list, page with its turns); another agent sees theirs;
  * with agents_see = 'all' the agent sees the whole business; an owner
    always does; the admin may read any business it names;
  * refused with forbidden: an agent or owner naming another business, a
    user_id that does not exist, an inactive user, no user_id or a
    malformed one; deleting an agent leaves their customers unassigned.
"""
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import crmstore  # noqa: E402
from crmstore import check, say  # noqa: E402

# Business 1 is the demo business (3 customers); these are added to it.
P1, P2, P3 = "+972501110001", "+972501110002", "+972501110003"
PB = "+972502220002"  # business 2's customer
QUERIES = ("customers", "calls", "customer", "call", "settings")


def w(kind, key, data):
    return {"type": "STORE_WRITE", "payload": {"kind": kind, "key": key,
                                               "data": data}}


def q(what, business, user, **args):
    p = {"q": what, "args": args}
    if business is not None:
        p["business_id"] = business
    if user is not None:
        p["user_id"] = user
    return {"type": "STORE_QUERY", "payload": p}


def assign(phone, user, business=1):
    return w("customer", "assign:%s:%s" % (phone, user),
             {"business_id": business, "phone": phone,
              "assigned_user_id": user})


def call(sid, phone, business=1):
    return [w("call", sid, {"call_sid": sid, "business_id": business,
                            "from": phone, "to": "+97235550100",
                            "status": "completed"}),
            w("turn", sid + ":0", {"call_sid": sid, "seq": 0,
                                   "speaker": "caller",
                                   "heard": "שלום, אני מחפש דירה"})]


def user(env, business, role, email, active=True):
    return int(env.sql(
        "INSERT INTO users (business_id, email, password_hash, role, active) "
        "VALUES (%s, '%s', 'not-a-hash', '%s', %s) RETURNING id" %
        (business if business is not None else "NULL", email, role,
         "true" if active else "false"))[0][0])


def every_query(business, uid):
    """One of each query kind, for the refusal checks."""
    return [q("customers", business, uid), q("calls", business, uid),
            q("customer", business, uid, phone=P1),
            q("call", business, uid, call_sid="CAr1"),
            q("settings", business, uid)]


def phones(reply):
    check(reply["type"] == "STORE_REPLY", "list refused: %r" % reply)
    return sorted(x["phone"] for x in reply["payload"]["rows"])


def sids(reply):
    check(reply["type"] == "STORE_REPLY", "list refused: %r" % reply)
    return sorted(x["call_sid"] for x in reply["payload"]["rows"])


def error(reply):
    return reply["payload"].get("error") if reply["type"] == \
        "STORE_ERROR" else None


def scenario(env):
    env.start()
    names = [r[0] for r in env.sql(
        "SELECT name FROM schema_migrations ORDER BY version")]
    check(names[:2] == ["0001_init.sql", "0002_agent_visibility.sql"],
          "migrations %r" % names)
    check(env.sql("SELECT agents_see FROM businesses WHERE id = 1") ==
          [["assigned"]], "agents_see does not default to 'assigned'")

    env.sql("INSERT INTO businesses (id, name) VALUES (2, 'משרד אחר')")
    admin = int(env.sql("SELECT id FROM users WHERE role = 'admin'")[0][0])
    owner = user(env, 1, "owner", "owner1@x.test")
    agent = user(env, 1, "agent", "agent1@x.test")
    agent2 = user(env, 1, "agent", "agent2@x.test")
    gone = user(env, 1, "agent", "gone@x.test", active=False)
    other = user(env, 2, "agent", "agentb@x.test")
    owner_b = user(env, 2, "owner", "ownerb@x.test")

    # Three callers of business 1 (customers created by their calls), one
    # of business 2.
    writes = call("CAr1", P1) + call("CAr2", P2) + call("CAr3", P3) + \
        call("CAb1", PB, business=2)
    writes += [assign(P1, agent), assign(P2, agent2), assign(P3, agent),
               assign(P3, 0),
               # absent: keeps the assignment
               w("customer", "name:" + P1, {"business_id": 1, "phone": P1,
                                            "name": "רות אלון"})]
    res = env.request(*writes)
    for m, r in zip(writes, res):
        check(r["type"] == "STORE_ACK", "%s: %r" % (m["payload"], r))
    got = dict(env.sql("SELECT phone, coalesce(assigned_user_id::text, '-') "
                       "FROM customers WHERE phone LIKE '+97250111000_'"))
    check(got == {P1: str(agent), P2: str(agent2), P3: "-"},
          "assignments %r" % got)

    # The assignee must belong to the customer's business.
    res = env.request(assign(P3, other), assign(P3, admin),
                      assign(P3, 987654321), assign(PB, agent, business=2))
    check([error(r) for r in res] == ["invalid"] * 4,
          "cross-business assignments accepted: %r" % res)
    check(env.count("customers", "assigned_user_id IS NOT NULL") == 2,
          "a refused assignment was stored")
    say("customers assigned; other tenants' users and the admin refused")

    # An agent with agents_see = 'assigned' sees their own customers and
    # those customers' calls only.
    res = env.request(
        q("customers", 1, agent, per_page=200),
        q("calls", 1, agent),
        q("customers", 1, agent, search="0501110002"),
        q("customers", 1, agent, search="רות"),
        q("customer", 1, agent, phone=P1),
        q("customer", 1, agent, phone=P2),
        q("customer", 1, agent, phone=P3),
        q("call", 1, agent, call_sid="CAr1"),
        q("call", 1, agent, call_sid="CAr2"),
        q("call", 1, agent, call_sid="CAr3"),
        q("settings", 1, agent),
        q("customers", 1, agent2), q("calls", 1, agent2))
    check(phones(res[0]) == [P1] and res[0]["payload"]["total"] == 1,
          "agent's customers %r" % res[0]["payload"])
    check(sids(res[1]) == ["CAr1"] and res[1]["payload"]["total"] == 1,
          "agent's calls %r" % res[1]["payload"])
    check(res[2]["payload"]["total"] == 0, "agent found another's customer")
    check(res[3]["payload"]["total"] == 1, "agent's search %r" % res[3])
    page = res[4]["payload"]
    check(res[4]["type"] == "STORE_REPLY" and
          page["customer"]["assigned_user_id"] == agent and
          [c["call_sid"] for c in page["calls"]] == ["CAr1"],
          "agent's customer page %r" % res[4])
    check(error(res[5]) == "not_found" and error(res[6]) == "not_found",
          "agent read unassigned customers: %r" % res[5:7])
    check(res[7]["type"] == "STORE_REPLY" and
          [t["seq"] for t in res[7]["payload"]["turns"]] == [0],
          "agent's call page %r" % res[7])
    check(error(res[8]) == "not_found" and error(res[9]) == "not_found",
          "agent read others' calls: %r" % res[8:10])
    check(res[10]["type"] == "STORE_REPLY", "agent's settings %r" % res[10])
    check(phones(res[11]) == [P2] and sids(res[12]) == ["CAr2"],
          "second agent sees %r %r" % (res[11], res[12]))
    say("an agent sees only assigned customers and their calls")

    # An owner (and the admin) sees the whole business.
    res = env.request(q("customers", 1, owner, per_page=200),
                      q("calls", 1, owner), q("call", 1, owner,
                                              call_sid="CAr2"),
                      q("customers", 1, admin, per_page=200),
                      q("customers", 2, admin), q("customers", 2, owner_b))
    check(res[0]["payload"]["total"] == 6 and
          sids(res[1]) == ["CAr1", "CAr2", "CAr3"] and
          res[2]["type"] == "STORE_REPLY", "owner sees %r" % res[:3])
    check(res[3]["payload"]["total"] == 6 and phones(res[4]) == [PB] and
          phones(res[5]) == [PB], "admin and owner B see %r" % res[3:])
    say("owners and the admin see the whole business")

    # agents_see = 'all': the agent sees the whole business.
    env.sql("UPDATE businesses SET agents_see = 'all' WHERE id = 1")
    res = env.request(q("customers", 1, agent, per_page=200),
                      q("calls", 1, agent),
                      q("call", 1, agent, call_sid="CAr3"),
                      q("customer", 1, agent, phone=P2))
    check(res[0]["payload"]["total"] == 6 and
          sids(res[1]) == ["CAr1", "CAr2", "CAr3"] and
          all(r["type"] == "STORE_REPLY" for r in res[2:]),
          "agent with agents_see=all sees %r" % res)
    env.sql("UPDATE businesses SET agents_see = 'assigned' WHERE id = 1")
    check(phones(env.request(q("customers", 1, agent))[0]) == [P1],
          "back to 'assigned' still shows everything")
    say("with agents_see = 'all' an agent sees the whole business")

    # Refusals: another business, unknown, inactive, missing, malformed.
    before = env.stats()["counters"]["refused"]
    cases = [("agent of A asking for B", 2, agent),
             ("owner of A asking for B", 2, owner),
             ("agent of B asking for A", 1, other),
             ("a user that does not exist", 1, 987654321),
             ("an inactive user", 1, gone),
             ("no user_id", 1, None),
             ("a malformed user_id", 1, "12x"),
             ("a zero user_id", 1, 0)]
    for why, business, uid in cases:
        res = env.request(*every_query(business, uid))
        check([error(r) for r in res] == ["forbidden"] * len(QUERIES),
              "%s: %r" % (why, res))
    after = env.stats()["counters"]["refused"]
    check(after - before == len(cases) * len(QUERIES),
          "refusals counted %d -> %d" % (before, after))
    logs = " ".join(l.get("msg", "") for l in env.log_lines())
    check("not a user of this business" in logs and "no such user" in logs,
          "refusals not logged")
    # An id as a text of digits is the same user.
    res = env.request(q("customers", "1", str(agent)),
                      q("customers", "01", "0%d" % agent))
    check(phones(res[0]) == [P1] and phones(res[1]) == [P1],
          "ids as text %r" % res)
    say("other businesses, unknown, inactive and missing users refused")

    # Deleting an agent leaves their customers unassigned (the owner
    # still sees them).
    env.sql("DELETE FROM users WHERE id = %d" % agent2)
    check(env.sql("SELECT coalesce(assigned_user_id::text, '-') FROM "
                  "customers WHERE phone = '%s'" % P2) == [["-"]],
          "a deleted user's customer is still assigned")
    res = env.request(q("customers", 1, agent2))
    check(error(res[0]) == "forbidden", "a deleted user read %r" % res)
    say("a deleted agent's customers are unassigned")


crmstore.main(scenario)
