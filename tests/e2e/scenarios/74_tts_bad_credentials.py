#!/usr/bin/env python3
"""Scenario: a missing or bad Google credentials file stops the tts-worker
at start with exit 1 and a message naming the file and the problem, and
the private key never appears in its output.

Cases: no file; a file that is not JSON; a key file without client_email;
a key file whose private_key is not a key (the real key's PEM with its
middle cut out, so a leak would show). Each is started directly and once
through tools/stack (which must report the exit).
"""
import json
import os
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import tts_e2e as t  # noqa: E402
from e2e import check  # noqa: E402


def env_with(**kv):
    env = dict(os.environ)
    env["MERKAZIA_RUNTIME_DIR"] = os.path.join(e2e.RUN_DIR, "rt")
    env["MERKAZIA_STATE_DIR"] = os.path.join(e2e.RUN_DIR, "st")
    env.update(kv)
    return env


def scenario():
    g = t.FakeGoogle(os.path.join(e2e.RUN_DIR, "g")).start()
    try:
        good = json.load(open(g.creds))
    finally:
        g.stop()
    pem = good["private_key"]
    d = os.path.join(e2e.RUN_DIR, "c")
    os.makedirs(d)
    cases = []

    cases.append((os.path.join(d, "missing.json"), "cannot read"))
    p = os.path.join(d, "notjson.json")
    open(p, "w").write("client_email = nobody\n")
    cases.append((p, "not a JSON"))
    p = os.path.join(d, "noemail.json")
    doc = dict(good)
    del doc["client_email"]
    json.dump(doc, open(p, "w"))
    cases.append((p, "no client_email"))
    p = os.path.join(d, "badkey.json")
    doc = dict(good)
    lines = pem.splitlines()
    doc["private_key"] = "\n".join(lines[:3] + lines[-2:]) + "\n"
    json.dump(doc, open(p, "w"))
    cases.append((p, "not a PEM RSA private key"))

    key_lines = [ln for ln in pem.splitlines() if "-----" not in ln]
    for path, want in cases:
        code, out, err = e2e.run(
            [os.path.join(e2e.BIN, "tts-worker")],
            env_with(GOOGLE_APPLICATION_CREDENTIALS=path))
        check(code == 1, "%s: exit %d, not 1" % (path, code))
        check(path in err and want in err and
              "GOOGLE_APPLICATION_CREDENTIALS" in err,
              "%s: the error does not say %r:\n%s" % (path, want, err))
        check(not any(ln in out + err for ln in key_lines),
              "%s: a line of the private key was printed" % path)
        e2e.say("%s -> %s" % (os.path.basename(path),
                               [json.loads(ln)["msg"] for ln in
                                err.splitlines() if ln.startswith("{")][0]))

    st = e2e.Stack("--only", "tts-worker", "--no-db", "--no-standins",
                   "--set", "tts-worker:GOOGLE_APPLICATION_CREDENTIALS=" +
                   cases[3][0], run_dir=os.path.join(e2e.RUN_DIR, "s"))
    first = st.start(expect_ready=False)
    check("error" in first and "tts-worker" in first["error"] and
          "exit 1" in first["error"],
          "tools/stack did not report the exit: %s" % first)
    log = open(st.path("log", "tts-worker.log")).read()
    check("not a PEM RSA private key" in log, "the log does not say why")
    check(not any(ln in log for ln in key_lines), "the key is in the log")


e2e.main(scenario)
