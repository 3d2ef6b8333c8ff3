"""Authentication and accounts: SigV4 verification checked against botocore's own signer, AWS's
error codes and wording, and per-account isolation through a `stepline serve --auth` server."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import boto3
import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from runtime.api.accounts import AccessKey, Accounts, Authentication, load_access_keys
from runtime.api.app import create_app
from runtime.api.sigv4 import SignedRequest, canonical_request, signing_key, verify
from runtime.errors import AslError
from tests.api.conftest import CLIENT_CONFIG, ROLE, ROOT, _free_port, pass_machine

SIGNED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SECRETS = {"AKIDALICE": "alice-secret"}
BODY = b'{"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:m"}'
ALICE, ALICE_TOO, BOB = "111111111111", "111111111111", "222222222222"
KEYS = {"AKIDALICE": {"secret": "alice-secret", "account": ALICE},
        "AKIDALICE2": {"secret": "alice-second-secret", "account": ALICE_TOO},
        "AKIDBOB": {"secret": "bob-secret", "account": BOB}}


def _sign(request: AWSRequest, key: str, secret: str, region: str = "us-east-1",
          service: str = "states") -> AWSRequest:
    """Signed by botocore as at SIGNED_AT."""
    with mock.patch.object(botocore.auth, "get_current_datetime",
                           lambda remove_tzinfo=True: SIGNED_AT.replace(tzinfo=None)):
        SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return request


def _botocore_signed(*, url: str = "http://127.0.0.1:8083/", body: bytes = BODY,
                     key: str = "AKIDALICE", secret: str = "alice-secret",
                     region: str = "us-east-1", service: str = "states",
                     operation: str = "DescribeStateMachine",
                     extra: dict[str, str] | None = None) -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"AWSStepFunctions.{operation}", **(extra or {})})
    return _sign(request, key, secret, region, service)


def _as_received(request: AWSRequest, **changes: Any) -> SignedRequest:
    """What the server sees of a botocore request (Host comes from the URL)."""
    prepared = request.prepare()
    split = prepared.url.split("://", 1)[1]
    host, _, rest = split.partition("/")
    path, _, query = ("/" + rest).partition("?")
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers.setdefault("host", host)
    headers.update(changes.pop("headers", {}))
    received = SignedRequest(method=prepared.method, path=path, query=query,
                             headers=tuple(headers.items()), body=prepared.body or b"")
    return SignedRequest(**{**{f: getattr(received, f) for f in received.__struct_fields__},
                            **changes})


def _rejected(request: SignedRequest, *, now: datetime = SIGNED_AT,
              secrets: dict[str, str] = SECRETS) -> AslError:
    with pytest.raises(AslError) as raised:
        verify(request, secrets, now=now)
    return raised.value


# -- the signature computation --------------------------------------------------------------


def test_signing_key_matches_the_aws_documented_derivation() -> None:
    # "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference)
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_canonical_request_is_botocores_for_odd_paths_and_queries() -> None:
    request = _botocore_signed(url="http://127.0.0.1:8083/a/./b/../c%20d//e/?b=2&a=z&a=1")
    signer = SigV4Auth(Credentials("AKIDALICE", "alice-secret"), "states", "us-east-1")
    received = _as_received(request)
    signed = received.header("authorization") or ""
    names = signed.split("SignedHeaders=")[1].split(",")[0].split(";")
    del request.headers["Authorization"]  # as it was when botocore signed it
    expected = signer.canonical_request(request)
    assert canonical_request(received, names, hashlib.sha256(BODY).hexdigest()) == expected
    assert verify(received, SECRETS, now=SIGNED_AT).access_key == "AKIDALICE"


def test_a_botocore_signature_verifies_and_names_the_credential() -> None:
    credential = verify(_as_received(_botocore_signed(region="eu-west-1")), SECRETS,
                        now=SIGNED_AT + timedelta(minutes=14))
    assert (credential.access_key, credential.date, credential.region, credential.service) == (
        "AKIDALICE", "20240501", "eu-west-1", "states")


def test_tampered_body_fails_with_awss_mismatch_message_and_canonical_string() -> None:
    error = _rejected(_as_received(_botocore_signed(), body=BODY.replace(b":m", b":x")))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.\n\nThe Canonical String for this request should have "
        "been\n'POST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:127.0.0.1:8083\n")
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20240501T120000Z\n" \
        "20240501/us-east-1/states/aws4_request\n" in error.message


@pytest.mark.parametrize("header, value", [
    ("x-amz-target", "AWSStepFunctions.DeleteStateMachine"),
    ("host", "127.0.0.1:9999"),
    ("content-type", "application/json"),
    ("x-amz-date", "20240501T120001Z"),
])
def test_tampered_signed_header_fails(header: str, value: str) -> None:
    error = _rejected(_as_received(_botocore_signed(), headers={header: value}))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("The request signature we calculated does not match")


def test_unsigned_headers_may_change() -> None:
    received = _as_received(_botocore_signed(), headers={"user-agent": "anything"})
    assert verify(received, SECRETS, now=SIGNED_AT).access_key == "AKIDALICE"


def test_wrong_secret_fails_and_unknown_key_is_unrecognized() -> None:
    assert _rejected(_as_received(_botocore_signed(secret="guess"))).code == \
        "InvalidSignatureException"
    error = _rejected(_as_received(_botocore_signed(key="AKIDNOBODY")))
    assert (error.code, error.message) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_signatures_older_or_newer_than_15_minutes_are_refused() -> None:
    request = _as_received(_botocore_signed())
    expired = _rejected(request, now=SIGNED_AT + timedelta(minutes=15, seconds=1))
    assert (expired.code, expired.message) == (
        "InvalidSignatureException",
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z "
        "(20240501T121501Z - 15 min.)")
    early = _rejected(request, now=SIGNED_AT - timedelta(minutes=16))
    assert (early.code, early.message) == (
        "InvalidSignatureException",
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z "
        "(20240501T114400Z + 15 min.)")
    assert verify(request, SECRETS, now=SIGNED_AT - timedelta(minutes=15)).date == "20240501"


def test_credential_scope_for_another_service_is_refused() -> None:
    error = _rejected(_as_received(_botocore_signed(service="lambda")))
    assert (error.code, error.message) == (
        "InvalidSignatureException", "Credential should be scoped to correct service: 'states'.")


def test_every_scope_fault_is_reported_at_once() -> None:
    header = ("AWS4-HMAC-SHA256 Credential=AKIDALICE/20240502/Mars/lambda/aws5_request, "
              "SignedHeaders=host;x-amz-date, Signature=00")
    request = _as_received(_botocore_signed(), headers={"authorization": header})
    assert _rejected(request).message == (
        "Credential should be scoped to a valid region, not 'Mars'. "
        "Credential should be scoped to correct service: 'states'. "
        "Credential should be scoped with a valid terminator: 'aws4_request', not "
        "'aws5_request'. Date in Credential scope does not match YYYYMMDD from ISO-8601 "
        "version of date from HTTP: '20240502' != '20240501', from '20240501T120000Z'.")


@pytest.mark.parametrize("authorization", [None, "Bearer abc", "AWS AKIDALICE:c2lnbmF0dXJl"])
def test_requests_without_a_sigv4_header_miss_the_authentication_token(
        authorization: str | None) -> None:
    signed = _as_received(_botocore_signed())
    headers = tuple((k, v) for k, v in signed.headers if k != "authorization")
    if authorization is not None:
        headers += (("authorization", authorization),)
    error = _rejected(SignedRequest(method="POST", path="/", query="", headers=headers,
                                    body=BODY))
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException", "Request is missing Authentication Token")


def test_incomplete_signatures_name_every_missing_part() -> None:
    header = "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240501/us-east-1/states/aws4_request"
    error = _rejected(_as_received(_botocore_signed(), headers={"authorization": header}))
    assert (error.code, error.message) == (
        "IncompleteSignatureException",
        "Authorization header requires 'Signature' parameter. Authorization header requires "
        f"'SignedHeaders' parameter. Authorization={header}")


@pytest.mark.parametrize("change, code, message", [
    ({"x-amz-date": "2024-05-01T12:00:00Z"}, "IncompleteSignatureException",
     "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'. "
     "See http://en.wikipedia.org/wiki/ISO_8601"),
    ({"authorization": "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240501/us-east-1/states/"
                       "aws4_request, SignedHeaders=x-amz-date, Signature=00"},
     "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."),
    ({"authorization": "AWS4-HMAC-SHA512 Credential=AKIDALICE/20240501/us-east-1/states/"
                       "aws4_request, SignedHeaders=host, Signature=00"},
     "IncompleteSignatureException",
     "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "),
    ({"authorization": "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240501/us-east-1/states, "
                       "SignedHeaders=host, Signature=00"},
     "IncompleteSignatureException",
     "Credential must have exactly 5 slash-delimited elements, e.g. "
     "keyid/date/region/service/term, got 'AKIDALICE/20240501/us-east-1/states'"),
])
def test_malformed_signatures(change: dict[str, str], code: str, message: str) -> None:
    error = _rejected(_as_received(_botocore_signed(), headers=change))
    assert (error.code, error.message) == (code, message)


def test_a_signed_payload_hash_must_match_the_body() -> None:
    declared = {"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
    request = _as_received(_botocore_signed(extra=declared))
    assert verify(request, SECRETS, now=SIGNED_AT).access_key == "AKIDALICE"
    swapped = _as_received(_botocore_signed(extra=declared), body=b"{}")
    assert _rejected(swapped).message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed.")


# -- who a request acts for ------------------------------------------------------------------


def test_unverified_mode_takes_the_account_from_the_key_mapping_else_the_default() -> None:
    gate = Authentication({"AKIDALICE": AccessKey(secret="s", account=ALICE)})
    forged = _as_received(_botocore_signed(secret="not-the-secret", region="eu-west-1"))
    assert (gate.caller(forged).account, gate.caller(forged).region) == (ALICE, "eu-west-1")
    stranger = _as_received(_botocore_signed(key="AKIDOTHER", region="local"))
    caller = gate.caller(stranger)
    assert (caller.account, caller.region) == ("123456789012", "us-east-1")
    anonymous = SignedRequest(method="POST", path="/", query="", headers=(), body=b"")
    assert gate.caller(anonymous).access_key is None


def test_access_key_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "keys.json"
    good.write_text(json.dumps(KEYS))
    assert load_access_keys(good)["AKIDBOB"] == AccessKey(secret="bob-secret", account=BOB)
    for content, fault in [("[1]", "must map access key ids"),
                           ('{"K": {"secret": "s", "account": "12"}}', "must be 12 digits"),
                           ('{"K": {"secret": "", "account": "111111111111"}}', "empty"),
                           ('{"K": {"secret": "s"}}', "must map access key ids")]:
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        with pytest.raises(AslError, match=fault):
            load_access_keys(bad)
    with pytest.raises(AslError, match="Cannot read"):
        load_access_keys(tmp_path / "missing.json")


@pytest.mark.anyio
async def test_auth_errors_on_the_wire_are_awss_coral_errors_with_http_400() -> None:
    keys = {"AKIDALICE": AccessKey(secret="alice-secret", account=ALICE)}
    gate = Authentication(keys, verify=True, clock=lambda: SIGNED_AT.timestamp())
    async with Accounts.per_caller(clock="virtual") as accounts:
        transport = httpx.ASGITransport(app=create_app(accounts, authentication=gate))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            good = _botocore_signed(url="http://test/", body=b"{}",
                                    operation="ListStateMachines")
            ok = await client.post("/", content=b"{}", headers=dict(good.headers.items()))
            assert (ok.status_code, ok.json()) == (200, {"stateMachines": []})
            assert [(r.account, r.region) for r in accounts.runtimes] == [(ALICE, "us-east-1")]
            bare = await client.post("/", content=b"{}", headers={
                "X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
            assert bare.status_code == 400
            assert bare.json() == {
                "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                "message": "Request is missing Authentication Token"}
            stranger = _botocore_signed(url="http://test/", key="AKIDNOBODY")
            refused = await client.post("/", content=BODY,
                                        headers=dict(stranger.headers.items()))
            assert (refused.status_code, refused.json()["__type"]) == (
                400, "com.amazon.coral.service#UnrecognizedClientException")


@pytest.mark.anyio
async def test_runtimes_are_made_once_per_account_and_region_on_first_use() -> None:
    async with Accounts.per_caller(clock="virtual") as accounts:
        assert accounts.runtimes == []
        first, again, other_region, other_account = [
            await accounts.runtime(account, region) for account, region in
            [(ALICE, "us-east-1"), (ALICE, "us-east-1"), (ALICE, "eu-west-1"),
             (BOB, "us-east-1")]]
        assert first is again
        assert len({id(first), id(other_region), id(other_account)}) == 3
        arn = await other_account.create_state_machine("m", pass_machine())
        assert arn == "arn:aws:states:us-east-1:222222222222:stateMachine:m"
        racing: list[Any] = []
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(lambda: _append(racing, accounts.runtime(BOB, "ap-south-1")))
        assert len({id(r) for r in racing}) == 1


async def _append(into: list[Any], awaitable: Any) -> None:
    into.append(await awaitable)


@pytest.mark.anyio
async def test_each_account_and_region_keeps_its_own_store(tmp_path: Path) -> None:
    async with Accounts.per_caller(clock="virtual", store=tmp_path) as accounts:
        runtime = await accounts.runtime(BOB, "eu-west-1")
        arn = await runtime.create_state_machine("kept", pass_machine())
    assert (tmp_path / BOB / "eu-west-1" / "events.log").is_file()
    reopened = Accounts.per_caller(clock="virtual", store=tmp_path)
    assert [(r.account, r.region) for r in reopened.runtimes] == [(BOB, "eu-west-1")]
    async with reopened:
        runtime = await reopened.runtime(BOB, "eu-west-1")
        assert runtime.state_machine(arn).name == "kept"


def test_serve_refuses_other_addresses_without_auth(tmp_path: Path) -> None:
    def serve(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "runtime", "serve", "--host", "0.0.0.0",
                               "--port", "1", *arguments], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=False)

    refused = serve()
    assert refused.returncode == 2
    assert "without --auth" in refused.stderr
    unreadable = serve("--auth", str(tmp_path / "missing.json"))
    assert unreadable.returncode == 2
    assert "Cannot read the access key file" in unreadable.stderr


# -- accounts over HTTP, through `stepline serve --auth` -------------------------------------


@contextmanager
def running_server(*arguments: str) -> Iterator[str]:
    """`stepline serve --virtual-clock ARGUMENTS` on a free loopback port; yields its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "serve", "--port", str(port), "--virtual-clock",
         *arguments], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def auth_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = tmp_path_factory.mktemp("auth") / "keys.json"
    keys.write_text(json.dumps(KEYS))
    with running_server("--auth", str(keys)) as endpoint:
        yield endpoint


def _client(endpoint: str, key: str, *, secret: str | None = None,
            region: str = "us-east-1") -> Any:
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key,
                        aws_secret_access_key=secret or KEYS[key]["secret"],
                        config=CLIENT_CONFIG)


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return str(error.value.response["Error"]["Code"])


def test_one_account_cannot_reach_anothers_machines_or_executions(auth_endpoint: str) -> None:
    alice, bob = _client(auth_endpoint, "AKIDALICE"), _client(auth_endpoint, "AKIDBOB")
    name = f"private-{os.getpid()}"
    machine = alice.create_state_machine(name=name, definition=pass_machine(),
                                         roleArn=ROLE)["stateMachineArn"]
    assert machine == f"arn:aws:states:us-east-1:{ALICE}:stateMachine:{name}"
    execution = alice.start_execution(stateMachineArn=machine)["executionArn"]

    assert _code(bob.describe_state_machine, stateMachineArn=machine) == \
        "StateMachineDoesNotExist"
    assert _code(bob.start_execution, stateMachineArn=machine) == "StateMachineDoesNotExist"
    assert _code(bob.list_executions, stateMachineArn=machine) == "StateMachineDoesNotExist"
    assert _code(bob.describe_execution, executionArn=execution) == "ExecutionDoesNotExist"
    assert _code(bob.stop_execution, executionArn=execution) == "ExecutionDoesNotExist"
    assert _code(bob.get_execution_history, executionArn=execution) == \
        "ExecutionDoesNotExist"
    assert machine not in [m["stateMachineArn"]
                           for m in bob.list_state_machines()["stateMachines"]]
    # Bob's own machine of the same name is another resource, in his account.
    bobs = bob.create_state_machine(name=name, definition=pass_machine("bob"),
                                    roleArn=ROLE)["stateMachineArn"]
    assert bobs == f"arn:aws:states:us-east-1:{BOB}:stateMachine:{name}"

    # Another key of Alice's account sees Alice's resources.
    alice_too = _client(auth_endpoint, "AKIDALICE2")
    assert alice_too.describe_execution(executionArn=execution)["stateMachineArn"] == machine
    listed = alice_too.list_executions(stateMachineArn=machine)["executions"]
    assert [e["executionArn"] for e in listed] == [execution]


def test_regions_are_separate_within_an_account(auth_endpoint: str) -> None:
    east = _client(auth_endpoint, "AKIDALICE")
    west = _client(auth_endpoint, "AKIDALICE", region="eu-west-1")
    name = f"regional-{os.getpid()}"
    machine = west.create_state_machine(name=name, definition=pass_machine(),
                                        roleArn=ROLE)["stateMachineArn"]
    assert machine.startswith(f"arn:aws:states:eu-west-1:{ALICE}:")
    assert _code(east.describe_state_machine, stateMachineArn=machine) == \
        "StateMachineDoesNotExist"


def test_bad_credentials_get_awss_codes_through_boto3(auth_endpoint: str) -> None:
    assert _code(_client(auth_endpoint, "AKIDALICE", secret="wrong").list_state_machines) == \
        "InvalidSignatureException"
    stranger = boto3.client("stepfunctions", endpoint_url=auth_endpoint,
                            region_name="us-east-1", aws_access_key_id="AKIDNOBODY",
                            aws_secret_access_key="x", config=CLIENT_CONFIG)
    assert _code(stranger.list_state_machines) == "UnrecognizedClientException"
    unsigned = httpx.post(auth_endpoint + "/", content=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines"})
    assert unsigned.json()["__type"].endswith("#MissingAuthenticationTokenException")
