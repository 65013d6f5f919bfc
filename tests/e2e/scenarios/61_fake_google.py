#!/usr/bin/env python3
"""Scenario: the Google stand-in (tools/fake-google) checks service-account
JWTs and synthesis requests as Google does, and answers with real audio.

Why: the tts-worker's JWT signing, token cache and WAV-header stripping
can only be trusted against a double that refuses what Google refuses.
Checked, talking HTTP to it as the tts-worker does:
  start: it writes a 0600 service-account file whose token_uri points at
  itself, and its ready line names it; the private key is in no log.
  token: a JWT signed here with the openssl CLI and the written key gets
  a Bearer token (expires_in 3599); a bad signature, a wrong aud, an
  expired or too-long-lived JWT, a wrong kid, a missing scope and a wrong
  grant_type are refused with Google's invalid_grant shapes.
  synthesize: he-IL MULAW 8000 text returns a mu-law WAV whose RIFF chunks
  parse (the header layout varies: fact and odd-sized LIST chunks, fmt of
  18 bytes) and whose duration is plausible for the text; text over 5000
  bytes, text and ssml together, another language, LINEAR16, 16 kHz and
  SSML on a Chirp3-HD voice are refused 400 INVALID_ARGUMENT; no token is
  403, an unknown token 401; a token with a 2 s lifetime is refused 401
  once expired; revoked tokens get 401; 429 and 500 on demand; a hang
  holds the request until the client gives up.
"""
import base64
import json
import os
import secrets
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.environ["MERKAZIA_E2E_LIB"])
import e2e  # noqa: E402
import standins  # noqa: E402
from e2e import T, check  # noqa: E402

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SYNTH = "/v1/text:synthesize"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


class Signer:
    """Signs JWTs with the written key through the openssl CLI, as a test
    of ours; the key file lives in the run directory (0600)."""

    def __init__(self, creds):
        self.creds = creds
        fd, self.key = tempfile.mkstemp(dir=e2e.RUN_DIR, suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(creds["private_key"])

    def jwt(self, claims=None, header=None, key=None, **override):
        now = int(time.time())
        c = {"iss": self.creds["client_email"], "scope": SCOPE,
             "aud": self.creds["token_uri"], "iat": now, "exp": now + 3600}
        c.update(claims or {})
        c.update(override)
        h = header or {"alg": "RS256", "typ": "JWT",
                       "kid": self.creds["private_key_id"]}
        signing = b64url(json.dumps(h).encode()) + "." + \
            b64url(json.dumps(c).encode())
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                            key or self.key], input=signing.encode(),
                           capture_output=True, check=True, timeout=T(20))
        return signing + "." + b64url(p.stdout)

    def token(self, jwt, grant=GRANT):
        body = urllib.parse.urlencode({"grant_type": grant,
                                       "assertion": jwt}).encode()
        code, _, out = standins.http(
            "POST", self.creds["token_uri"], body,
            {"Content-Type": "application/x-www-form-urlencoded"})
        return code, json.loads(out)


def synth(base, token, text=None, ssml=None, voice=None, cfg=None,
          timeout=20):
    inp = {}
    if text is not None:
        inp["text"] = text
    if ssml is not None:
        inp["ssml"] = ssml
    doc = {"input": inp,
           "voice": voice or {"languageCode": "he-IL",
                              "name": "he-IL-Wavenet-A"},
           "audioConfig": cfg or {"audioEncoding": "MULAW",
                                  "sampleRateHertz": 8000,
                                  "effectsProfileId":
                                      ["telephony-class-application"]}}
    hdrs = {"Authorization": "Bearer " + token} if token else {}
    return standins.http_json("POST", base + SYNTH, doc, hdrs, timeout)


def riff_chunks(wav):
    """Walk the RIFF chunks as the RIFF rules say (pad odd sizes); return
    {id: body} and the order, failing on any inconsistency."""
    check(wav[:4] == b"RIFF" and wav[8:12] == b"WAVE", "not RIFF/WAVE")
    check(int.from_bytes(wav[4:8], "little") + 8 == len(wav),
          "RIFF size %d, file %d" % (int.from_bytes(wav[4:8], "little") + 8,
                                     len(wav)))
    pos, chunks, order = 12, {}, []
    while pos < len(wav):
        cid = wav[pos:pos + 4].decode("latin-1")
        n = int.from_bytes(wav[pos + 4:pos + 8], "little")
        check(pos + 8 + n <= len(wav), "%s chunk runs past the end" % cid)
        chunks[cid] = wav[pos + 8:pos + 8 + n]
        order.append((cid, n))
        pos += 8 + n + (n & 1)
    check(pos == len(wav), "chunks end at %d of %d" % (pos, len(wav)))
    return chunks, order


def scenario():
    creds_path = os.path.join(e2e.RUN_DIR, "state", "google.json")
    t = time.monotonic()
    st = standins.StandIn("fake-google", "--credentials-out", creds_path,
                          "--record", os.path.join(e2e.RUN_DIR, "log",
                                                   "google.requests.log"))
    ready = st.start()
    e2e.delay("fake-google ready (RSA key made)", time.monotonic() - t)
    check(ready["credentials"] == creds_path, "ready line: %s" % ready)
    check(stat.S_IMODE(os.stat(creds_path).st_mode) == 0o600,
          "the credentials file is not 0600")
    with open(creds_path, encoding="utf-8") as f:
        creds = json.load(f)
    check(creds["type"] == "service_account" and
          creds["token_uri"] == "http://%s/token" % ready["listen"] and
          creds["private_key"].startswith("-----BEGIN PRIVATE KEY-----") and
          creds["client_email"] and creds["private_key_id"],
          "credentials: %s" % {k: v for k, v in creds.items()
                               if k != "private_key"})
    sg = Signer(creds)
    try:
        run(st, sg, creds)
    finally:
        code = st.stop()
    check(code == 0, "fake-google exited %s on SIGTERM" % code)
    secret_bits = [creds["private_key"].splitlines()[5]] + \
        [t for t in TOKENS]
    for path in (st.log_path, os.path.join(e2e.RUN_DIR, "log",
                                           "google.requests.log")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        check(not any(s in text for s in secret_bits),
              "a key or token is in %s" % path)
    e2e.say("no key, token or assertion in the logs; stopped with exit 0")


TOKENS = []


def run(st, sg, creds):
    # Tokens.
    code, out = sg.token(sg.jwt())
    check(code == 200 and out["token_type"] == "Bearer" and
          out["expires_in"] == 3599 and out["access_token"].startswith(
              "ya29."), "token: %d %s" % (code, {k: v for k, v in out.items()
                                                 if k != "access_token"}))
    tok = out["access_token"]
    TOKENS.append(tok)
    other = os.path.join(e2e.RUN_DIR, "other.pem")
    subprocess.run(["openssl", "genpkey", "-quiet", "-algorithm", "RSA",
                    "-pkeyopt", "rsa_keygen_bits:2048", "-out", other],
                   check=True, capture_output=True, timeout=T(30))
    now = int(time.time())
    good = sg.jwt()
    h64, c64, s64 = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(c64 + "=" * (-len(c64) % 4)))
    claims["exp"] += 60
    tampered = ".".join((h64, b64url(json.dumps(claims).encode()), s64))
    for label, jwt, grant, want in (
            ("signed by another key", sg.jwt(key=other), GRANT,
             "Invalid JWT Signature."),
            ("claims changed after signing", tampered, GRANT,
             "Invalid JWT Signature."),
            ("wrong aud", sg.jwt(aud="https://oauth2.googleapis.com/token"),
             GRANT, "audience"),
            ("expired", sg.jwt(iat=now - 7200, exp=now - 3600), GRANT,
             "short-lived"),
            ("lives over an hour", sg.jwt(exp=now + 7200), GRANT,
             "short-lived"),
            ("from the future", sg.jwt(iat=now + 600, exp=now + 1200), GRANT,
             "short-lived"),
            ("wrong kid", sg.jwt(header={"alg": "RS256", "typ": "JWT",
                                         "kid": "0" * 40}), GRANT,
             "Invalid JWT Signature."),
            ("alg none", sg.jwt(header={"alg": "none"}), GRANT, "RS256"),
            ("other account", sg.jwt(iss="x@y.iam.gserviceaccount.com"),
             GRANT, "account not found"),
            ("no scope", sg.jwt(scope="https://www.googleapis.com/auth/"
                                "drive"), GRANT, "scope"),
            ("wrong grant_type", good, "client_credentials", "grant_type")):
        code, out = sg.token(jwt, grant)
        check(code == 400 and want in out.get("error_description", "") and
              out.get("error") in ("invalid_grant", "invalid_scope",
                                   "unsupported_grant_type"),
              "%s: %d %s" % (label, code, out))
    e2e.say("token: a signed JWT gets a token; 11 kinds of bad JWT refused")

    # Synthesis.
    base = st.base
    text = "שלום, כאן שי דירות. יש לנו דירת ארבעה חדרים בתל אביב."
    layouts = set()
    t = time.monotonic()
    for i in range(4):
        code, hd, out = synth(base, tok, text=text)
        check(code == 200 and set(out) == {"audioContent"},
              "synthesize: %d %s" % (code, out))
        wav = base64.b64decode(out["audioContent"])
        chunks, order = riff_chunks(wav)
        fmt = chunks["fmt "]
        check(int.from_bytes(fmt[0:2], "little") == 7 and
              int.from_bytes(fmt[2:4], "little") == 1 and
              int.from_bytes(fmt[4:8], "little") == 8000 and
              int.from_bytes(fmt[14:16], "little") == 8,
              "fmt chunk: %s" % fmt.hex())
        data = chunks["data"]
        secs = len(data) / 8000.0
        check(2.0 < secs < 8.0, "%.2f s of audio for %d characters" %
              (secs, len(text)))
        check(len(set(data)) > 50, "the audio is not speech-like")
        layouts.add(tuple(order[:-1]))
    e2e.delay("4 syntheses", time.monotonic() - t)
    check(len(layouts) >= 3 and any(len(lay) > 1 for lay in layouts),
          "WAV headers never varied: %s" % layouts)
    check(any(n % 2 for lay in layouts for _, n in lay),
          "no odd-sized chunk among %s" % layouts)
    e2e.say("synthesize: %.2f s of mu-law per sentence, %d header layouts" %
            (secs, len(layouts)))
    code, _, out = synth(base, tok, ssml="<speak>שלום <break time=\"200ms\"/>"
                         " ועוד</speak>")
    check(code == 200, "SSML: %d %s" % (code, out))

    long_text = "א" * 2501  # 5002 bytes of UTF-8
    mulaw16k = {"audioEncoding": "MULAW", "sampleRateHertz": 16000}
    for label, kw, want in (
            ("over 5000 bytes", {"text": long_text}, "5000 bytes"),
            ("text and ssml", {"text": "שלום", "ssml": "<speak>שלום</speak>"},
             "Exactly one"),
            ("no input", {}, "required"),
            ("another language", {"text": "hello", "voice": {
                "languageCode": "en-US"}}, "he-IL"),
            ("unknown voice", {"text": "שלום", "voice": {
                "languageCode": "he-IL", "name": "he-IL-Neural2-Z"}},
             "does not exist"),
            ("LINEAR16", {"text": "שלום", "cfg": {
                "audioEncoding": "LINEAR16", "sampleRateHertz": 8000}},
             "MULAW"),
            ("16 kHz", {"text": "שלום", "cfg": mulaw16k}, "8000"),
            ("SSML on Chirp3-HD", {"ssml": "<speak>שלום</speak>", "voice": {
                "languageCode": "he-IL", "name": "he-IL-Chirp3-HD-Aoede"}},
             "SSML"),
            ("speaking rate 5", {"text": "שלום", "cfg": {
                "audioEncoding": "MULAW", "sampleRateHertz": 8000,
                "speakingRate": 5}}, "speaking_rate")):
        code, _, out = synth(base, tok, **kw)
        check(code == 400 and out["error"]["status"] == "INVALID_ARGUMENT" and
              want in out["error"]["message"],
              "%s: %d %s" % (label, code, out))
    e2e.say("synthesize: 9 kinds of bad request refused INVALID_ARGUMENT")

    # Auth on synthesis.
    code, _, out = synth(base, None, text="שלום")
    check(code == 403 and out["error"]["status"] == "PERMISSION_DENIED",
          "no token: %d %s" % (code, out))
    code, hd, out = synth(base, "ya29.c." + secrets.token_urlsafe(48),
                          text="שלום")
    check(code == 401 and out["error"]["status"] == "UNAUTHENTICATED" and
          "invalid_token" in hd.get("www-authenticate", ""),
          "unknown token: %d %s" % (code, out))
    st.control("POST", "config", {"token_lifetime_s": 2})
    code, out = sg.token(sg.jwt())
    check(code == 200 and out["expires_in"] == 1, "short token: %s" % code)
    short = out["access_token"]
    TOKENS.append(short)
    code, _, _ = synth(base, short, text="שלום")
    check(code == 200, "the short-lived token before expiry: %d" % code)
    e2e.wait_for(lambda: synth(base, short, text="שלום")[0] == 401, T(5),
                 "the 2 s token to be refused")
    e2e.say("synthesize: no token 403, unknown 401, expired token 401")
    st.control("POST", "config", {"token_lifetime_s": 3600})
    st.fail(SYNTH, "401", 1)
    code, _, out = synth(base, tok, text="שלום")
    check(code == 401 and out["error"]["status"] == "UNAUTHENTICATED",
          "injected 401: %d %s" % (code, out))
    revoked = st.control("POST", "revoke", {})
    check(revoked["revoked"] >= 2, "revoke: %s" % revoked)
    code, _, out = synth(base, tok, text="שלום")
    check(code == 401, "a revoked token: %d %s" % (code, out))
    code, out = sg.token(sg.jwt())
    check(code == 200, "a new token after the revocation: %d" % code)
    tok = out["access_token"]
    TOKENS.append(tok)

    # Faults.
    st.fail(SYNTH, "429", 1)
    code, _, out = synth(base, tok, text="שלום")
    check(code == 429 and out["error"]["status"] == "RESOURCE_EXHAUSTED",
          "429: %d %s" % (code, out))
    st.fail(SYNTH, "500", 1)
    code, _, out = synth(base, tok, text="שלום")
    check(code == 500 and out["error"]["status"] == "INTERNAL",
          "500: %d %s" % (code, out))
    st.fail("/token", "500", 1)
    code, out = sg.token(sg.jwt())
    check(code == 500, "token endpoint 500: %d %s" % (code, out))
    st.fail(SYNTH, "hang", 1)
    t = time.monotonic()
    try:
        synth(base, tok, text="שלום", timeout=0.5)
        raise e2e.Fail("a hung request was answered")
    except OSError:  # the client's timeout
        pass
    held = time.monotonic() - t
    check(held >= 0.45, "the hang lasted only %.2f s" % held)
    code, _, out = synth(base, tok, text="שלום")
    check(code == 200, "after the hang: %d %s" % (code, out))
    hung = [r for r in st.requests(SYNTH) if r.get("fault") == "hang"]
    e2e.wait_for(lambda: [r for r in st.requests(SYNTH)
                          if r.get("fault") == "hang"], T(3),
                 "the hung request to be recorded")
    e2e.say("faults: 401, 429, 500 (also on /token), a hang the client "
            "abandons%s" % ("" if hung else " (recorded late)"))
    recs = st.requests()
    check(all(r["headers"].get("Authorization", "Bearer (redacted)") ==
              "Bearer (redacted)" for r in recs) and
          all((r.get("body") or {}).get("assertion") in (None, "(redacted)")
              for r in recs if r["path"] == "/token"),
          "secrets in the record")
    check(any(r.get("jwt", {}).get("claims", {}).get("aud") ==
              creds["token_uri"] for r in recs),
          "the record lacks the decoded JWT claims")


e2e.main(scenario)
