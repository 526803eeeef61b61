"""The verified caller: IAP's signed header and Google ID tokens checked by google-auth against
keys served from a loopback key server, and the configured local user.

Keys are made here (EC P-256 for IAP's ES256, RSA for ID tokens' RS256); the key server answers
`{key id: PEM public key}` as IAP's and Google's do. `IAP_CERTS_URL`/`GOOGLE_CERTS_URL` are
pointed at it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.auth.crypt
import google.auth.jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from pagesage import identity
from pagesage.config import Settings
from pagesage.errors import TransientError, Unauthorized

IAP_AUDIENCE = "/projects/123456789/global/backendServices/987654321"
CLIENT_ID = "1234-abc.apps.googleusercontent.com"


class Key:
    """A signing key and its public half, PEM."""

    def __init__(self, kid: str, kind: str = "ec") -> None:
        self.kid = kid
        self.private = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else \
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption())
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        signer_class = google.auth.crypt.ES256Signer if kind == "ec" else google.auth.crypt.RSASigner
        self.signer = signer_class.from_string(self.private_pem, key_id=kid)

    def sign(self, claims: dict, *, kid: str | None = None) -> str:
        return google.auth.jwt.encode(self.signer, claims, key_id=kid).decode()


class KeyServer:
    """A loopback HTTP server answering `/<name>` with the key document `documents[name]`."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, str]] = {}
        self.status = 200
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.strip("/")
                server.hits[name] = server.hits.get(name, 0) + 1
                body = json.dumps(server.documents.get(name, {})).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def iap_key() -> Key:
    return Key("iap-1")


@pytest.fixture(scope="module")
def google_key() -> Key:
    return Key("google-1", kind="rsa")


@pytest.fixture
def keys(monkeypatch, iap_key, google_key):
    """The key server, serving `iap_key` as IAP's and `google_key` as Google's OAuth 2.0 keys,
    with the module pointed at it and its key cache empty."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = KeyServer()
    server.documents = {"iap": {iap_key.kid: iap_key.public_pem}, "oauth2": {google_key.kid: google_key.public_pem}}
    monkeypatch.setattr(identity, "IAP_CERTS_URL", server.url("iap"))
    monkeypatch.setattr(identity, "GOOGLE_CERTS_URL", server.url("oauth2"))
    identity._CERTS.clear()
    yield server
    identity._CERTS.clear()
    server.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("PAGESAGE_USER", "PAGESAGE_IAP_AUDIENCE", "PAGESAGE_ID_TOKEN_AUDIENCE", "PAGESAGE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def settings(**values) -> Settings:
    return Settings(workers=1, **values)


def iap_claims(**changes) -> dict:
    now = int(time.time())
    claims = {"iss": "https://cloud.google.com/iap", "aud": IAP_AUDIENCE, "sub": "accounts.google.com:1029384756",
              "email": "ada@example.org", "hd": "example.org", "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def id_token_claims(**changes) -> dict:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": "110169484474386276334",
              "email": "grace@example.org", "email_verified": True, "name": "Grace Hopper", "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def iap_headers(token: str) -> dict[str, str]:
    return {"X-Goog-IAP-JWT-Assertion": token}


def refused(headers, config) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        identity.caller(headers, config)
    return caught.value


# -- Identity-Aware Proxy -----------------------------------------------------------------------

def test_a_valid_iap_assertion_names_the_caller_by_email(keys, iap_key):
    user = identity.caller(iap_headers(iap_key.sign(iap_claims())), settings(iap_audience=IAP_AUDIENCE))
    assert (user.name, user.user_id, user.email) == ("ada@example.org", "ada@example.org", "ada@example.org")


def test_the_iap_header_is_found_whatever_its_case_and_a_name_claim_is_used(keys, iap_key):
    token = iap_key.sign(iap_claims(name="Ada Lovelace"))
    user = identity.caller({"x-goog-iap-jwt-assertion": token}, settings(iap_audience=IAP_AUDIENCE))
    assert (user.name, user.user_id) == ("Ada Lovelace", "ada@example.org")


def test_without_email_the_subject_is_the_user_id(keys, iap_key):
    user = identity.caller(iap_headers(iap_key.sign(iap_claims(email=None))), settings(iap_audience=IAP_AUDIENCE))
    assert (user.name, user.user_id, user.email) == ("accounts.google.com:1029384756",) * 2 + (None,)


def test_an_assertion_for_another_audience_is_refused(keys, iap_key):
    token = iap_key.sign(iap_claims(aud="/projects/1/global/backendServices/2"))
    error = refused(iap_headers(token), settings(iap_audience=IAP_AUDIENCE))
    assert error.http_status == 401
    assert token not in error.detail and token.split(".")[1] not in error.detail


def test_an_expired_assertion_is_refused(keys, iap_key):
    now = int(time.time())
    refused(iap_headers(iap_key.sign(iap_claims(iat=now - 7200, exp=now - 3600))), settings(iap_audience=IAP_AUDIENCE))


def test_an_assertion_issued_in_the_future_is_refused(keys, iap_key):
    now = int(time.time())
    refused(iap_headers(iap_key.sign(iap_claims(iat=now + 3600, exp=now + 7200))), settings(iap_audience=IAP_AUDIENCE))


def test_an_assertion_signed_by_another_key_is_refused(keys):
    forger = Key("iap-1")  # the same key id, another key
    refused(iap_headers(forger.sign(iap_claims())), settings(iap_audience=IAP_AUDIENCE))


def test_an_assertion_whose_claims_were_changed_is_refused(keys, iap_key):
    import base64

    header, _, signature = iap_key.sign(iap_claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(iap_claims(email="eve@example.org")).encode()).rstrip(b"=").decode()
    refused(iap_headers(f"{header}.{forged}.{signature}"), settings(iap_audience=IAP_AUDIENCE))


def test_an_assertion_from_another_issuer_is_refused(keys, iap_key):
    refused(iap_headers(iap_key.sign(iap_claims(iss="https://accounts.google.com"))), settings(iap_audience=IAP_AUDIENCE))


def test_an_assertion_not_signed_with_es256_is_refused(keys, google_key):
    keys.documents["iap"][google_key.kid] = google_key.public_pem  # a valid RS256 signature by a served key
    refused(iap_headers(google_key.sign(iap_claims())), settings(iap_audience=IAP_AUDIENCE))


def test_a_malformed_assertion_is_refused(keys):
    for token in ("not-a-jwt", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..", "x" * 20_000):
        refused(iap_headers(token), settings(iap_audience=IAP_AUDIENCE))


def test_keys_are_cached_and_fetched_again_for_an_unknown_key_id(keys, iap_key, monkeypatch):
    config = settings(iap_audience=IAP_AUDIENCE)
    identity.caller(iap_headers(iap_key.sign(iap_claims())), config)
    identity.caller(iap_headers(iap_key.sign(iap_claims())), config)
    assert keys.hits["iap"] == 1
    rotated = Key("iap-2")
    keys.documents["iap"][rotated.kid] = rotated.public_pem
    token = rotated.sign(iap_claims())
    refused(iap_headers(token), config)  # fetched a moment ago: no new fetch yet
    assert keys.hits["iap"] == 1
    monkeypatch.setattr(identity._CERTS, "MIN_REFRESH_SECONDS", 0)  # ... as once the interval passed
    assert identity.caller(iap_headers(token), config).user_id == "ada@example.org"
    assert keys.hits["iap"] == 2
    identity.caller(iap_headers(token), config)
    assert keys.hits["iap"] == 2


def test_made_up_key_ids_do_not_make_every_request_fetch(keys):
    config = settings(iap_audience=IAP_AUDIENCE)
    for n in range(5):
        refused(iap_headers(Key(f"made-up-{n}").sign(iap_claims())), config)
    assert keys.hits["iap"] == 1


def test_unavailable_keys_are_a_transient_error_not_a_refusal(keys, iap_key):
    keys.status = 503
    with pytest.raises(TransientError) as caught:
        identity.caller(iap_headers(iap_key.sign(iap_claims())), settings(iap_audience=IAP_AUDIENCE))
    assert caught.value.http_status == 503


def test_an_iap_header_is_ignored_where_iap_is_not_configured(keys, iap_key):
    token = iap_key.sign(iap_claims())
    assert identity.caller(iap_headers(token), settings()) is None
    assert identity.caller(iap_headers(token), settings(user="Ada Lovelace")).user_id == "Ada Lovelace"


# -- Google ID tokens ---------------------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_id_token_names_the_caller(keys, google_key):
    user = identity.caller(bearer(google_key.sign(id_token_claims())), settings(id_token_audience=CLIENT_ID))
    assert (user.name, user.user_id, user.email) == ("Grace Hopper", "grace@example.org", "grace@example.org")


def test_an_unverified_email_is_not_the_user_id(keys, google_key):
    token = google_key.sign(id_token_claims(email_verified=False))
    user = identity.caller(bearer(token), settings(id_token_audience=CLIENT_ID))
    assert (user.user_id, user.email) == ("110169484474386276334", None)


@pytest.mark.parametrize("changes", [
    {"aud": "another-client.apps.googleusercontent.com"},
    {"iss": "https://cloud.google.com/iap"},
    {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
], ids=["wrong-audience", "wrong-issuer", "expired"])
def test_an_id_token_failing_a_check_is_refused(keys, google_key, changes):
    refused(bearer(google_key.sign(id_token_claims(**changes))), settings(id_token_audience=CLIENT_ID))


def test_an_id_token_signed_by_another_key_is_refused(keys):
    refused(bearer(Key("google-1", kind="rsa").sign(id_token_claims())), settings(id_token_audience=CLIENT_ID))


def test_the_operator_api_token_names_nobody(keys):
    config = settings(id_token_audience=CLIENT_ID, api_token="operator-secret")
    assert identity.caller(bearer("operator-secret"), config) is None
    with pytest.raises(Unauthorized):
        identity.require_caller(bearer("operator-secret"), config)


def test_a_bearer_token_is_not_looked_at_without_an_id_token_audience(keys, google_key):
    assert identity.caller(bearer(google_key.sign(id_token_claims())), settings()) is None
    assert keys.hits == {}


# -- the configured local user ----------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("Ada Lovelace <ada@example.org>", ("Ada Lovelace", "ada@example.org", "ada@example.org")),
    ('"Lovelace, Ada" <ada@example.org>', ("Lovelace, Ada", "ada@example.org", "ada@example.org")),
    ("ada@example.org", ("ada@example.org", "ada@example.org", "ada@example.org")),
    ("<ada@example.org>", ("ada@example.org", "ada@example.org", "ada@example.org")),
    ("Ada Lovelace", ("Ada Lovelace", "Ada Lovelace", None)),
    ("  Ada  ", ("Ada", "Ada", None)),
])
def test_pagesage_user_is_parsed(value, expected):
    user = identity.configured_user(value)
    assert (user.name, user.user_id, user.email) == expected


def test_pagesage_user_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAGESAGE_USER", "Ada Lovelace <ada@example.org>")
    user = identity.require_caller({}, Settings(workers=1))
    assert (user.name, user.user_id) == ("Ada Lovelace", "ada@example.org")


@pytest.mark.parametrize("value", ["Ada <not-an-address>", "Ada <ada@>", "<>"])
def test_a_malformed_pagesage_user_fails_at_start(value):
    with pytest.raises(ValidationError):
        settings(user=value)


def test_a_verifying_deployment_never_falls_back_to_pagesage_user(keys):
    for config in (settings(iap_audience=IAP_AUDIENCE, user="Ada"), settings(id_token_audience=CLIENT_ID, user="Ada")):
        assert identity.caller({}, config) is None
        with pytest.raises(Unauthorized):
            identity.require_caller({}, config)


def test_no_identity_configured_is_none_and_an_edit_is_refused():
    assert identity.caller({}, settings()) is None
    assert identity.caller({}, settings(user="   ")) is None
    with pytest.raises(Unauthorized) as caught:
        identity.require_caller({"Authorization": "Bearer something"}, settings())
    assert caught.value.http_status == 401 and caught.value.error_code == "unauthorized"
    assert "PAGESAGE_USER" in caught.value.detail
