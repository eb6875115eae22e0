"""Confidential SMART clients at the token endpoint (issue 15): `client_secret_basic` (the id
and secret in an HTTP Basic header, never in the body) and `private_key_jwt` (SMART 2.x
asymmetric client authentication: an RS384 or ES384 client assertion with a fresh jti and a
short exp, the key from settings). The EHR's token endpoint is mocked by respx."""

from __future__ import annotations

import base64
from dataclasses import replace
from urllib.parse import parse_qs, quote, unquote

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cds_service.app import create_app
from cds_service.services import Services
from cds_service.settings import Settings
from cds_service.smart.client_auth import ASSERTION_TYPE
from cds_service.smart.config import SmartSettings

from .test_smart_launch import EHR, SECRET, TOKEN_URL, FakeEhr, gaps_chart, launch, mock_ehr


def pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def client():
    services = Services.load(Settings(allowed_fhir_servers=EHR, fhir_timeout_seconds=2))
    with TestClient(create_app(services)) as c:
        yield c


def use_smart(client: TestClient, monkeypatch: pytest.MonkeyPatch, cfg: SmartSettings) -> None:
    """The app's own SMART settings for this test (they live on its services, not in a module cache)."""
    monkeypatch.setattr(client.app.state, "services", replace(client.app.state.services, smart=cfg))


def sign_in(client, mock) -> tuple[httpx.Response, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    mock_ehr(mock, FakeEhr(gaps_chart()))
    token = mock.routes[1]
    original = token.side_effect

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return original(request)

    token.side_effect = record
    q = launch(client)
    back = client.get(
        "/smart/callback", params={"code": "code-1", "state": q["state"]}, follow_redirects=False
    )
    return back, seen


def test_a_public_client_sends_its_id_and_no_secret(client):
    with respx.mock(assert_all_called=False) as mock:
        back, (request,) = sign_in(client, mock)
    form = parse_qs(request.content.decode())
    assert back.status_code == 303
    assert form["client_id"] == ["idds-cds"] and "authorization" not in request.headers
    assert "client_assertion" not in form


def test_client_secret_basic_sends_the_secret_in_the_basic_header_only(client, monkeypatch):
    cfg = SmartSettings(
        client_id="idds app", client_auth="client_secret_basic", client_secret=SecretStr("s3:cr/et")
    )
    use_smart(client, monkeypatch, cfg)
    with respx.mock(assert_all_called=False) as mock:
        back, (request,) = sign_in(client, mock)
    assert back.status_code == 303
    scheme, encoded = request.headers["authorization"].split(" ")
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic" and (unquote(user), unquote(password)) == ("idds app", "s3:cr/et")
    body = request.content.decode()
    # the secret itself, raw or form-encoded, never in the body (a random PKCE verifier may hold "s3")
    assert "s3:cr/et" not in body and quote("s3:cr/et", safe="") not in body
    assert "client_secret" not in parse_qs(body)
    assert parse_qs(body)["code_verifier"]  # PKCE still


@pytest.mark.parametrize(("alg", "key"), [("RS384", RSA_KEY), ("ES384", EC_KEY)])
def test_private_key_jwt_signs_a_short_lived_client_assertion(client, monkeypatch, tmp_path, alg, key):
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(key))
    cfg = SmartSettings(
        client_auth="private_key_jwt", private_key_file=str(key_file), key_id="k-1", signing_alg=alg
    )
    use_smart(client, monkeypatch, cfg)
    assertions = []
    for _ in range(2):
        with respx.mock(assert_all_called=False) as mock:
            back, (request,) = sign_in(client, mock)
        assert back.status_code == 303
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert form["client_assertion_type"] == ASSERTION_TYPE and "authorization" not in request.headers
        header = jwt.get_unverified_header(form["client_assertion"])
        assert header["alg"] == alg and header["kid"] == "k-1" and header["typ"] == "JWT"
        claims = jwt.decode(form["client_assertion"], key.public_key(), algorithms=[alg], audience=TOKEN_URL)
        assert claims["iss"] == claims["sub"] == "idds-cds"
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assertions.append(claims)
    assert assertions[0]["jti"] != assertions[1]["jti"]  # a fresh jti per request: no replay


def test_private_key_jwt_from_a_pem_in_the_environment(client, monkeypatch):
    monkeypatch.setenv("IDDS_SMART_CLIENT_AUTH", "private_key_jwt")
    monkeypatch.setenv("IDDS_SMART_PRIVATE_KEY", pem(RSA_KEY))
    use_smart(client, monkeypatch, SmartSettings())
    with respx.mock(assert_all_called=False) as mock:
        back, (request,) = sign_in(client, mock)
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    jwt.decode(form["client_assertion"], RSA_KEY.public_key(), algorithms=["RS384"], audience=TOKEN_URL)
    assert back.status_code == 303


@pytest.mark.parametrize(
    "cfg",
    [
        SmartSettings(client_auth="client_secret_basic"),  # no secret
        SmartSettings(client_auth="private_key_jwt"),  # no key
        SmartSettings(client_auth="private_key_jwt", private_key=SecretStr("not a key")),
        SmartSettings(
            client_auth="private_key_jwt", private_key=SecretStr(pem(RSA_KEY)), signing_alg="ES384"
        ),
    ],
)
def test_a_confidential_client_without_usable_credentials_stops_before_the_token_endpoint(
    client, monkeypatch, cfg
):
    use_smart(client, monkeypatch, cfg)
    with respx.mock(assert_all_called=False) as mock:
        back, seen = sign_in(client, mock)
    assert back.status_code == 503 and "IDDS_SMART_CLIENT_AUTH" in back.text
    assert not seen and SECRET not in back.text
