"""Invoke through boto3 and aiobotocore: the corpus handlers behave as the AWS Python runtime
recorded them, and the service's own failures (timeout, size, crash) look like AWS's."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.lambda_local.conftest import corpus_zip, zip_source

MakeFunction = Callable[..., str]


def _invoke(lam: Any, name: str, payload: Any = None, **options: Any) -> tuple[dict[str, Any],
                                                                              bytes]:
    if payload is not None:
        options["Payload"] = json.dumps(payload).encode()
    response: dict[str, Any] = lam.invoke(FunctionName=name, **options)
    return response, response["Payload"].read()


# ---- the conformance corpus handlers -----------------------------------------------------


def test_id_function_returns_its_event(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    response, body = _invoke(lam, name, {"a": [1, "é", None]})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    # The Python runtime writes JSON with ", "/": " separators and without ASCII escapes.
    assert body == '{"a": [1, "é", null]}'.encode()


def test_echo_function(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("echo_function.py"))
    assert _invoke(lam, name, {})[1] == b'{"Return": "HelloWorld"}'


def test_returned_bytes_are_the_payload_as_is(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("return_bytes_str.py"))
    response, body = _invoke(lam, name, {})
    assert body == b'"HelloWorld!"'
    assert "FunctionError" not in response


def test_large_utf8_bytes_response_is_returned_whole(lam: Any,
                                                     make_function: MakeFunction) -> None:
    # Above Step Functions' 256 KB state limit but under Lambda's 6 MB: Lambda returns it and
    # Step Functions raises States.DataLimitExceeded (the corpus case).
    name = make_function(corpus_zip("large_output_string.py"))
    response, body = _invoke(lam, name, {})
    assert body == b"a" * (257 * 1024)
    assert "FunctionError" not in response


def test_raised_exception_payload_matches_the_python_runtime(lam: Any,
                                                             make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("raise_exception.py"))
    response, body = _invoke(lam, name, {})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "Some exception was raised."
    assert error["errorType"] == "Exception"
    # The invocation's request id is the Invoke call's x-amzn-RequestId, as on AWS.
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert error["stackTrace"] == [
        '  File "/var/task/index.py", line 2, in handler\n'
        '    raise Exception("Some exception was raised.")\n'
    ]
    assert body.startswith(b'{"errorMessage": "Some exception was raised.", "errorType": ')


def test_custom_exception_without_args_has_an_empty_message(lam: Any,
                                                            make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("raise_custom_exception.py"))
    response, body = _invoke(lam, name, {})
    error = json.loads(body)
    assert response["FunctionError"] == "Unhandled"
    assert (error["errorMessage"], error["errorType"]) == ("", "CustomException")
    assert error["stackTrace"] == [
        '  File "/var/task/index.py", line 9, in handler\n    raise CustomException()\n'
    ]


def test_timeout_kills_the_handler_and_reports_sandbox_timedout(
        lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("wait_60_seconds.py"), Timeout=1)
    began = time.monotonic()
    response, body = _invoke(lam, name, {"x": 1}, LogType="Tail")
    assert time.monotonic() - began < 5
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(body)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].startswith("RequestId: ")
    assert error["errorMessage"].endswith(" Error: Task timed out after 1.00 seconds")
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log
    assert "Status: timeout" in log


# ---- invocation types, logs, limits ------------------------------------------------------


def test_log_tail_holds_the_handlers_output_between_start_and_report(
        lam: Any, make_function: MakeFunction) -> None:
    source = "def handler(event, context):\n    print('hello from', event['who'])\n    return 1\n"
    name = make_function(zip_source(source))
    response, _ = _invoke(lam, name, {"who": "tail"}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith(" Version: $LATEST")
    assert lines[1] == "hello from tail"
    assert lines[2].startswith("END RequestId: ")
    assert lines[3].startswith("REPORT RequestId: ") and "\tDuration: " in lines[3]
    assert "LogResult" not in lam.invoke(FunctionName=name, Payload=b"{}")


def test_first_log_keeps_what_the_init_phase_printed(lam: Any,
                                                     make_function: MakeFunction) -> None:
    source = "print('loading')\ndef handler(event, context):\n    return 1\n"
    name = make_function(zip_source(source))
    first = base64.b64decode(_invoke(lam, name, {}, LogType="Tail")[0]["LogResult"])
    second = base64.b64decode(_invoke(lam, name, {}, LogType="Tail")[0]["LogResult"])
    assert b"loading\n" in first and b"Init Duration: " in first
    assert b"loading" not in second and b"Init Duration" not in second


def test_log_tail_is_the_last_4_kb(lam: Any, make_function: MakeFunction) -> None:
    source = "def handler(event, context):\n    print('x' * 10000)\n    return 1\n"
    name = make_function(zip_source(source))
    response, _ = _invoke(lam, name, {}, LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) == 4096
    assert log.startswith(b"xxx") and b"REPORT RequestId" in log


def test_error_is_logged_as_the_python_runtime_does(lam: Any,
                                                    make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("raise_exception.py"))
    response, _ = _invoke(lam, name, {}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    assert ("[ERROR] Exception: Some exception was raised.\rTraceback (most recent call last):"
            "\r\u00a0\u00a0File \"/var/task/index.py\", line 2, in handler\r") in log


def test_event_invocation_returns_202_and_runs_in_the_background(
        lam: Any, make_function: MakeFunction, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = ("import pathlib\ndef handler(event, context):\n"
              "    pathlib.Path(event['marker']).write_text('yes')\n")
    name = make_function(zip_source(source))
    response, body = _invoke(lam, name, {"marker": str(marker)}, InvocationType="Event")
    assert (response["StatusCode"], body) == (202, b"")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "yes"


def test_dry_run_returns_204_without_running(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("raise_exception.py"))
    response, body = _invoke(lam, name, {}, InvocationType="DryRun")
    assert (response["StatusCode"], body) == (204, b"")
    assert "FunctionError" not in response


def test_no_payload_is_an_empty_object(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    assert lam.invoke(FunctionName=name)["Payload"].read() == b"{}"


def test_payload_that_is_not_json_is_refused(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as raised:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_request_over_6_mb_is_refused_with_413(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    payload = json.dumps("a" * (6 * 1024 * 1024)).encode()
    with pytest.raises(lam.exceptions.RequestTooLargeException) as raised:
        lam.invoke(FunctionName=name, Payload=payload)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "invocation type (limit 6291456 bytes)" in str(raised.value)


def test_event_request_over_1_mb_is_refused(lam: Any, make_function: MakeFunction) -> None:
    name = make_function(corpus_zip("id_function.py"))
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName=name, InvocationType="Event",
                   Payload=json.dumps("a" * (1024 * 1024)).encode())


def test_response_over_6_mb_is_a_function_error(lam: Any, make_function: MakeFunction) -> None:
    source = "def handler(event, context):\n    return 'a' * (7 * 1024 * 1024)\n"
    name = make_function(zip_source(source))
    response, body = _invoke(lam, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}
    # The environment stays usable after the oversized response was discarded.
    assert _invoke(lam, name, {})[0]["FunctionError"] == "Unhandled"


# ---- the execution environment -----------------------------------------------------------


def test_context_and_environment_offer_what_lambda_sets(lam: Any,
                                                        make_function: MakeFunction) -> None:
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    return {'name': context.function_name, 'version': context.function_version,\n"
        "            'memory': context.memory_limit_in_mb, 'arn': context.invoked_function_arn,\n"
        "            'request': context.aws_request_id, 'group': context.log_group_name,\n"
        "            'remaining': context.get_remaining_time_in_millis(),\n"
        "            'custom': os.environ['GREETING'], 'region': os.environ['AWS_REGION'],\n"
        "            'handler': os.environ['_HANDLER'], 'cwd': os.getcwd(),\n"
        "            'root': os.environ['LAMBDA_TASK_ROOT']}\n"
    )
    name = make_function(zip_source(source), Timeout=7, MemorySize=256,
                         Environment={"Variables": {"GREETING": "hi"}})
    result = json.loads(_invoke(lam, name, {})[1])
    assert result["name"] == name and result["version"] == "$LATEST"
    assert result["memory"] == "256"
    assert result["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert result["group"] == f"/aws/lambda/{name}"
    assert 6000 < result["remaining"] <= 7000
    assert (result["custom"], result["region"], result["handler"]) == (
        "hi", "us-east-1", "index.handler")
    assert result["cwd"] == result["root"]


def test_warm_environment_keeps_module_state(lam: Any, make_function: MakeFunction) -> None:
    source = "COUNT = 0\ndef handler(event, context):\n    global COUNT\n    COUNT += 1\n" \
             "    return COUNT\n"
    name = make_function(zip_source(source))
    assert [_invoke(lam, name, {})[1] for _ in range(3)] == [b"1", b"2", b"3"]


def test_updated_code_and_configuration_are_used_at_once(lam: Any,
                                                         make_function: MakeFunction) -> None:
    name = make_function(zip_source("def handler(e, c):\n    return 'old'\n"))
    assert _invoke(lam, name, {})[1] == b'"old"'
    lam.update_function_code(FunctionName=name,
                             ZipFile=zip_source("import os\ndef handler(e, c):\n"
                                                "    return os.environ.get('V', 'new')\n"))
    assert _invoke(lam, name, {})[1] == b'"new"'
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"V": "v2"}})
    assert _invoke(lam, name, {})[1] == b'"v2"'


@pytest.mark.parametrize(("source", "handler", "error_type", "message"), [
    ("x = 1\n", "missing.handler", "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'missing'"),
    ("x = 1\n", "index.nothing", "Runtime.HandlerNotFound",
     "Handler 'nothing' missing on module 'index'"),
    ("x = 1\n", "nodot", "Runtime.MalformedHandlerName",
     "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"),
    ("def handler(:\n", "index.handler", "Runtime.UserCodeSyntaxError", None),
    ("raise ValueError('at import')\n", "index.handler", "ValueError", "at import"),
])
def test_handlers_that_cannot_load_fail_as_the_python_runtime_reports(
        lam: Any, make_function: MakeFunction, source: str, handler: str, error_type: str,
        message: str | None) -> None:
    name = make_function(zip_source(source), Handler=handler)
    response, body = _invoke(lam, name, {})
    error = json.loads(body)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type
    if message is not None:
        assert error["errorMessage"] == message


def test_result_that_cannot_be_marshalled_is_a_marshal_error(lam: Any,
                                                             make_function: MakeFunction) -> None:
    name = make_function(zip_source("def handler(e, c):\n    return {1, 2}\n"))
    error = json.loads(_invoke(lam, name, {})[1])
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == ("Unable to marshal response: Object of type set is not "
                                     "JSON serializable")


def test_handler_that_exits_the_process_is_a_runtime_exit_error(
        lam: Any, make_function: MakeFunction) -> None:
    name = make_function(zip_source("import os\ndef handler(e, c):\n    os._exit(3)\n"))
    response, body = _invoke(lam, name, {})
    error = json.loads(body)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")


def test_timeout_also_kills_processes_the_handler_started(
        lam: Any, make_function: MakeFunction, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    source = ("import subprocess, time\ndef handler(event, context):\n"
              "    child = subprocess.Popen(['sleep', '60'])\n"
              "    open(event['pid_file'], 'w').write(str(child.pid))\n"
              "    time.sleep(60)\n")
    name = make_function(zip_source(source), Timeout=1)
    response, _ = _invoke(lam, name, {"pid_file": str(pid_file)})
    assert response["FunctionError"] == "Unhandled"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


# ---- addressing ---------------------------------------------------------------------------


def test_invoke_by_arn_partial_arn_version_and_alias(lam: Any,
                                                     make_function: MakeFunction) -> None:
    name = make_function(zip_source("def handler(e, c):\n    return c.invoked_function_arn\n"))
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert json.loads(_invoke(lam, arn, {})[1]) == arn
    assert json.loads(_invoke(lam, f"000000000000:function:{name}", {})[1]) == arn
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.update_function_code(FunctionName=name,
                             ZipFile=zip_source("def handler(e, c):\n    return 'changed'\n"))
    response, body = _invoke(lam, name, {}, Qualifier="live")
    assert response["ExecutedVersion"] == version
    assert json.loads(body) == f"{arn}:live"
    assert json.loads(_invoke(lam, f"{arn}:{version}", {})[1]) == f"{arn}:{version}"
    assert json.loads(_invoke(lam, name, {})[1]) == "changed"


def test_invoking_a_missing_function_names_its_latest_arn(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as raised:
        lam.invoke(FunctionName="no_such_function", Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == ("Function not found: arn:aws:lambda:us-east-1:"
                                         "000000000000:function:no_such_function:$LATEST")


# ---- concurrency, through aiobotocore ----------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_invocations_run_in_parallel(alam: Any,
                                                      make_function: MakeFunction) -> None:
    source = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return event\n"
    name = await anyio.to_thread.run_sync(lambda: make_function(zip_source(source)))
    results: dict[int, Any] = {}

    async def call(index: int) -> None:
        response = await alam.invoke(FunctionName=name, Payload=json.dumps({"i": index}))
        results[index] = json.loads(await response["Payload"].read())

    began = time.monotonic()
    async with anyio.create_task_group() as group:
        for index in range(16):
            group.start_soon(call, index)
    elapsed = time.monotonic() - began
    assert results == {index: {"i": index} for index in range(16)}
    # Serially this would take 8 s.
    assert elapsed < 4


@pytest.mark.anyio
async def test_aiobotocore_sees_function_errors_and_log_tail(
        alam: Any, make_function: MakeFunction) -> None:
    name = await anyio.to_thread.run_sync(
        lambda: make_function(corpus_zip("raise_custom_exception.py")))
    response = await alam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    body = json.loads(await response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "CustomException"
    assert b"[ERROR] CustomException" in base64.b64decode(response["LogResult"])
