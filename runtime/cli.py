"""The `stepline` command: run or validate a state machine definition from the shell.

    stepline run DEF.json [--input JSON | --input @file.json] [--tasks tasks.py] [--history]
                          [--virtual-clock | --real-clock] [--name NAME] [--store DIR]
    stepline validate DEF.json
    stepline history STORE EXECUTION     (an execution's events, from a file store)
    stepline resume STORE [--tasks tasks.py]   (continue every unfinished execution)
    stepline serve [--host 127.0.0.1] [--port 8083] [--store DIR] [--tasks tasks.py]
                   [--virtual-clock] [--auth KEYS.json] [--allow-unauthenticated]
                   (the AWS Step Functions API, and the web console at /console)
    stepline replay STORE EXECUTION [--definition DEF.json]   (divergence check)
    stepline inspect STORE EXECUTION --at N   (the execution just after event N)
    stepline mocks from-history STORE EXECUTION > mocks.json   (mocks from a recorded run)
    stepline test-state DEF.json [--state-name NAME] [--input JSON|@file] [--mock JSON|@file]
                  [--inspection-level INFO|DEBUG|TRACE] [--variables JSON] [--tasks tasks.py]
                  (TestState: run one state offline and print what AWS's TestState returns)
    stepline worker --store postgresql://... [--tasks tasks.py] [--mocks MOCKS.json]
                                                                    (scale-out worker)
    stepline lambda [--host 127.0.0.1] [--port 8084] [--workdir DIR]
                   (a local AWS Lambda service that runs Python handlers)
    stepline fork STORE EXECUTION --at N [--definition DEF.json] [--input JSON|@file]
                  [--tasks tasks.py] [--name NAME]   (run a new execution from event N)

Exit status: 0 on success (execution SUCCEEDED, definition without errors); 1 when the
execution ends FAILED/TIMED_OUT/ABORTED or the definition has errors; 2 on bad input. Bad input
prints one line, `stepline: <code>: <message>`, with the AWS error code the API would give:
`InvalidDefinition` for the definition file, `InvalidExecutionInput` for `--input`, and
`ValidationException` (AWS's code for a malformed request) for the `--tasks` file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import ipaddress
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio
import msgspec

from integrations.lambda_local import serve_lambda
from integrations.mocks import MockConfig, MockConfigError, load_mock_config, mock_config_path
from runtime.api.server import serve
from runtime.api.service import StepFunctions
from runtime.cluster import Worker
from runtime.engine import Execution, Runtime
from runtime.errors import AslError
from runtime.log._base import CorruptLogError
from runtime.logging import configure_logging
from runtime.mockfile import HistoryFormatError, from_history, write_mock_file
from runtime.model.validate import ERROR, Diagnostic, validate_definition_text
from runtime.teststate_wire import request_from_body

TaskTable = dict[str, Callable[..., Any]]
ClockName = Literal["system", "virtual"]

_DETAIL_WIDTH = 72
_MACHINE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def main(argv: list[str] | None = None) -> int:
    """Run the `stepline` command with `argv` (default: `sys.argv[1:]`); return the exit
    status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # argparse exits on --help and on usage errors; callers of main() get a status instead.
        return exit_request.code if isinstance(exit_request.code, int) else 2
    configure_logging(renderer=args.log_format, level=args.log_level)
    try:
        return COMMANDS[args.command](args)
    except AslError as error:
        print(f"stepline: {error.code}: {_one_line(error.message)}", file=sys.stderr)
        return 2
    except CorruptLogError as error:
        print(f"stepline: CorruptLog: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`stepline run ... | head`): stop quietly, as Unix tools do, and
        # keep the interpreter's final flush from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _history_command(args: argparse.Namespace) -> int:
    return _history(args.store, args.execution)


def _resume_command(args: argparse.Namespace) -> int:
    return _resume(args.store, _load_tasks(args.tasks) if args.tasks else {})


def _validate_command(args: argparse.Namespace) -> int:
    return _validate(args.definition)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepline", description="Run Amazon States Language state machines locally.")
    parser.add_argument("--log-format", choices=("console", "json"), default="console",
                        help="runtime log lines (to stderr) as aligned text or JSON objects")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        default="info", help="the least severe runtime log lines written")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a state machine to completion in-process")
    run.add_argument("definition", help="the ASL definition (JSON file)")
    run.add_argument("--input", metavar="JSON | @FILE",
                     help="execution input as JSON text, or @path to a JSON file (default {})")
    run.add_argument("--tasks", metavar="FILE.py",
                     help="Python file whose TASKS dict (name -> callable) serves Task states")
    run.add_argument("--history", action="store_true",
                     help="print the execution's events before its output")
    run.add_argument("--name", help="execution name (default: a random UUID)")
    clock = run.add_mutually_exclusive_group()
    clock.add_argument("--real-clock", dest="clock", action="store_const", const="system",
                       help="Wait states and retry intervals take real time (default)")
    clock.add_argument("--virtual-clock", dest="clock", action="store_const", const="virtual",
                       help="Wait states and retry intervals complete instantly")
    run.set_defaults(clock="system")

    run.add_argument("--store", metavar="DIR",
                     help="keep the execution in a durable file store (default: in memory)")
    run.add_argument("--mocks", metavar="MOCKS.json",
                     help="mocked service responses (Step Functions Local's SFN_MOCK_CONFIG)")
    run.add_argument("--test-case", metavar="NAME",
                     help="the mock file's test case to run under (needs --mocks)")

    test_state = commands.add_parser(
        "test-state", help="run one state offline, as the TestState API does")
    test_state.add_argument("definition",
                            help="a state's definition, or a whole state machine with --state-name")
    test_state.add_argument("--state-name", help="the state to test in a whole state machine")
    test_state.add_argument("--input", metavar="JSON | @FILE", help="the state's input")
    test_state.add_argument("--mock", metavar="JSON | @FILE",
                            help='a mocked result or error, e.g. {"result": "{\\"ok\\": 1}"}')
    test_state.add_argument("--inspection-level", choices=["INFO", "DEBUG", "TRACE"],
                            default="INFO")
    test_state.add_argument("--variables", metavar="JSON", help="workflow variables")
    test_state.add_argument("--tasks", metavar="FILE.py",
                            help="Python file whose TASKS dict serves unmocked Task states")

    worker = commands.add_parser(
        "worker", help="advance executions kept in PostgreSQL, beside any number of others")
    worker.add_argument("--store", required=True, metavar="postgresql://...",
                        help="the PostgreSQL database all workers share")
    worker.add_argument("--tasks", metavar="FILE.py",
                        help="Python file whose TASKS dict serves Task states")
    worker.add_argument("--schema", default="stepline")
    worker.add_argument("--worker-id", help="this worker's name in leases (default: random)")
    worker.add_argument("--lease-seconds", type=float, default=10.0,
                        help="how long a killed worker's executions stay claimed")
    worker.add_argument("--max-tasks", type=int, default=64,
                        help="task calls run at once by this worker")
    worker.add_argument("--mocks", metavar="MOCKS.json",
                        help="mocked service responses (default: $SFN_MOCK_CONFIG) for the "
                             "executions started with a test case; the same file as the "
                             "servers'")

    local_lambda = commands.add_parser(
        "lambda", help="serve the AWS Lambda API on 127.0.0.1, running Python handlers")
    local_lambda.add_argument("--host", default="127.0.0.1")
    local_lambda.add_argument("--port", type=int, default=8084)
    local_lambda.add_argument("--workdir", metavar="DIR",
                              help="where function code is unpacked (default: a temp dir)")
    local_lambda.add_argument("--account", default="123456789012",
                              help="the account in function ARNs")
    local_lambda.add_argument("--allow-unauthenticated", action="store_true",
                              help="bind a non-loopback address (it runs uploaded code)")

    mocks = commands.add_parser("mocks", help="mock configuration files")
    mock_commands = mocks.add_subparsers(dest="mocks_command", required=True)
    from_history = mock_commands.add_parser(
        "from-history", help="write a mock file that replays a recorded execution's tasks")
    from_history.add_argument("store", nargs="?", help="the store directory")
    from_history.add_argument("execution", nargs="?", help="execution name or ARN")
    from_history.add_argument("--aws-history", metavar="FILE.json",
                              help="a saved GetExecutionHistory response instead of a store")
    from_history.add_argument("--state-machine", metavar="NAME",
                              help="the state machine name in the mock file")
    from_history.add_argument("--test-case", metavar="NAME", default="FromHistory")

    validate = commands.add_parser("validate", help="check a definition as AWS would")
    validate.add_argument("definition", help="the ASL definition (JSON file)")

    history = commands.add_parser("history", help="print an execution's events from a store")
    history.add_argument("store", help="the store directory (as given to run --store)")
    history.add_argument("execution", help="execution name or ARN")

    resume = commands.add_parser("resume", help="continue every unfinished execution of a store")
    resume.add_argument("store", help="the store directory")
    resume.add_argument("--tasks", metavar="FILE.py",
                        help="Python file whose TASKS dict serves the executions' Task states")

    serve = commands.add_parser(
        "serve", help="serve the AWS Step Functions API (AWS JSON 1.0) for boto3 and the CLI")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=int, default=8083)
    serve.add_argument("--store", metavar="DIR | postgresql://...",
                       help="durable file store (unfinished executions resume on restart), or "
                            "a PostgreSQL database shared with `stepline worker` processes")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="with a PostgreSQL store: cluster workers run in this process "
                            "(default 1; 0 leaves the executions to `stepline worker`s)")
    serve.add_argument("--schema", default="stepline",
                       help="with a PostgreSQL store: the schema of its tables")
    serve.add_argument("--tasks", metavar="FILE.py",
                       help="Python file whose TASKS dict serves Task states")
    serve.add_argument("--mocks", metavar="MOCKS.json",
                       help="mocked service responses (default: $SFN_MOCK_CONFIG); start "
                            "executions with stateMachineArn#TestCase to use them")
    serve.add_argument("--virtual-clock", action="store_true",
                       help="Wait states and retries complete instantly (for tests)")
    serve.add_argument("--auth", metavar="KEYS.json",
                       help='access key id -> {"secret": ..., "account": "123456789012"}: '
                            "verify every request's SigV4 signature and serve each account "
                            "its own state machines and executions")
    serve.add_argument("--allow-unauthenticated", action="store_true",
                       help="bind a non-loopback address without --auth (signatures are "
                            "then accepted unverified)")

    replay = commands.add_parser(
        "replay", help="re-run an execution's recorded messages and report any divergence")
    replay.add_argument("store", help="the store directory")
    replay.add_argument("execution", help="execution name or ARN")
    replay.add_argument("--definition", metavar="DEF.json",
                        help="replay against this definition instead of the recorded one")

    inspect = commands.add_parser("inspect", help="show an execution as of one event")
    inspect.add_argument("store", help="the store directory")
    inspect.add_argument("execution", help="execution name or ARN")
    inspect.add_argument("--at", type=int, required=True, metavar="N", help="event id")

    fork = commands.add_parser("fork", help="run a new execution from a point of an old one")
    fork.add_argument("store", help="the store directory")
    fork.add_argument("execution", help="execution name or ARN")
    fork.add_argument("--at", type=int, required=True, metavar="N", help="event id")
    fork.add_argument("--definition", metavar="DEF.json", help="run on with this definition")
    fork.add_argument("--input", metavar="JSON | @FILE",
                      help="replace the input of the state the execution is in at event N")
    fork.add_argument("--tasks", metavar="FILE.py",
                      help="Python file whose TASKS dict serves Task states")
    fork.add_argument("--name", help="name of the new execution")
    return parser


# --------------------------------------------------------------------------- stores

def _store_dir(path: str) -> str:
    if not Path(path, "events.log").is_file():
        raise AslError("ValidationException", f"No Stepline store at '{path}'")
    return path


def _history(store: str, execution: str) -> int:
    history = anyio.run(_read_history, _store_dir(store), execution)
    _print_history(history, sys.stdout)
    return 0


async def _read_history(store: str, execution: str) -> list[dict[str, Any]]:
    async with Runtime(store=store) as runtime:
        for candidate in runtime.list_executions():
            if execution in (candidate.execution_arn, candidate.name):
                return runtime.get_execution_history(candidate.execution_arn)
    raise AslError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution}'")


def _resume(store: str, tasks: TaskTable) -> int:
    executions = anyio.run(_resume_all, _store_dir(store), tasks)
    for execution in executions:
        reason = [part for part in (execution.error, execution.cause) if part is not None]
        print(_one_line(" ".join((execution.name, execution.status, *reason))))
    return 0 if all(e.status == "SUCCEEDED" for e in executions) else 1


def _test_state(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "definition": _read(args.definition, "definition", "InvalidDefinition"),
        "inspectionLevel": args.inspection_level,
        "roleArn": "arn:aws:iam::123456789012:role/stepline",
    }
    for key, option in (("input", args.input), ("variables", args.variables)):
        text = _input_text(option)
        if text is not None:
            body[key] = text
    if args.state_name:
        body["stateName"] = args.state_name
    if args.mock:
        body["mock"] = _decode_json(_input_text(args.mock) or "")
    tasks = _load_tasks(args.tasks) if args.tasks else {}

    async def run() -> Any:
        async with Runtime(clock="virtual", tasks=tasks) as runtime:
            return await StepFunctions(runtime).test_state(request_from_body(body))

    print(json.dumps(msgspec.to_builtins(anyio.run(run)), indent=2, ensure_ascii=False))
    return 0


def _work(args: argparse.Namespace) -> int:
    if not str(args.store).startswith(("postgresql://", "postgres://")):
        raise AslError("ValidationException", "--store must be a postgresql:// URL")
    tasks = _load_tasks(args.tasks) if args.tasks else {}
    mocks_path = args.mocks or mock_config_path()
    worker = Worker(args.store, tasks=tasks, schema=args.schema, worker_id=args.worker_id,
                    lease_seconds=args.lease_seconds, max_tasks=args.max_tasks,
                    mocks=_load_mocks(mocks_path) if mocks_path else None)

    async def run() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as group:
                await group.start(worker.run)
                print(f"stepline: worker {worker.worker_id} is running", file=sys.stderr)
                async for _ in signals:
                    group.cancel_scope.cancel()
                    break

    anyio.run(run)
    return 0


def _serve_lambda(args: argparse.Namespace) -> int:
    """The Lambda service runs whatever code is uploaded and checks no signatures: loopback
    only, unless told otherwise."""
    if not _is_loopback(args.host) and not args.allow_unauthenticated:
        raise AslError("ValidationException",
                       f"refusing to serve Lambda on {args.host}: it runs uploaded code for "
                       "unauthenticated callers; bind 127.0.0.1 or pass --allow-unauthenticated")
    print(f"stepline: serving the Lambda API on http://{args.host}:{args.port}",
          file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(partial(serve_lambda, args.host, args.port, workdir=args.workdir,
                          account=args.account))
    return 0


def _load_mocks(path: str) -> MockConfig:
    try:
        return load_mock_config(path)
    except (OSError, MockConfigError) as error:
        raise AslError("ValidationException", f"mock configuration {path}: {error}") from None


def _mocks_from_history(args: argparse.Namespace) -> int:
    if args.aws_history:
        text = _read(args.aws_history, "history", "ValidationException")
        try:
            history: Any = json.loads(text)
        except ValueError as error:
            raise AslError("ValidationException", f"{args.aws_history}: {error}") from None
        if isinstance(history, dict):
            history = history.get("events", [])
        name = args.state_machine
    elif args.store and args.execution:
        history, name = anyio.run(_stored_events, _store_dir(args.store), args.execution)
        name = args.state_machine or name
    else:
        raise AslError("ValidationException",
                       "give STORE EXECUTION, or --aws-history FILE.json --state-machine NAME")
    try:
        config = from_history(history, state_machine_name=name, test_case=args.test_case)
    except HistoryFormatError as error:
        raise AslError("ValidationException", str(error)) from None
    write_mock_file(config, sys.stdout)
    return 0


async def _stored_events(store: str, execution: str) -> tuple[list[Any], str]:
    async with Runtime(store=store) as runtime:
        arn = _find(runtime, execution)
        machine = runtime.describe_execution(arn).state_machine_arn.rsplit(":", 1)[-1]
        return list(runtime.history(arn)), machine


def _serve(args: argparse.Namespace) -> int:
    """Each (account, region) gets its own Runtime (with --store, its events in
    STORE/<account>/<region>). With --auth every request's signature is verified and acts for
    its key's account; without it signatures are accepted unverified, which is safe only on
    loopback: another address needs --auth, or --allow-unauthenticated. With --store
    postgresql://... the API is served from that database for one account, and executions
    advance in --workers cluster workers of this process plus any `stepline worker`s."""
    from runtime.api.accounts import Accounts, Authentication, load_access_keys
    from runtime.api.server import serve_cluster

    if not _is_loopback(args.host) and not args.auth and not args.allow_unauthenticated:
        raise AslError("ValidationException",
                       f"refusing to serve on {args.host} without --auth KEYS.json: request "
                       "signatures would not be verified; bind 127.0.0.1, pass --auth, or "
                       "pass --allow-unauthenticated")
    keys = load_access_keys(args.auth) if args.auth else {}
    tasks = _load_tasks(args.tasks) if args.tasks else {}
    authentication = Authentication(keys, verify=bool(args.auth))
    checked = "verified" if args.auth else "NOT verified"
    where = f"http://{args.host}:{args.port} (signatures {checked})"
    mocks_path = args.mocks or mock_config_path()
    mocks = _load_mocks(mocks_path) if mocks_path else None
    if str(args.store).startswith(("postgresql://", "postgres://")):
        # The virtual clock belongs to a single Runtime's memory.
        if args.virtual_clock:
            raise AslError("ValidationException", "--virtual-clock is not supported with a "
                                                  "PostgreSQL store")
        if args.workers < 0:
            raise AslError("ValidationException", "--workers must be 0 or more")
        print(f"stepline: serving the Step Functions API on {where} from PostgreSQL with "
              f"{args.workers} worker(s) in this process (more: stepline worker --store ...)",
              file=sys.stderr)
        run: Callable[[], Any] = partial(
            serve_cluster, args.store, args.host, args.port, workers=args.workers,
            tasks=tasks, schema=args.schema, authentication=authentication, mocks=mocks)
    else:
        accounts = Accounts.per_caller(clock="virtual" if args.virtual_clock else "system",
                                       store=args.store, tasks=tasks, default=not args.auth,
                                       mocks=mocks)
        print(f"stepline: serving the Step Functions API on {where}", file=sys.stderr)
        run = partial(serve, args.host, args.port, accounts=accounts,
                      authentication=authentication)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(run)
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _find(runtime: Runtime, execution: str) -> str:
    for candidate in runtime.list_executions():
        if execution in (candidate.execution_arn, candidate.name):
            return candidate.execution_arn
    raise AslError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution}'")


def _replay(args: argparse.Namespace) -> int:
    definition = _read(args.definition, "definition", "InvalidDefinition") \
        if args.definition else None

    async def check() -> str | None:
        async with Runtime(store=_store_dir(args.store)) as runtime:
            result = runtime.replay(_find(runtime, args.execution), definition=definition)
            return result.divergence.describe() if result.divergence is not None else None

    divergence = anyio.run(check)
    if divergence is None:
        print("replay matches the recorded history")
        return 0
    print(_one_line(divergence))
    return 1


def _inspect(args: argparse.Namespace) -> int:
    async def view() -> Any:
        async with Runtime(store=_store_dir(args.store)) as runtime:
            try:
                return runtime.state_at(_find(runtime, args.execution), args.at)
            except ValueError as error:
                raise AslError("ValidationException", str(error)) from None

    print(msgspec.json.format(msgspec.json.encode(anyio.run(view)), indent=2).decode())
    return 0


def _fork(args: argparse.Namespace) -> int:
    definition = _read(args.definition, "definition", "InvalidDefinition") \
        if args.definition else None
    replacement = _input_text(args.input)
    tasks = _load_tasks(args.tasks) if args.tasks else {}

    async def run_fork() -> Execution:
        async with Runtime(store=_store_dir(args.store), tasks=tasks) as runtime:
            source = _find(runtime, args.execution)
            options: dict[str, Any] = {"definition": definition, "name": args.name}
            if replacement is not None:
                options["input"] = _decode_json(replacement)
            try:
                forked = await runtime.fork(source, args.at, **options)
            except (ValueError, KeyError) as error:
                raise AslError("ValidationException", str(error)) from None
            return await runtime.wait(forked)

    execution = anyio.run(run_fork)
    print(f"{execution.name} {execution.status}", file=sys.stderr)
    if execution.status == "SUCCEEDED":
        print(json.dumps(execution.output, indent=2, ensure_ascii=False))
        return 0
    reason = [part for part in (execution.error, execution.cause) if part is not None]
    print(_one_line(": ".join((execution.status, *reason))), file=sys.stderr)
    return 1


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise AslError("InvalidExecutionInput", f"Invalid input JSON: {error}") from None


async def _resume_all(store: str, tasks: TaskTable) -> list[Execution]:
    async with Runtime(store=store, tasks=tasks) as runtime:
        return [await runtime.wait(e.execution_arn) for e in runtime.list_executions()]


# --------------------------------------------------------------------------- validate

def _validate(definition_path: str) -> int:
    text = _read(definition_path, "definition", "InvalidDefinition")
    diagnostics = validate_definition_text(text)
    if not diagnostics:
        print("OK")
    for diagnostic in diagnostics:
        print(_diagnostic_line(diagnostic))
    return 1 if any(d.severity == ERROR for d in diagnostics) else 0


def _diagnostic_line(diagnostic: Diagnostic) -> str:
    location = diagnostic.location or "-"
    message = diagnostic.message
    # JSON syntax diagnostics repeat their (long) location at the end of the message.
    repeated = f"at {location}"
    if diagnostic.location and message.endswith(repeated):
        message = message[:-len(repeated)].rstrip()
    return _one_line(f"{diagnostic.severity} {diagnostic.code} {location}: {message}")


# --------------------------------------------------------------------------- run

def _run(args: argparse.Namespace) -> int:
    definition = _read(args.definition, "definition", "InvalidDefinition")
    input_json = _input_text(args.input)
    tasks = _load_tasks(args.tasks) if args.tasks else {}
    machine_name = _machine_name(args.definition)
    clock: ClockName = args.clock
    mocks = _load_mocks(args.mocks) if args.mocks else None
    if args.test_case and mocks is None:
        raise AslError("ValidationException", "--test-case needs --mocks FILE")
    execution, history = anyio.run(partial(
        _execute, definition, machine_name, input_json, tasks, clock, args.name, args.store,
        mocks=mocks, test_case=args.test_case))
    if args.history:
        _print_history(history, sys.stdout)
        print()
    if execution.status == "SUCCEEDED":
        print(json.dumps(execution.output, indent=2, ensure_ascii=False))
        return 0
    reason = [part for part in (execution.error, execution.cause) if part is not None]
    print(_one_line(": ".join((execution.status, *reason))), file=sys.stderr)
    return 1


async def _execute(definition: str, machine_name: str, input_json: str | None,
                   tasks: TaskTable, clock: ClockName, execution_name: str | None,
                   store: str | None, *, mocks: MockConfig | None = None,
                   test_case: str | None = None) -> tuple[Execution, list[dict[str, Any]]]:
    # A definition run from the command line is the user's own: its local-file ItemReader
    # reads under the working directory.
    async with Runtime(clock=clock, store=store, tasks=tasks, mocks=mocks,
                       files_root=os.getcwd()) as runtime:
        machine_arn = await runtime.create_state_machine(machine_name, definition)
        target = f"{machine_arn}#{test_case}" if test_case else machine_arn
        execution_arn = await runtime.start_execution(
            target, input_json=input_json, name=execution_name)
        execution = await runtime.wait(execution_arn)
        return execution, runtime.get_execution_history(execution_arn)


def _machine_name(definition_path: str) -> str:
    """A valid state machine name from the file name: `orders.asl.json` -> `orders`."""
    stem = Path(definition_path).name.split(".", 1)[0]
    return _MACHINE_NAME_CHARS.sub("-", stem).strip("-")[:80] or "state-machine"


def _input_text(option: str | None) -> str | None:
    if option is None or not option.startswith("@"):
        return option
    return _read(option[1:], "input", "InvalidExecutionInput")


def _read(path: str, what: str, code: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise AslError(code, f"Cannot read {what} file '{path}': {reason}") from None


def _load_tasks(path: str) -> TaskTable:
    """Import `path` as a module and return its `TASKS` table."""
    def bad(reason: str) -> AslError:
        return AslError("ValidationException", f"Tasks file '{path}': {reason}")

    file = Path(path)
    if not file.is_file():
        raise bad("No such file")
    module_name = f"stepline_tasks_{_MACHINE_NAME_CHARS.sub('_', file.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise bad("not a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before running so that dataclasses and pickling in the tasks file can find it.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise bad(f"import failed: {type(error).__name__}: {error}") from None
    table = getattr(module, "TASKS", None)
    if not isinstance(table, Mapping):
        raise bad("it must define a module-level dict TASKS mapping names to callables")
    for task_name, handler in table.items():
        if not isinstance(task_name, str) or not callable(handler):
            raise bad(f"TASKS[{task_name!r}] must map a name to a callable")
    return dict(table)


# --------------------------------------------------------------------------- history table

def _print_history(events: Sequence[dict[str, Any]], out: TextIO) -> None:
    rows = [("ID", "TYPE", "STATE", "DETAIL")]
    state_of: dict[int, str] = {}
    for event in events:
        state = _state_name(event, state_of)
        state_of[event["id"]] = state
        shown_state = "" if event["type"].startswith("Execution") else state
        rows.append((str(event["id"]), event["type"], shown_state, _detail(event)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        line = "  ".join((row[0].rjust(widths[0]), row[1].ljust(widths[1]),
                          row[2].ljust(widths[2]), row[3]))
        print(line.rstrip(), file=out)


def _state_name(event: dict[str, Any], state_of: Mapping[int, str]) -> str:
    """The state an event belongs to: its own `name`, else that of the event it follows (a
    TaskScheduled follows its TaskStateEntered, as in the AWS console)."""
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict) and "name" in details:
            name = details["name"]
            return name if isinstance(name, str) else ""
    return state_of.get(event["previousEventId"], "")


def _detail(event: dict[str, Any]) -> str:
    details: dict[str, Any] = next(
        (value for key, value in event.items() if key.endswith("EventDetails")), {})
    if "error" in details or "cause" in details:
        text = ": ".join(str(details[k]) for k in ("error", "cause") if k in details)
    elif "output" in details:
        text = f"output={details['output']}"
    elif "resource" in details and "resourceType" not in details:
        # A function or activity ARN (LambdaFunctionScheduled, ActivityScheduled).
        parts = str(details["resource"]).split(":")
        text = f"{parts[2] if len(parts) > 2 else 'task'}:{parts[-1]}"
        if "input" in details:
            text += f" input={details['input']}"
    elif "input" in details:
        text = f"input={details['input']}"
    elif "index" in details:
        text = f"index={details['index']}"
    elif "length" in details:
        text = f"length={details['length']}"
    elif "resource" in details:
        # The function or service action a task calls, not its whole ARN.
        text = f"{details['resourceType']}:{str(details['resource']).rsplit(':', 1)[-1]}"
        if "parameters" in details:
            text += f" parameters={details['parameters']}"
    else:
        text = ""
    text = _one_line(text)
    return text if len(text) <= _DETAIL_WIDTH else text[:_DETAIL_WIDTH - 3] + "..."


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _run,
    "validate": _validate_command,
    "history": _history_command,
    "resume": _resume_command,
    "serve": _serve,
    "mocks": _mocks_from_history,
    "lambda": _serve_lambda,
    "worker": _work,
    "test-state": _test_state,
    "replay": _replay,
    "inspect": _inspect,
    "fork": _fork,
}
