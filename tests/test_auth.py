"""Caller authentication (CDS Hooks 2.0 JWT): what passes, what is refused, and that a refusal says nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest
import respx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_service.app import create_app
from cds_service.auth import Verifier, load_issuers
from cds_service.services import Services
from cds_service.settings import Settings

from .chart import Chart

ISS = "https://ehr.example.org"
JKU_ISS = "https://other-ehr.example.org"
JKU = "https://other-ehr.example.org/.well-known/jwks.json"
SIGN = "/cds-services/idds-order-sign"
BASE = "https://cds.example-hospital.test"  # IDDS_PUBLIC_BASE_URL: required with auth on

EC_KEY = ec.generate_private_key(ec.SECP384R1())
EC256_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JKU_KEY_1 = ec.generate_private_key(ec.SECP384R1())
JKU_KEY_2 = ec.generate_private_key(ec.SECP384R1())


def jwk(private, kid: str) -> dict[str, Any]:
    algo = ECAlgorithm if isinstance(private, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    return algo.to_jwk(private.public_key(), as_dict=True) | {"kid": kid, "use": "sig"}


def issuers_file(tmp_path, **extra) -> str:
    data = {
        "issuers": [
            {
                "iss": ISS,
                "algorithms": ["ES384", "RS384"],
                "jwks": {"keys": [jwk(EC_KEY, "ec-1"), jwk(RSA_KEY, "rsa-1"), jwk(EC256_KEY, "ec256-1")]},
            },
            {"iss": JKU_ISS, "algorithms": ["ES384"], "jku": [JKU]},
            {
                "iss": "https://disabled.example.org",
                "enabled": False,
                "jwks": {"keys": [jwk(EC_KEY, "ec-1")]},
            },
            *extra.get("more", []),
        ]
    }
    path = tmp_path / "trusted-issuers.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def token(
    key=EC_KEY,
    alg: str = "ES384",
    kid: str | None = "ec-1",
    path: str = SIGN,
    base: str = BASE,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "iss": ISS,
        "aud": base + path,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "sub": "ehr-client-1",
    } | claims
    payload = {k: v for k, v in payload.items() if v is not None}
    head = dict(headers or {})
    if kid is not None:
        head["kid"] = kid
    return jwt.encode(payload, key, algorithm=alg, headers=head)


def unsigned(**header: Any) -> str:
    """A token with alg none (PyJWT will not make one)."""
    now = int(time.time())

    def enc(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return (
        f"{enc({'alg': 'none', 'typ': 'JWT', **header})}."
        f"{enc({'iss': ISS, 'aud': BASE + SIGN, 'iat': now, 'exp': now + 300, 'jti': str(uuid.uuid4())})}."
    )


def bearer(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Services:
    db = tmp_path_factory.mktemp("audit") / "audit.sqlite"
    return Services.load(Settings(database_url=f"sqlite:///{db}"))


@pytest.fixture
def settings(tmp_path, loaded) -> Settings:
    return loaded.settings.model_copy(
        update={
            "require_auth": True,
            "trusted_issuers_file": issuers_file(tmp_path),
            "auth_jwks_min_refresh_seconds": 30,
            "public_base_url": BASE,
        }
    )


@pytest.fixture
def client(loaded, settings):
    with TestClient(create_app(replace(loaded, settings=settings))) as c:
        yield c


def request_body() -> dict[str, Any]:
    c = Chart()
    c.condition(icd10="G35", display="Multiple sclerosis")
    c.pump("battery-near-end")
    c.order("62362")
    return c.request()


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.content == b""  # no detail, no hint of which check failed
    assert response.headers["www-authenticate"] == "Bearer"


# -- what passes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,alg,kid", [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")], ids=["ES384", "RS384"]
)
def test_a_valid_token_passes(client, key, alg, kid):
    r = client.post(SIGN, json=request_body(), headers=bearer(token(key, alg, kid)))
    assert r.status_code == 200
    assert r.json()["cards"][0]["extension"]["idds-cds.assessment"]["determination"] == "criteria-met"


def test_discovery_and_feedback_are_protected_too(client):
    assert_refused(client.get("/cds-services"))
    assert client.get("/cds-services", headers=bearer(token(path="/cds-services"))).status_code == 200
    card = client.post(SIGN, json=request_body(), headers=bearer(token())).json()["cards"][0]["uuid"]
    fb = {"feedback": [{"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-09-14T10:00:00Z"}]}
    assert_refused(client.post(f"{SIGN}/feedback", json=fb))
    assert (
        client.post(f"{SIGN}/feedback", json=fb, headers=bearer(token(path=f"{SIGN}/feedback"))).status_code
        == 200
    )


def test_policy_pages_and_the_checklist_stay_reachable_from_a_browser(client):
    """Card links are opened by the clinician's browser, which has no JWT to send."""
    assert client.get("/policies").status_code == 200
    assert client.get("/fhir/CodeSystem/idds").status_code == 200


def test_cors_preflight_is_answered_without_a_token(client):
    r = client.options(
        SIGN,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert r.status_code == 200


def test_aud_is_the_public_url_when_one_is_configured(loaded, settings):
    public = "https://cds.example-hospital.org"
    with TestClient(
        create_app(replace(loaded, settings=settings.model_copy(update={"public_base_url": public})))
    ) as c:
        assert c.post(SIGN, json=request_body(), headers=bearer(token(base=public))).status_code == 200
        assert_refused(c.post(SIGN, json=request_body(), headers=bearer(token(base=BASE))))


# -- what is refused ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs(alg: str, secret: bytes) -> str:
    """An HMAC-signed token made by hand (PyJWT refuses a PEM as an HMAC secret, as it should)."""
    now = int(time.time())
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "ec-1"}).encode())
    body = _b64(
        json.dumps(
            {"iss": ISS, "aud": BASE + SIGN, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        ).encode()
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    return f"{head}.{body}.{_b64(hmac.new(secret, f'{head}.{body}'.encode(), digest).digest())}"


def reheader(t: str, **changes: Any) -> str:
    head, rest = t.split(".", 1)
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))) | changes
    return f"{_b64(json.dumps(header).encode())}.{rest}"


PUBLIC_PEM = EC_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
NOW = int(time.time())

REFUSED = {
    "no-token": lambda: None,
    "not-bearer": lambda: "Basic dXNlcjpwYXNz",
    "garbage": lambda: "Bearer not.a.jwt",
    "alg-none": lambda: "Bearer " + unsigned(kid="ec-1"),
    "hs256": lambda: "Bearer " + _hs("HS256", b"a-shared-secret-of-thirty-two-bytes!"),
    # the classic confusion: an HMAC keyed with the issuer's public key
    "hs384-with-public-key": lambda: "Bearer " + _hs("HS384", PUBLIC_PEM),
    "missing-kid": lambda: "Bearer " + token(kid=None),
    "unknown-kid": lambda: "Bearer " + token(kid="who-knows"),
    "wrong-iss": lambda: "Bearer " + token(iss="https://evil.example.org"),
    "disabled-iss": lambda: "Bearer " + token(iss="https://disabled.example.org"),
    "wrong-aud": lambda: (
        "Bearer " + token(aud="https://another-service.example.org/cds-services/idds-order-sign")
    ),
    "aud-of-another-endpoint": lambda: "Bearer " + token(path="/cds-services/idds-order-select"),
    "expired": lambda: "Bearer " + token(iat=NOW - 600, exp=NOW - 120),
    "iat-in-the-future": lambda: "Bearer " + token(iat=int(time.time()) + 600, exp=int(time.time()) + 900),
    "lifetime-too-long": lambda: "Bearer " + token(exp=int(time.time()) + 86_400),
    "no-jti": lambda: "Bearer " + token(jti=None),
    "no-exp": lambda: "Bearer " + token(exp=None),
    "signed-by-another-key": lambda: "Bearer " + token(key=ec.generate_private_key(ec.SECP384R1())),
    "rs256-not-configured": lambda: "Bearer " + token(RSA_KEY, "RS256", "rsa-1"),
    "es256-not-configured": lambda: "Bearer " + token(EC256_KEY, "ES256", "ec256-1"),
    "rsa-key-named-as-ec": lambda: "Bearer " + token(RSA_KEY, "RS384", "ec-1"),
    "p256-key-under-es384-kid": lambda: (
        "Bearer " + reheader(token(EC256_KEY, "ES256", "ec256-1"), alg="ES384")
    ),
    "jku-not-allowed": lambda: "Bearer " + token(headers={"jku": "https://evil.example.org/jwks.json"}),
    "jku-of-another-issuer": lambda: "Bearer " + token(headers={"jku": JKU}),
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_a_bare_401_and_a_reason_in_the_log_never_the_token(client, make, caplog):
    authorization = make()
    headers = {"Authorization": authorization} if authorization else {}
    with respx.mock() as mock:  # no key set may be fetched from a URL the token chose
        with caplog.at_level(logging.INFO, logger="idds"):
            r = client.post(SIGN, json=request_body(), headers=headers)
        assert not mock.calls
    assert_refused(r)
    refusals = [rec for rec in caplog.records if rec.name == "idds.auth" and rec.levelno == logging.WARNING]
    assert refusals and "refused POST /cds-services/idds-order-sign" in refusals[-1].getMessage()
    if authorization:
        secret = authorization.split(" ", 1)[1]
        assert secret not in caplog.text
        assert secret.split(".")[-1] not in caplog.text or len(secret.split(".")[-1]) < 8


def test_a_jti_is_accepted_once(client):
    t = token()
    assert client.post(SIGN, json=request_body(), headers=bearer(t)).status_code == 200
    assert_refused(client.post(SIGN, json=request_body(), headers=bearer(t)))
    assert_refused(
        client.post(
            SIGN,
            json=request_body(),
            headers=bearer(token(jti=jwt.decode(t, options={"verify_signature": False})["jti"])),
        )
    )


def test_no_trusted_issuer_refuses_everything(loaded, tmp_path):
    empty = tmp_path / "none.yaml"
    empty.write_text("issuers: []\n")
    s = loaded.settings.model_copy(
        update={"require_auth": True, "trusted_issuers_file": str(empty), "public_base_url": BASE}
    )
    with TestClient(create_app(replace(loaded, settings=s))) as c:
        assert_refused(c.post(SIGN, json=request_body(), headers=bearer(token())))


# -- keys from an allowed jku -----------------------------------------------------------


def jku_token(key, kid: str, with_jku: bool = True) -> str:
    return token(key, "ES384", kid, iss=JKU_ISS, headers={"jku": JKU} if with_jku else None)


def test_jku_key_set_is_fetched_cached_and_refetched_for_an_unknown_kid(client):
    sets = [{"keys": [jwk(JKU_KEY_1, "k1")]}, {"keys": [jwk(JKU_KEY_1, "k1"), jwk(JKU_KEY_2, "k2")]}]
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(JKU).mock(side_effect=[httpx.Response(200, json=s) for s in sets])
        assert (
            client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1"))).status_code
            == 200
        )
        assert (
            client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1"))).status_code
            == 200
        )
        assert route.call_count == 1  # cached
        # the EHR rotates its key: an unknown kid refetches the set once
        assert (
            client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_2, "k2"))).status_code
            == 200
        )
        assert route.call_count == 2
        # a made-up kid right after cannot make the service hammer the key server
        assert_refused(client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_2, "k3"))))
        assert route.call_count == 2
        assert route.calls.last.request.url == JKU


def test_a_token_without_jku_uses_the_key_set_registered_for_its_issuer(client):
    with respx.mock() as mock:
        mock.get(JKU).respond(json={"keys": [jwk(JKU_KEY_1, "k1")]})
        assert (
            client.post(
                SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1", with_jku=False))
            ).status_code
            == 200
        )


def test_a_failing_key_server_refuses_the_call(client):
    with respx.mock() as mock:
        mock.get(JKU).mock(side_effect=httpx.ConnectTimeout("down"))
        assert_refused(client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1"))))
        mock.get(JKU).respond(500)
        assert_refused(client.post(SIGN, json=request_body(), headers=bearer(jku_token(JKU_KEY_1, "k1"))))


# -- configuration ------------------------------------------------------------------------


def test_the_shipped_issuers_file_loads_and_enables_nobody_by_default():
    assert load_issuers("config/trusted-issuers.yaml") == {}


@pytest.mark.parametrize(
    "issuer,why",
    [
        (
            {"iss": ISS, "jwks": {"keys": [ECAlgorithm.to_jwk(EC_KEY, as_dict=True) | {"kid": "p"}]}},
            "private key",
        ),
        ({"iss": ISS, "jku": ["http://keys.example.org/jwks.json"]}, "https"),
        ({"iss": ISS}, "jwks or a jku"),
        ({"iss": ISS, "algorithms": ["HS256"], "jwks": {"keys": [jwk(EC_KEY, "a")]}}, "HS256"),
        ({"iss": ISS, "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}}, "not accepted"),
        ({"iss": ISS, "jwks": {"keys": [jwk(EC_KEY, "a") | {"kid": ""}]}}, "kid"),
    ],
    ids=["private-key", "http-jku", "no-keys", "hmac-alg", "oct-key", "no-kid"],
)
def test_a_bad_issuers_file_stops_start_up(tmp_path, issuer, why):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"issuers": [issuer]}))
    with pytest.raises(ValueError, match=why):
        Verifier(Settings(require_auth=True, trusted_issuers_file=str(path)))


def test_auth_off_warns_loudly_at_start_up_and_lets_calls_through(loaded, caplog):
    with caplog.at_level(logging.WARNING, logger="idds.auth"), TestClient(create_app(loaded)) as c:
        assert c.post(SIGN, json=request_body()).status_code == 200
    assert any("CALLER AUTHENTICATION IS OFF" in r.getMessage() for r in caplog.records)


def test_with_auth_on_the_fhir_server_must_be_https(loaded, settings):
    s = settings.model_copy(update={"allowed_fhir_servers": "http://ehr.example.org/fhir"})
    body = request_body()
    body["prefetch"]["observations"] = None
    body["fhirServer"] = "http://ehr.example.org/fhir"
    body["fhirAuthorization"] = {"access_token": "secret-token-xyz", "token_type": "Bearer"}
    with TestClient(create_app(replace(loaded, settings=s))) as c, respx.mock() as mock:
        r = c.post(SIGN, json=body, headers=bearer(token()))
        assert not mock.calls  # the access token never went over plain http
    card = r.json()["cards"][0]
    assert "not https" in card["detail"]
    assert card["extension"]["idds-cds.assessment"]["determination"] != "criteria-met"
