#!/usr/bin/env python3
"""Scenario: settings errors are loud, complete and never leak secrets.
A daemon started with a bad value and a missing secret exits 1 naming both
(also when tools/stack starts it: the stack reports it and exits 1);
--check-config exits 1 naming a missing secret, an out-of-range value and
a bad config-file line, and prints secrets as (set), never their value;
--version prints name, version and build for every daemon. Why: the
prototype died when a secret's name changed and nothing said so."""
import os
import secrets
import sys

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
from e2e import check  # noqa: E402


def env_with(**kv):
    """The scenario's environment plus kv, with a private runtime dir."""
    env = dict(os.environ)
    env["MERKAZIA_RUNTIME_DIR"] = os.path.join(e2e.RUN_DIR, "rt")
    env["MERKAZIA_STATE_DIR"] = os.path.join(e2e.RUN_DIR, "st")
    env.update(kv)
    return env


def bad_start():
    code, out, err = e2e.run([os.path.join(e2e.BIN, "crm-store")],
                             env_with(MERKAZIA_DRAIN_MS="abc"))
    check(code == 1, "crm-store with bad settings exited %d, not 1" % code)
    for what in ("MERKAZIA_DRAIN_MS", "DATABASE_URL", "not starting"):
        check(what in err, "crm-store's error output does not name %s:\n%s"
              % (what, err))

    stack = e2e.Stack("--only", "crm-store", "--no-db",
                      "--set", "crm-store:MERKAZIA_DRAIN_MS=abc",
                      "--unset", "crm-store:DATABASE_URL",
                      run_dir=os.path.join(e2e.RUN_DIR, "s"))
    first = stack.start(expect_ready=False)
    check("error" in first and "crm-store" in first["error"] and
          "exit 1" in first["error"],
          "tools/stack did not report crm-store's exit: %s" % first)
    check(stack.code == 1, "tools/stack exited %s, not 1" % stack.code)
    log = open(stack.path("log", "crm-store.log")).read()
    check("MERKAZIA_DRAIN_MS" in log and "DATABASE_URL" in log,
          "crm-store.log does not name both problems")


def check_config():
    cfg = os.path.join(e2e.RUN_DIR, "bad.env")
    token = "tok-" + secrets.token_hex(16)
    with open(cfg, "w") as f:
        f.write("# a comment\nMERKAZIA_LOG_LEVEL=info\n"
                "this line is not a setting\n")
    code, out, err = e2e.run(
        [os.path.join(e2e.BIN, "gateway"), "--check-config", "-f", cfg],
        env_with(TWILIO_ACCOUNT_SID="AC" + "0" * 32,
                 MERKAZIA_HEARTBEAT_TIMEOUT_MS="10"))
    check(code == 1, "--check-config exited %d, not 1" % code)
    for what in ("TWILIO_AUTH_TOKEN is not set",
                 "MERKAZIA_HEARTBEAT_TIMEOUT_MS: 10 is out of range",
                 "%s:3:" % cfg, "3 problems"):
        check(what in err, "--check-config does not say %r:\n%s" %
              (what, err))
    check("TWILIO_ACCOUNT_SID=AC" in out, "settings not printed:\n" + out)

    # Secrets print as (set), from the environment and from a file.
    with open(cfg, "w") as f:
        f.write("TWILIO_AUTH_TOKEN=%s\n" % token)
    key = "sk-" + secrets.token_hex(20)
    for daemon, env in (("gateway", env_with(TWILIO_ACCOUNT_SID="AC1")),
                        ("llm-worker", env_with(OPENAI_API_KEY=key))):
        code, out, err = e2e.run(
            [os.path.join(e2e.BIN, daemon), "--check-config", "-f", cfg],
            env)
        check(code == 0, "%s --check-config exited %d:\n%s" %
              (daemon, code, err))
        name = "TWILIO_AUTH_TOKEN" if daemon == "gateway" else \
            "OPENAI_API_KEY"
        check("%s=(set)" % name in out, "%s: %s not shown as (set):\n%s" %
              (daemon, name, out))
        check(token not in out + err and key not in out + err,
              "%s --check-config printed a secret's value" % daemon)


def versions():
    with open(os.path.join(e2e.REPO, "VERSION")) as f:
        version = f.read().strip()
    bins = [e2e.BIN] + ([e2e.RELEASE_BIN] if os.path.isdir(e2e.RELEASE_BIN)
                        else [])
    for b in bins:
        for d in e2e.DAEMONS:
            code, out, err = e2e.run([os.path.join(b, d), "--version"])
            words = out.split()
            check(code == 0 and len(words) == 4 and words[0] == d and
                  words[1] == version and words[2] == "(build" and
                  len(words[3]) > 1,
                  "%s --version printed %r (exit %d)" % (d, out, code))
    e2e.say("note: --version: " + out.strip())


def scenario():
    bad_start()
    check_config()
    versions()


e2e.main(scenario)
