#!/usr/bin/env python3
"""Independent black-box client for pinset-server in demo mode (issue 10).

It shares no code with pinset: the ISO 9564 blocks, the RSA-OAEP cryptograms,
the TDES encipherment and the format 0 decoding are written here from the
standards, on pyca/cryptography and the Python standard library only.

    python3 tests/server/client.py [URL [TOKEN]] [--scoped-token FAMILY:TOKEN]...
                                   [--server-log FILE]

URL and TOKEN default to $PINSET_URL and $PINSET_TOKEN. TOKEN must be valid
for both API families (the demo token is). Each --scoped-token is a token
allowed on FAMILY (mastercard or enfuce) only: the client checks it gets 403
on the other family and is accepted on its own. --server-log names the
server's stderr: at the end the client checks that none of the secrets it sent
or saw (full PANs, controlIds, cryptograms, clear and enciphered blocks, the
tzpk) appears there, and the token at most once (the demo token line).

What it does against a server seeded with the Mastercard sandbox CMS:

* Mastercard: GET /public-keys, builds an ISO format 1 block for a PIN of its
  own, seals it with RSA-OAEP SHA-256 (MGF1-SHA-256, empty label), PUT
  /cards/{id}/pin -> 204; then reads /demo/cms/cards, deciphers the stored
  format 0 block under the sandbox ZPK and finds its PIN.
* Enfuce v3: control for a plastic, its own RSA-2048 key, /pin/v3/set/tzpk,
  unwraps the tzpk, TDES-ECB of its format 1 block, /pin/v3/set -> 200 {};
  the stored block as above; the used controlId -> 404.
* Enfuce v2: a format 1 block under the pre-shared ZPK -> 200 {}; storage.
* Auth (401 missing / unknown / non-bearer), scoped tokens (403), malformed
  JSON (400 with the family's error body), auditUser rules (1 to 64 visible
  ASCII) on every Enfuce route, wrong Content-Type, a 1 MiB body (413),
  concurrent set PINs on one card, health, readiness, metrics, and the OpenAPI
  document (every route; request bodies, query parameters and error bodies as
  the server takes and serves them).

One line per check (``ok`` or ``FAIL``; ``note`` lines are observations that
are not failures), then ``client: N passed, M failed``; exit 1 if M > 0.
No PIN is printed.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any, Callable, Optional

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    try:  # cryptography >= 43 keeps TripleDES here
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(f"client.py: missing dependency ({exc}); use tests/server/run.sh\n")
    sys.exit(2)

# --- Mastercard Processing sandbox data (public developer docs) -------------
KEY_INDEX = "A1564386531162"
CMS_ZPK = bytes.fromhex("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")
CMS_ZPK_INDEX = "ZPK-CMS"
CMS_ZPK_KCV = "F3BF3A"
SHARED_ZPK = bytes.fromhex("5AFE406A9BEF03F979DC56FB8DA06BDF")
SHARED_ZPK_INDEX = "ZPK-SHARED"
SHARED_ZPK_KCV = "4A997A"
EXPIRY = "2812"
CARDS = {  # contract -> PAN (the sandbox PINs are not needed: the client sets its own)
    "70001": "5141576351968605",
    "70002": "5185410084016382",
    "70003": "5115795782050849",
    "70004": "5128839686355014",
    "70005": "5121876475234064",
}
ENFUCE_ERROR_TYPES = {
    "STATIC_VALIDATION_ERROR",
    "DYNAMIC_VALIDATION_ERROR",
    "INTEGRATION_ERROR",
    "SECURITY_ERROR",
    "UNEXPECTED_ERROR",
}
AUDIT_USER = "client-py"
SHOWN_BY_LENGTH = {"id", "tzpk", "controlId", "pinBlock", "newPinBlock", "publicRsaKey"}
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class CheckFailed(Exception):
    pass


def expect(cond: Any, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


# --- ISO 9564 and TDES, from the standard -----------------------------------
def tdes_key(key: bytes) -> bytes:
    """2-key TDES K1K2 -> K1K2K1; 3-key unchanged."""
    expect(len(key) in (16, 24), f"TDES key of {len(key)} bytes")
    return key + key[:8] if len(key) == 16 else key


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    cipher = Cipher(TripleDES(tdes_key(key)), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def kcv(key: bytes) -> str:
    return tdes_ecb(key, bytes(8))[:3].hex().upper()


def weak(pin: str) -> bool:
    """Repeated digit or an ascending/descending run (a server may refuse these)."""
    d = [int(c) for c in pin]
    pairs = list(zip(d, d[1:]))
    return (
        all(a == b for a, b in pairs)
        or all((a + 1) % 10 == b for a, b in pairs)
        or all((a + 9) % 10 == b for a, b in pairs)
    )


def choose_pin(avoid: tuple = ()) -> str:
    while True:
        n = 4 + secrets.randbelow(3)  # 4 to 6 digits
        pin = "".join(str(secrets.randbelow(10)) for _ in range(n))
        if not weak(pin) and pin not in avoid:
            return pin


def format1_block(pin: str) -> bytes:
    """ISO 9564-1 format 1: 1, PIN length, PIN digits, random fill nibbles 0-F."""
    expect(4 <= len(pin) <= 12 and pin.isdigit(), "PIN of 4 to 12 digits")
    nibbles = "1" + format(len(pin), "X") + pin
    fill = os.urandom(8).hex().upper()
    block = nibbles + fill[: 16 - len(nibbles)]
    return bytes.fromhex(block)


def pan_field(pan: str) -> bytes:
    """ISO format 0 PAN field: 0000 + the 12 rightmost PAN digits excluding the check digit."""
    return bytes.fromhex("0000" + pan[-13:-1])


def decode_format0(block: bytes, pan: str) -> str:
    clear = bytes(a ^ b for a, b in zip(block, pan_field(pan))).hex().upper()
    expect(clear[0] == "0", f"format 0 control nibble is {clear[0]}, not 0")
    n = int(clear[1], 16)
    expect(4 <= n <= 12, f"format 0 PIN length {n}")
    expect(clear[2 : 2 + n].isdigit(), "format 0 PIN digits are not all decimal")
    expect(set(clear[2 + n :]) <= {"F"}, "format 0 fill is not all F")
    return clear[2 : 2 + n]


def rsa_encrypt_hex(spki_der: bytes, data: bytes) -> str:
    key = serialization.load_der_public_key(spki_der)
    expect(isinstance(key, rsa.RSAPublicKey), "published key is not RSA")
    return key.encrypt(data, OAEP).hex().upper()


# --- HTTP --------------------------------------------------------------------
DEFAULT = object()


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise CheckFailed(f"HTTP {self.status}: body is not JSON: {self.body[:120]!r}")

    def __str__(self) -> str:
        # Bearer values and key material are shown by length only.
        try:
            body = json.loads(self.body)
        except ValueError:
            return f"HTTP {self.status} {self.body[:200]!r}"
        if isinstance(body, dict):
            body = {k: (f"<{len(v)} chars>" if k in SHOWN_BY_LENGTH and isinstance(v, str) else v)
                    for k, v in body.items()}
        return f"HTTP {self.status} {json.dumps(body)[:300]}"


class Api:
    def __init__(self, base: str, token: str):
        u = urllib.parse.urlsplit(base.rstrip("/"))
        expect(u.scheme in ("http", "https"), f"URL scheme {u.scheme!r}")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.prefix = u.path
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: Any = DEFAULT,
        headers: Optional[dict] = None,
        timeout: float = 30,
    ) -> Response:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout)
        hdrs = {}
        if token is DEFAULT:
            token = self.token
        if token is not None:
            hdrs["Authorization"] = token if token.startswith(("Basic ", "Bearer ")) else f"Bearer {token}"
        if body is not None:
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            try:
                conn.request(method, self.prefix + path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # A server may answer (413) and close before it has read a
                # large body; its answer is still waiting in our socket.
                pass
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)


def enfuce_path(path: str, user: Optional[str] = AUDIT_USER) -> str:
    if user is None:
        return path
    return f"{path}?auditUser={urllib.parse.quote(user, safe='')}"


# --- error bodies --------------------------------------------------------------
class Notes:
    seen: set = set()

    @classmethod
    def note(cls, text: str) -> None:
        if text not in cls.seen:
            cls.seen.add(text)
            print(f"note {text}")


def mastercard_error(r: Response, status: Optional[int]) -> str:
    """Checks a Mastercard error body; returns its ReasonCode."""
    if status is not None:
        expect(r.status == status, f"expected {status}, got {r}")
    else:
        expect(400 <= r.status < 500, f"expected 4xx, got {r}")
    expect(r.headers.get("content-type", "").startswith("application/json"),
           f"error Content-Type {r.headers.get('content-type')!r}")
    body = r.json()
    expect(isinstance(body, dict) and isinstance(body.get("Errors"), dict),
           f"not a Mastercard error body: {r}")
    errs = body["Errors"].get("Error")
    expect(isinstance(errs, list) and errs, f"Errors.Error is not a non-empty list: {r}")
    for e in errs:
        for k in ("Source", "ReasonCode", "Description"):
            expect(isinstance(e.get(k), str) and e[k], f"Error.{k} missing or not a string: {r}")
        expect(isinstance(e.get("Recoverable"), bool), f"Error.Recoverable not a bool: {r}")
        if "Details" not in e:
            Notes.note("Mastercard error body has no \"Details\" field (the spec's example lists one)")
        else:
            expect(isinstance(e["Details"], str), f"Error.Details not a string: {r}")
    return errs[0]["ReasonCode"]


def enfuce_error(r: Response, status: Optional[int]) -> str:
    """Checks an Enfuce errorResponse body; returns its errorType."""
    if status is not None:
        expect(r.status == status, f"expected {status}, got {r}")
    else:
        expect(400 <= r.status < 500, f"expected 4xx, got {r}")
    expect(r.headers.get("content-type", "").startswith("application/json"),
           f"error Content-Type {r.headers.get('content-type')!r}")
    body = r.json()
    expect(isinstance(body, dict), f"not an Enfuce error body: {r}")
    expect(body.get("code") == str(r.status), f"code {body.get('code')!r} is not the status {r.status}")
    expect(isinstance(body.get("message"), str) and body["message"], f"message missing: {r}")
    expect(body.get("errorType") in ENFUCE_ERROR_TYPES, f"errorType {body.get('errorType')!r}: {r}")
    expect(isinstance(body.get("timestamp"), str) and body["timestamp"], f"timestamp missing: {r}")
    ids = [k for k in ("errorId", "id") if isinstance(body.get(k), str) and body[k]]
    expect(ids, f"no error id (errorId or id): {r}")
    if "errorId" not in body:
        Notes.note(f"Enfuce error body carries its id as {ids[0]!r}, not \"errorId\" as the spec's example")
    return body["errorType"]


# --- the run -------------------------------------------------------------------
class Run:
    def __init__(self, api: Api):
        self.api = api
        self.passed = 0
        self.failed = 0
        self.secrets: set = set(CARDS.values())  # strings that must not reach the server log

    def check(self, name: str, fn: Callable[[], Optional[str]]) -> bool:
        try:
            detail = fn()
        except CheckFailed as e:
            self.failed += 1
            print(f"FAIL {name}: {e}")
            return False
        except Exception as e:  # noqa: BLE001 - a crash is a failed check
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            return False
        self.passed += 1
        print(f"ok   {name}" + (f" ({detail})" if detail else ""))
        return True

    def secret(self, *values: str) -> None:
        for v in values:
            if v:
                self.secrets.add(v)

    # -- the CMS view
    def cms(self) -> dict:
        r = self.api.get("/demo/cms/cards")
        expect(r.status == 200, f"/demo/cms/cards: {r}")
        cards = r.json()
        expect(isinstance(cards, list), "/demo/cms/cards is not a JSON array")
        out = {}
        for c in cards:
            cid = c.get("cardContractId")
            expect(isinstance(cid, str), f"cardContractId {cid!r} is not a string")
            out[cid] = c
        return out

    def stored(self, contract: str, cards: Optional[dict] = None) -> Optional[str]:
        """The PIN stored for the contract's plastic, deciphered and decoded here."""
        cards = cards if cards is not None else self.cms()
        expect(contract in cards, f"contract {contract} not in /demo/cms/cards")
        plastics = [p for p in cards[contract].get("plastics", []) if p.get("plasticId") == f"P{contract}"]
        expect(len(plastics) == 1, f"contract {contract}: plastic P{contract} not listed once")
        pin = plastics[0].get("pin")
        if pin is None:
            return None
        expect(pin.get("zpkIndex") == CMS_ZPK_INDEX, f"zpkIndex {pin.get('zpkIndex')!r}")
        expect(pin.get("zpkKcv") == CMS_ZPK_KCV, f"zpkKcv {pin.get('zpkKcv')!r}")
        blk = pin.get("pinBlock")
        expect(isinstance(blk, str) and re.fullmatch(r"[0-9A-F]{16}", blk), f"pinBlock {blk!r} is not 16 uppercase hex")
        self.secret(blk)
        return decode_format0(tdes_ecb(CMS_ZPK, bytes.fromhex(blk), decrypt=True), CARDS[contract])

    # -- checks
    def infrastructure(self, demo_routes: bool) -> None:
        api = self.api
        st: dict = {}

        def healthz():
            r = api.get("/healthz", token=None)
            expect(r.status == 200 and r.body.strip() == b"ok", f"{r}")

        def readyz():
            r = api.get("/readyz", token=None)
            expect(r.status == 200 and r.json() == {"status": "ready"}, f"{r}")

        def metrics():
            r = api.get("/metrics", token=None)
            expect(r.status == 200, f"{r}")
            expect(r.headers.get("content-type", "").startswith("text/plain"),
                   f"Content-Type {r.headers.get('content-type')!r}")
            expect(b"# TYPE " in r.body, "no '# TYPE' line")

        def openapi():
            r = api.get("/openapi.json", token=None)
            expect(r.status == 200, f"{r}")
            doc = r.json()
            expect(str(doc.get("openapi", "")).startswith("3.1"), f"openapi version {doc.get('openapi')!r}")
            norm = lambda p: re.sub(r"\{[^}]*\}", "{}", p)  # noqa: E731
            have = {(norm(p), m.lower()) for p, ops in doc.get("paths", {}).items() for m in ops}
            want = [
                ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"),
                ("/public-keys", "get"), ("/cards/{}/pin", "put"),
                ("/pincontrol/v2/plastic/{}", "post"), ("/pin/v3/set/tzpk", "post"),
                ("/pin/v3/set", "post"), ("/pin/v2/{}", "post"),
            ]
            if demo_routes:
                want.append(("/demo/cms/cards", "get"))
            missing = [f"{m.upper()} {p}" for p, m in want if (p, m) not in have]
            expect(not missing, f"routes missing from /openapi.json: {', '.join(missing)}")
            if ("/openapi.json", "get") not in have:
                Notes.note("/openapi.json does not describe GET /openapi.json itself")
            schemas = doc.get("components", {}).get("schemas", {})
            st["openapi"] = doc
            return f"OpenAPI {doc['openapi']}, {len(doc['paths'])} paths, {len(schemas)} schemas"

        def resolve(doc, schema):
            seen = 0
            while isinstance(schema, dict) and "$ref" in schema and seen < 10:
                name = schema["$ref"].rsplit("/", 1)[-1]
                schema = doc.get("components", {}).get("schemas", {}).get(name, {})
                seen += 1
            return schema or {}

        def operation(doc, path, method):
            for p, ops in doc["paths"].items():
                if re.sub(r"\{[^}]*\}", "{}", p) == path and method in ops:
                    return ops[method]
            raise CheckFailed(f"no {method.upper()} {path}")

        def openapi_requests():
            """Request bodies and parameters as the server reads them (what the spec's routes take)."""
            doc = st["openapi"]
            bodies = {
                ("/cards/{}/pin", "put"): ({"newPinBlock", "cardExpiryDate"}, {"cardSequenceNumber"}),
                ("/pincontrol/v2/plastic/{}", "post"): ({"operation"}, set()),
                ("/pin/v3/set/tzpk", "post"): ({"controlId", "publicKey"}, set()),
                ("/pin/v3/set", "post"): ({"controlId", "pinBlock"}, set()),
                ("/pin/v2/{}", "post"): ({"zpkIndex", "pinBlock"}, set()),
            }
            problems = []
            for (path, method), (required, optional) in bodies.items():
                op = operation(doc, path, method)
                ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
                schema = resolve(doc, ref)
                props = set(schema.get("properties", {}))
                req = set(schema.get("required", []))
                name = ref.get("$ref", "inline").rsplit("/", 1)[-1]
                if props != required | optional or req != required:
                    problems.append(f"{method.upper()} {path} body ({name}) has properties {sorted(props)} "
                                    f"required {sorted(req)}, want {sorted(required | optional)} required {sorted(required)}")
            params = [("/public-keys", "get", "data_type_to_secure")] + [
                (p, "post", "auditUser") for p in
                ("/pincontrol/v2/plastic/{}", "/pin/v3/set/tzpk", "/pin/v3/set", "/pin/v2/{}")]
            for path, method, pname in params:
                op = operation(doc, path, method)
                ps = [x for x in op.get("parameters", []) if x.get("name") == pname]
                if not ps:
                    problems.append(f"{method.upper()} {path}: no {pname} parameter")
                elif ps[0].get("in") != "query":
                    problems.append(f"{method.upper()} {path}: {pname} is declared in {ps[0].get('in')!r}, not 'query'")
            expect(not problems, "; ".join(problems))
            return "request bodies and query parameters as served"

        def openapi_errors():
            """Every 4xx/5xx response of each family's routes is that family's error body."""
            doc = st["openapi"]
            fams = {"mastercard": [("/public-keys", "get"), ("/cards/{}/pin", "put")],
                    "enfuce": [("/pincontrol/v2/plastic/{}", "post"), ("/pin/v3/set/tzpk", "post"),
                               ("/pin/v3/set", "post"), ("/pin/v2/{}", "post")]}
            want_keys = {"mastercard": {"Errors"}, "enfuce": {"code", "message", "errorType", "timestamp"}}
            problems = []
            for fam, ops in fams.items():
                for path, method in ops:
                    op = operation(doc, path, method)
                    for code, resp in op.get("responses", {}).items():
                        if not code.startswith(("4", "5")):
                            continue
                        schema = resolve(doc, resp.get("content", {}).get("application/json", {}).get("schema", {}))
                        if not want_keys[fam] <= set(schema.get("properties", {})):
                            problems.append(f"{method.upper()} {path} {code} is not the {fam} error body")
                    for code in ("400", "401", "403"):
                        if code not in op.get("responses", {}):
                            problems.append(f"{method.upper()} {path} does not document {code}")
            expect(not problems, "; ".join(problems))
            return "400/401/403 documented; every error response is the family's body"

        def demo_cms():
            cards = self.cms()
            expect(sorted(cards) == sorted(CARDS), f"contracts {sorted(cards)}")
            for cid, pan in CARDS.items():
                c = cards[cid]
                expect(c.get("maskedPan") == pan[:6] + "*" * 6 + pan[-4:], f"{cid}: maskedPan {c.get('maskedPan')!r}")
                ps = c.get("plastics")
                expect(isinstance(ps, list) and len(ps) == 1, f"{cid}: plastics {ps!r}")
                p = ps[0]
                expect(p.get("plasticId") == f"P{cid}", f"{cid}: plasticId {p.get('plasticId')!r}")
                expect(p.get("sequence") == "1", f"{cid}: sequence {p.get('sequence')!r}")
                expect(p.get("expiry") == EXPIRY, f"{cid}: expiry {p.get('expiry')!r}")
                expect(isinstance(p.get("status"), str), f"{cid}: status {p.get('status')!r}")
                expect("pin" in p, f"{cid}: no pin field")
            expect(kcv(CMS_ZPK) == CMS_ZPK_KCV and kcv(SHARED_ZPK) == SHARED_ZPK_KCV, "sandbox ZPK KCVs (self-check)")
            return "5 sandbox contracts, masked PANs, plastics P70001-P70005"

        self.check("GET /healthz -> 200 ok", healthz)
        self.check("GET /readyz -> 200 {status: ready}", readyz)
        self.check("GET /metrics -> 200 Prometheus text", metrics)
        if self.check("GET /openapi.json -> OpenAPI 3.1 with every route", openapi):
            self.check("openapi: request bodies and parameters are the ones the server takes", openapi_requests)
            self.check("openapi: error responses are the family's error bodies", openapi_errors)
        if demo_routes:
            self.check("GET /demo/cms/cards -> the seeded sandbox CMS", demo_cms)

    def mastercard(self) -> None:
        api = self.api
        st: dict = {}

        def public_keys():
            r = api.get("/public-keys?data_type_to_secure=PIN_BLOCK")
            expect(r.status == 200, f"{r}")
            body = r.json()
            expect(body.get("keyIndex") == KEY_INDEX, f"keyIndex {body.get('keyIndex')!r}")
            hexkey = body.get("publicRsaKey", "")
            expect(re.fullmatch(r"[0-9A-F]+", hexkey), "publicRsaKey is not uppercase hex")
            key = serialization.load_der_public_key(bytes.fromhex(hexkey))
            expect(isinstance(key, rsa.RSAPublicKey), "publicRsaKey is not an RSA SPKI")
            expect(key.key_size == 2048, f"RSA-{key.key_size}, not 2048")
            st["spki"] = bytes.fromhex(hexkey)
            st["key_index"] = body["keyIndex"]
            return f"keyIndex {KEY_INDEX}, RSA-2048 DER SPKI"

        if not self.check("mastercard: GET /public-keys?data_type_to_secure=PIN_BLOCK", public_keys):
            return

        def set_pin(contract: str, seq: Optional[str]) -> tuple:
            before = self.stored(contract)
            pin = choose_pin(avoid=(before,) if before else ())
            block = format1_block(pin)
            body = {"newPinBlock": rsa_encrypt_hex(st["spki"], block), "cardExpiryDate": EXPIRY}
            if seq is not None:
                body["cardSequenceNumber"] = seq
            self.secret(block.hex().upper(), block.hex(), body["newPinBlock"][:64])
            r = api.request("PUT", f"/cards/{contract}/pin", body, headers={"Key-Index": st["key_index"]})
            expect(r.status == 204, f"{r}")
            expect(r.body == b"", f"204 with a body {r.body[:80]!r}")
            got = self.stored(contract)
            expect(got == pin, "the stored format 0 block does not hold the PIN the client set")
            return pin, body

        def mc1():
            st["pin1"], st["body1"] = set_pin("70001", "1")
            return f"PIN of {len(st['pin1'])} digits found in the format 0 block under ZPK-CMS (KCV {CMS_ZPK_KCV})"

        def mc4():
            pin, _ = set_pin("70004", None)
            return f"PIN of {len(pin)} digits stored"

        ok = self.check("mastercard: PUT /cards/70001/pin -> 204, stored format 0 decodes to the client's PIN", mc1)
        self.check("mastercard: PUT /cards/70004/pin without cardSequenceNumber -> 204, PIN stored", mc4)

        if ok:
            def replay():
                r = api.request("PUT", "/cards/70001/pin", st["body1"], headers={"Key-Index": st["key_index"]})
                code = mastercard_error(r, None)
                expect(self.stored("70001") == st["pin1"], "a replay changed the stored PIN")
                return f"{r.status} {code}"

            self.check("mastercard: the same cryptogram again -> 4xx, PIN unchanged", replay)

        def tampered():
            block = format1_block(choose_pin())
            ct = bytearray(bytes.fromhex(rsa_encrypt_hex(st["spki"], block)))
            ct[20] ^= 0x01
            body = {"newPinBlock": ct.hex().upper(), "cardExpiryDate": EXPIRY, "cardSequenceNumber": "1"}
            r = api.request("PUT", "/cards/70001/pin", body, headers={"Key-Index": st["key_index"]})
            code = mastercard_error(r, None)
            return f"{r.status} {code}"

        def unknown_key_index():
            body = {"newPinBlock": rsa_encrypt_hex(st["spki"], format1_block(choose_pin())), "cardExpiryDate": EXPIRY}
            r = api.request("PUT", "/cards/70001/pin", body, headers={"Key-Index": "B0000000000001"})
            return f"{r.status} {mastercard_error(r, None)}"

        def unknown_contract():
            body = {"newPinBlock": rsa_encrypt_hex(st["spki"], format1_block(choose_pin())), "cardExpiryDate": EXPIRY}
            r = api.request("PUT", "/cards/79999/pin", body, headers={"Key-Index": st["key_index"]})
            return f"{r.status} {mastercard_error(r, None)}"

        def malformed():
            r = api.request("PUT", "/cards/70001/pin", b'{"newPinBlock":', headers={"Key-Index": st["key_index"]})
            return mastercard_error(r, 400)

        self.check("mastercard: a tampered cryptogram -> 4xx Mastercard error body", tampered)
        self.check("mastercard: an unknown Key-Index -> 4xx Mastercard error body", unknown_key_index)
        self.check("mastercard: an unknown card contract -> 4xx Mastercard error body", unknown_contract)
        self.check("mastercard: malformed JSON -> 400 Mastercard error body", malformed)

    def concurrent(self, n: int = 8) -> None:
        api = self.api

        def run():
            r = api.get("/public-keys?data_type_to_secure=PIN_BLOCK")
            expect(r.status == 200, f"{r}")
            spki = bytes.fromhex(r.json()["publicRsaKey"])
            pins = []
            while len(pins) < n:
                p = choose_pin(avoid=tuple(pins))
                pins.append(p)
            bodies = [{"newPinBlock": rsa_encrypt_hex(spki, format1_block(p)), "cardExpiryDate": EXPIRY,
                       "cardSequenceNumber": "1"} for p in pins]
            results: list = [None] * n
            barrier = threading.Barrier(n)

            def one(i):
                barrier.wait()
                try:
                    results[i] = api.request("PUT", "/cards/70005/pin", bodies[i], headers={"Key-Index": KEY_INDEX})
                except Exception as e:  # noqa: BLE001
                    results[i] = e

            ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            bad = [str(x) for x in results if not (isinstance(x, Response) and x.status == 204)]
            expect(not bad, f"{len(bad)} of {n} not 204: {bad[:2]}")
            got = self.stored("70005")
            expect(got in pins, "the stored PIN is none of the concurrent requests' PINs")
            return f"{n} x 204, the stored block holds one of them"

        self.check(f"mastercard: {n} concurrent PUT /cards/70005/pin", run)

    def enfuce_v3(self) -> None:
        api = self.api
        st: dict = {}

        def control():
            r = api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70002"), {"operation": "SET_PIN"})
            expect(r.status == 200, f"{r}")
            cid = r.json().get("id")
            expect(isinstance(cid, str) and cid, f"no id in {r}")
            st["control"] = cid
            self.secret(cid)
            return f"controlId of {len(cid)} chars"

        if not self.check("enfuce: POST /pincontrol/v2/plastic/P70002 -> 200 {id}", control):
            return

        def tzpk():
            device = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            spki = device.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            r = api.request("POST", enfuce_path("/pin/v3/set/tzpk"),
                            {"controlId": st["control"], "publicKey": base64.b64encode(spki).decode()})
            expect(r.status == 200, f"{r}")
            wrapped = r.json().get("tzpk")
            expect(isinstance(wrapped, str), f"no tzpk in {r}")
            self.secret(wrapped)
            key = device.decrypt(base64.b64decode(wrapped, validate=True), OAEP)
            expect(len(key) == 16, f"tzpk of {len(key)} bytes, not 16")
            expect(key[:8] != key[8:], "tzpk halves are equal (single DES)")
            st["tzpk"] = key
            return "unwrapped with the client's own RSA key (OAEP SHA-256): 16-byte 2-key TDES"

        if not self.check("enfuce: POST /pin/v3/set/tzpk -> 200 {tzpk}", tzpk):
            return

        def set_pin():
            before = self.stored("70002")
            pin = choose_pin(avoid=(before,) if before else ())
            block = format1_block(pin)
            enc = base64.b64encode(tdes_ecb(st["tzpk"], block)).decode()
            self.secret(block.hex().upper(), block.hex(), enc)
            body = {"controlId": st["control"], "pinBlock": enc}
            st["set_body"] = body
            r = api.request("POST", enfuce_path("/pin/v3/set"), body)
            expect(r.status == 200, f"{r}")
            expect(r.json() == {}, f"body {r.body[:80]!r}, not {{}}")
            expect(self.stored("70002") == pin, "the stored format 0 block does not hold the PIN the client set")
            return f"PIN of {len(pin)} digits found in the format 0 block under ZPK-CMS"

        ok = self.check("enfuce: POST /pin/v3/set -> 200 {}, stored format 0 decodes to the client's PIN", set_pin)

        def reused_set():
            r = api.request("POST", enfuce_path("/pin/v3/set"), st["set_body"])
            return enfuce_error(r, 404)

        def reused_tzpk():
            device = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            spki = device.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            r = api.request("POST", enfuce_path("/pin/v3/set/tzpk"),
                            {"controlId": st["control"], "publicKey": base64.b64encode(spki).decode()})
            return enfuce_error(r, 404)

        def unknown_control():
            body = {"controlId": str(uuid.uuid4()), "pinBlock": base64.b64encode(os.urandom(8)).decode()}
            r = api.request("POST", enfuce_path("/pin/v3/set"), body)
            return enfuce_error(r, 404)

        def malformed_control():
            body = {"controlId": "not_a_control_id", "pinBlock": base64.b64encode(os.urandom(8)).decode()}
            r = api.request("POST", enfuce_path("/pin/v3/set"), body)
            return f"{r.status} {enfuce_error(r, None)}"

        if ok:
            self.check("enfuce: the used controlId again on /pin/v3/set -> 404 errorResponse", reused_set)
            self.check("enfuce: the used controlId on /pin/v3/set/tzpk -> 404 errorResponse", reused_tzpk)
        self.check("enfuce: an unknown (well-formed UUID) controlId -> 404 errorResponse", unknown_control)
        self.check("enfuce: a malformed controlId ('_') -> 4xx errorResponse", malformed_control)

        def malformed():
            r = api.request("POST", enfuce_path("/pin/v3/set"), b'{"controlId":')
            return enfuce_error(r, 400)

        def malformed_control_body():
            r = api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70002"), b"{operation: SET_PIN}")
            return enfuce_error(r, 400)

        self.check("enfuce: malformed JSON on /pin/v3/set -> 400 errorResponse", malformed)
        self.check("enfuce: malformed JSON on /pincontrol/v2/plastic -> 400 errorResponse", malformed_control_body)

        # auditUser must be 1 to 64 visible ASCII characters on every route: each
        # request below is otherwise valid, so only auditUser can be refused.
        device = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        spki_b64 = base64.b64encode(device.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

        def fresh_control() -> str:
            r = api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70004"), {"operation": "SET_PIN"})
            expect(r.status == 200, f"control for the set-up: {r}")
            cid = r.json()["id"]
            self.secret(cid)
            return cid

        def control_with_tzpk() -> tuple:
            cid = fresh_control()
            r = api.request("POST", enfuce_path("/pin/v3/set/tzpk"), {"controlId": cid, "publicKey": spki_b64})
            expect(r.status == 200, f"tzpk for the set-up: {r}")
            self.secret(r.json()["tzpk"])
            return cid, device.decrypt(base64.b64decode(r.json()["tzpk"]), OAEP)

        def pincontrol_req(user):
            return api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70004", user), {"operation": "SET_PIN"})

        def tzpk_req(user):
            return api.request("POST", enfuce_path("/pin/v3/set/tzpk", user),
                               {"controlId": fresh_control(), "publicKey": spki_b64})

        def set_req(user):
            cid, key = control_with_tzpk()
            enc = base64.b64encode(tdes_ecb(key, format1_block(choose_pin()))).decode()
            return api.request("POST", enfuce_path("/pin/v3/set", user), {"controlId": cid, "pinBlock": enc})

        def v2_req(user):
            enc = tdes_ecb(SHARED_ZPK, format1_block(choose_pin())).hex().upper()
            return api.request("POST", enfuce_path("/pin/v2/P70004", user), {"zpkIndex": SHARED_ZPK_INDEX, "pinBlock": enc})

        for route, call in [("/pincontrol/v2/plastic/P70004", pincontrol_req), ("/pin/v3/set/tzpk", tzpk_req),
                            ("/pin/v3/set", set_req), ("/pin/v2/P70004", v2_req)]:
            for label, user in [("no auditUser", None), ("an empty auditUser", ""),
                                ("a 65-char auditUser", "u" * 65), ("an auditUser with a space", "a b")]:
                self.check(f"enfuce: {label} on {route} -> 400 errorResponse",
                           lambda call=call, user=user: enfuce_error(call(user), 400))
        self.check("enfuce: a 64-char auditUser on /pincontrol/v2/plastic -> 200",
                   lambda: expect(pincontrol_req("u" * 64).status == 200, "refused"))

    def enfuce_v2(self) -> None:
        api = self.api

        def v2():
            before = self.stored("70003")
            pin = choose_pin(avoid=(before,) if before else ())
            block = format1_block(pin)
            enc = tdes_ecb(SHARED_ZPK, block).hex().upper()
            self.secret(block.hex().upper(), block.hex(), enc)
            r = api.request("POST", enfuce_path("/pin/v2/P70003"), {"zpkIndex": SHARED_ZPK_INDEX, "pinBlock": enc})
            expect(r.status == 200, f"{r}")
            expect(r.json() == {}, f"body {r.body[:80]!r}, not {{}}")
            expect(self.stored("70003") == pin, "the stored format 0 block does not hold the PIN the client set")
            return f"PIN of {len(pin)} digits under ZPK-SHARED (KCV {SHARED_ZPK_KCV}) stored"

        def unknown_plastic():
            enc = tdes_ecb(SHARED_ZPK, format1_block(choose_pin())).hex().upper()
            r = api.request("POST", enfuce_path("/pin/v2/P79999"), {"zpkIndex": SHARED_ZPK_INDEX, "pinBlock": enc})
            return f"{r.status} {enfuce_error(r, None)}"

        def unknown_zpk():
            enc = tdes_ecb(SHARED_ZPK, format1_block(choose_pin())).hex().upper()
            r = api.request("POST", enfuce_path("/pin/v2/P70003"), {"zpkIndex": "ZPK-NOPE", "pinBlock": enc})
            return f"{r.status} {enfuce_error(r, None)}"

        self.check("enfuce: POST /pin/v2/P70003 (pre-shared ZPK) -> 200 {}, PIN stored", v2)
        self.check("enfuce: /pin/v2 on an unknown plastic -> 4xx errorResponse", unknown_plastic)
        self.check("enfuce: /pin/v2 with an unknown zpkIndex -> 4xx errorResponse", unknown_zpk)

    def robustness(self) -> None:
        api = self.api

        def wrong_ct_mc():
            r = api.get("/public-keys?data_type_to_secure=PIN_BLOCK")
            spki = bytes.fromhex(r.json()["publicRsaKey"])
            before = self.stored("70001")
            body = {"newPinBlock": rsa_encrypt_hex(spki, format1_block(choose_pin(avoid=(before,)))),
                    "cardExpiryDate": EXPIRY, "cardSequenceNumber": "1"}
            r = api.request("PUT", "/cards/70001/pin", body,
                            headers={"Key-Index": KEY_INDEX, "Content-Type": "text/plain"})
            code = mastercard_error(r, None)
            expect(self.stored("70001") == before, "the PIN changed")
            return f"{r.status} {code}"

        def wrong_ct_en():
            r = api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70001"), {"operation": "SET_PIN"},
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
            return f"{r.status} {enfuce_error(r, None)}"

        big = b'{"newPinBlock":"' + b"A" * (1 << 20) + b'","cardExpiryDate":"2812"}'

        def oversized_mc():
            r = api.request("PUT", "/cards/70001/pin", big, headers={"Key-Index": KEY_INDEX})
            return mastercard_error(r, 413)

        def oversized_en():
            body = b'{"controlId":"' + b"a" * (1 << 20) + b'","pinBlock":"AAAAAAAAAAA="}'
            r = api.request("POST", enfuce_path("/pin/v3/set"), body)
            return enfuce_error(r, 413)

        def unknown_route():
            r = api.get("/no/such/route")
            expect(r.status == 404, f"{r}")

        self.check("mastercard: a valid request as text/plain -> 4xx Mastercard error body, PIN unchanged", wrong_ct_mc)
        self.check("enfuce: a form Content-Type -> 4xx errorResponse", wrong_ct_en)
        self.check("mastercard: a 1 MiB body -> 413 Mastercard error body", oversized_mc)
        self.check("enfuce: a 1 MiB body -> 413 errorResponse", oversized_en)
        self.check("an unknown route -> 404", unknown_route)

    def auth(self, scoped: list) -> None:
        api = self.api
        wrong = secrets.token_urlsafe(32)
        mc_body = {"newPinBlock": "00" * 256, "cardExpiryDate": EXPIRY}
        routes = [
            ("mastercard", "GET /public-keys", lambda tok: api.get("/public-keys?data_type_to_secure=PIN_BLOCK", token=tok)),
            ("mastercard", "PUT /cards/70001/pin",
             lambda tok: api.request("PUT", "/cards/70001/pin", mc_body, token=tok, headers={"Key-Index": KEY_INDEX})),
            ("enfuce", "POST /pincontrol/v2/plastic/P70001",
             lambda tok: api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70001"), {"operation": "SET_PIN"}, token=tok)),
            ("enfuce", "POST /pin/v3/set",
             lambda tok: api.request("POST", enfuce_path("/pin/v3/set"),
                                     {"controlId": "x" * 20, "pinBlock": "AAAAAAAAAAA="}, token=tok)),
        ]
        checker = {"mastercard": mastercard_error, "enfuce": enfuce_error}
        for fam, name, call in routes:
            self.check(f"auth: {name} without a token -> 401 {fam} error body",
                       lambda call=call, fam=fam: checker[fam](call(None), 401))
            self.check(f"auth: {name} with an unknown token -> 401 {fam} error body",
                       lambda call=call, fam=fam: checker[fam](call(wrong), 401))
        self.check("auth: GET /public-keys with Basic auth -> 401",
                   lambda: mastercard_error(routes[0][2](f"Basic {base64.b64encode(b'a:b').decode()}"), 401))
        self.check("auth: GET /public-keys with the token but no 'Bearer ' -> 401",
                   lambda: mastercard_error(api.get("/public-keys?data_type_to_secure=PIN_BLOCK",
                                                    headers={"Authorization": api.token}, token=None), 401))

        def demo_401():
            r = api.get("/demo/cms/cards", token=None)
            expect(r.status == 401, f"{r}")

        self.check("auth: GET /demo/cms/cards without a token -> 401", demo_401)

        for fam, tok in scoped:
            other = "enfuce" if fam == "mastercard" else "mastercard"
            for rfam, name, call in routes:
                if rfam == other:
                    self.check(f"auth: a {fam}-only token on {name} -> 403 {other} error body",
                               lambda call=call, tok=tok, rfam=rfam: checker[rfam](call(tok), 403))

            def own(fam=fam, tok=tok):
                if fam == "mastercard":
                    r = api.get("/public-keys?data_type_to_secure=PIN_BLOCK", token=tok)
                else:
                    r = api.request("POST", enfuce_path("/pincontrol/v2/plastic/P70001"), {"operation": "SET_PIN"}, token=tok)
                    if r.status == 200:
                        self.secret(r.json().get("id", ""))
                expect(r.status == 200, f"{r}")

            self.check(f"auth: a {fam}-only token on its own family -> 200", own)

    def final_metrics(self) -> None:
        def run():
            r = self.api.get("/metrics", token=None)
            expect(r.status == 200, f"{r}")
            text = r.body.decode("utf-8", "replace")
            expect("_bucket{" in text, "no histogram (_bucket) series after set PINs")
            return f"{sum(1 for ln in text.splitlines() if ln and not ln.startswith('#'))} samples"

        self.check("GET /metrics after the run has a latency histogram", run)

    def server_log(self, path: str) -> None:
        def run():
            time.sleep(0.5)  # let the last request lines reach the file
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            found = sorted({s[:6] + "..." for s in self.secrets if len(s) >= 12 and s in text})
            expect(not found, f"{len(found)} secret value(s) in the server log, starting {found}")
            n = text.count(self.api.token)
            expect(n <= 1, f"the token appears {n} times in the server log")
            return f"{len(self.secrets)} values searched in {len(text.splitlines())} log lines"

        self.check("server log holds no PAN, controlId, cryptogram, block or tzpk", run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", nargs="?", default=os.environ.get("PINSET_URL"))
    ap.add_argument("token", nargs="?", default=os.environ.get("PINSET_TOKEN"))
    ap.add_argument("--scoped-token", action="append", default=[], metavar="FAMILY:TOKEN",
                    help="a token allowed on FAMILY (mastercard|enfuce) only; repeatable")
    ap.add_argument("--server-log", metavar="FILE", help="the server's stderr, checked for leaked secrets")
    args = ap.parse_args()
    if not args.url or not args.token:
        ap.error("URL and TOKEN are required (arguments or PINSET_URL / PINSET_TOKEN)")
    scoped = []
    for s in args.scoped_token:
        fam, _, tok = s.partition(":")
        if fam not in ("mastercard", "enfuce") or not tok:
            ap.error(f"--scoped-token wants mastercard:TOKEN or enfuce:TOKEN, not {fam!r}")
        scoped.append((fam, tok))

    run = Run(Api(args.url, args.token))
    run.secret(*(t for _, t in scoped))
    run.infrastructure(demo_routes=True)
    run.mastercard()
    run.enfuce_v3()
    run.enfuce_v2()
    run.concurrent()
    run.robustness()
    run.auth(scoped)
    run.final_metrics()
    if args.server_log:
        run.server_log(args.server_log)
    print(f"client: {run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
