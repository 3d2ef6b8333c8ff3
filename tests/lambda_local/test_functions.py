"""Function management through boto3: the calls the conformance harness makes, and the error
shapes botocore turns into its modelled exceptions."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.lambda_local.conftest import ROLE, corpus_zip, zip_source

MakeFunction = Callable[..., str]


def test_the_harness_sequence_create_wait_active_delete(lam: Any) -> None:
    zip_bytes = corpus_zip("id_function.py")
    created = lam.create_function(FunctionName="conf0123456789abcdef0-fn1", Runtime="python3.12",
                                  Role=ROLE, Handler="index.handler",
                                  Code={"ZipFile": zip_bytes}, Timeout=30)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == ("arn:aws:lambda:us-east-1:000000000000:function:"
                                      "conf0123456789abcdef0-fn1")
    assert (created["State"], created["LastUpdateStatus"]) == ("Active", "Successful")
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert (created["CodeSize"], created["Timeout"], created["Version"]) == (
        len(zip_bytes), 30, "$LATEST")
    assert lam.get_function(FunctionName="conf0123456789abcdef0-fn1")["Configuration"][
        "State"] == "Active"
    deleted = lam.delete_function(FunctionName="conf0123456789abcdef0-fn1")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="conf0123456789abcdef0-fn1")


def test_get_function_configuration_and_list(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("echo_function.py"), Description="echo",
                         Environment={"Variables": {"A": "1"}}, MemorySize=512)
    configuration = lam.get_function_configuration(FunctionName=name)
    assert (configuration["Description"], configuration["MemorySize"]) == ("echo", 512)
    assert configuration["Environment"] == {"Variables": {"A": "1"}}
    assert configuration["Handler"] == "index.handler"
    assert configuration["Runtime"] == "python3.12"
    listed = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name in listed
    paginated = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 1}) for f in page["Functions"]]
    assert paginated == sorted(listed)


def test_get_function_code_location_serves_the_package(lam: Any,
                                                       make_function: MakeFunction) -> None:
    zip_bytes = corpus_zip("id_function.py")
    name = make_function(zip_bytes)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert location.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(location) as downloaded:
        assert downloaded.read() == zip_bytes


def test_creating_an_existing_function_conflicts(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    with pytest.raises(lam.exceptions.ResourceConflictException) as raised:
        make_function_again(lam, name)
    assert raised.value.response["Error"]["Message"] == f"Function already exist: {name}"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def make_function_again(lam: Any, name: str) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler",
                        Code={"ZipFile": corpus_zip("id_function.py")})


@pytest.mark.parametrize("call", ["get_function", "get_function_configuration",
                                  "delete_function"])
def test_missing_functions_are_resource_not_found(lam: Any, call: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        getattr(lam, call)(FunctionName="never-created")
    assert raised.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:never-created")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(("options", "error"), [
    ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException"),
    ({"Runtime": "nodejs20.x"}, "InvalidParameterValueException"),
    ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException"),
    ({"Code": {"S3Bucket": "bucket", "S3Key": "key"}}, "InvalidParameterValueException"),
])
def test_invalid_functions_are_refused(lam: Any, options: dict[str, Any], error: str) -> None:
    arguments: dict[str, Any] = {"FunctionName": "refused", "Runtime": "python3.12",
                                 "Role": ROLE, "Handler": "index.handler",
                                 "Code": {"ZipFile": corpus_zip("id_function.py")}, **options}
    with pytest.raises(getattr(lam.exceptions, error)):
        lam.create_function(**arguments)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="refused")


def test_timeout_out_of_range_is_a_validation_error(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ClientError) as raised:
        lam.create_function(FunctionName="too-long", Runtime="python3.12", Role=ROLE,
                            Handler="index.handler", Timeout=901,
                            Code={"ZipFile": corpus_zip("id_function.py")})
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_zip_entries_escaping_the_package_are_refused(lam: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.py", "x = 1\n")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName="escape", Runtime="python3.12", Role=ROLE,
                            Handler="index.handler", Code={"ZipFile": buffer.getvalue()})


def test_update_code_changes_sha_and_revision(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    before = lam.get_function_configuration(FunctionName=name)
    new_zip = zip_source("def handler(e, c):\n    return 2\n")
    after = lam.update_function_code(FunctionName=name, ZipFile=new_zip)
    assert after["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert after["RevisionId"] != before["RevisionId"]
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName=name, Timeout=5,
                                          RevisionId=before["RevisionId"])
    assert lam.update_function_configuration(FunctionName=name, Timeout=5)["Timeout"] == 5


def test_versions_and_aliases(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    first = lam.publish_version(FunctionName=name)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["Version"] == "1" and first["FunctionArn"].endswith(f"{name}:1")
    # Nothing changed since version 1: AWS returns it instead of publishing a new one.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    alias = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f"{name}:prod")
    assert lam.get_function(FunctionName=name, Qualifier="prod")["Configuration"]["Version"] == "1"
    lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2")
    assert lam.get_alias(FunctionName=name, Name="prod")["FunctionVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["prod"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_function(FunctionName=name, Qualifier="2")
    lam.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")
    lam.delete_alias(FunctionName=name, Name="prod")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="prod")


def test_deleting_a_function_stops_its_invocations_from_resolving(
        lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Payload=b"{}")
