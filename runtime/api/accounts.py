"""Who a request acts for, and the Runtime that serves them.

Authentication. An access key file (`stepline serve --auth FILE`) maps access key ids to
`{"secret": ..., "account": "123456789012"}`. With `Authentication(keys, verify=True)` every
request's SigV4 signature is checked (`runtime.api.sigv4`) and the request acts for its key's
account, in the region of its credential scope. With `verify=False` (the loopback default)
signatures are accepted unverified: a key found in `keys` still selects its account, any other
caller (or none) is the default account 123456789012; the region is the credential scope's when
well formed, else us-east-1.

Accounts. With a factory, every (account, region) gets its own `Runtime`, made on first use and
run in this object's task group until it closes; its ARNs carry that account and region, and
nothing in one Runtime can name a resource of another, so an account asking for another's
state machine or execution gets AWS's not-found errors. A Runtime per (account, region) rather
than per account, because ARNs, listings and activity queues are regional in AWS. With a store
directory, (account, region)'s events live in `<store>/<account>/<region>`. Without a factory,
one Runtime serves every caller whatever account or region they name (the embedding default).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, Self

import anyio
import msgspec
from anyio.abc import TaskGroup, TaskStatus

from integrations.mocks import MockConfig
from integrations.python import TaskHandler
from runtime.api import sigv4
from runtime.api.protocol import DEFAULT_ACCOUNT, DEFAULT_REGION
from runtime.engine import Runtime
from runtime.errors import AslError

ACCOUNT_RE: Final = re.compile(r"\d{12}")
RuntimeFactory = Callable[[str, str], Runtime]


class AccessKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    secret: str
    account: str


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request acts for. `access_key` is None for a request without credentials."""

    access_key: str | None
    account: str
    region: str


_keys_decoder = msgspec.json.Decoder(dict[str, AccessKey])


def load_access_keys(path: str | Path) -> dict[str, AccessKey]:
    """Read an access key file; ValidationException says what is wrong with it."""
    try:
        keys = _keys_decoder.decode(Path(path).read_bytes())
    except OSError as error:
        raise AslError("ValidationException",
                       f"Cannot read the access key file '{path}': {error.strerror}") from None
    except msgspec.DecodeError as error:
        raise AslError("ValidationException",
                       f"Access key file '{path}' must map access key ids to "
                       f'{{"secret": ..., "account": ...}}: {error}') from None
    for key_id, key in keys.items():
        if not key_id or not key.secret:
            raise AslError("ValidationException",
                           f"Access key file '{path}': empty access key id or secret")
        if not ACCOUNT_RE.fullmatch(key.account):
            raise AslError("ValidationException",
                           f"Access key file '{path}': account of '{key_id}' must be 12 "
                           f"digits, got '{key.account}'")
    return keys


class Authentication:
    """Decides who a request acts for (see the module docstring).

    Args:
        keys: access key id -> secret and account.
        verify: check every request's signature (required off loopback).
        clock: seconds since the epoch; signatures must be within 15 minutes of it. The
            wall clock even when the Runtimes run on virtual time.
    """

    def __init__(self, keys: Mapping[str, AccessKey] | None = None, *, verify: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys: Mapping[str, AccessKey] = dict(keys or {})
        self.verify = verify
        self._secrets = {key_id: key.secret for key_id, key in self.keys.items()}
        self._clock = clock

    def caller(self, request: sigv4.SignedRequest) -> Caller:
        """Raises the AWS authentication errors of `sigv4.verify` when verifying."""
        if self.verify:
            credential = sigv4.verify(request, self._secrets,
                                      now=datetime.fromtimestamp(self._clock(), UTC))
            return Caller(access_key=credential.access_key,
                          account=self.keys[credential.access_key].account,
                          region=credential.region)
        claimed = _claimed_credential(request.header("authorization"))
        if claimed is None:
            return Caller(access_key=None, account=DEFAULT_ACCOUNT, region=DEFAULT_REGION)
        key = self.keys.get(claimed.access_key)
        # The region names a store directory: take it only when it looks like one.
        region = claimed.region if sigv4.REGION_RE.fullmatch(claimed.region) \
            else DEFAULT_REGION
        return Caller(access_key=claimed.access_key,
                      account=key.account if key is not None else DEFAULT_ACCOUNT,
                      region=region)


def _claimed_credential(header: str | None) -> sigv4.Credential | None:
    if header is None:
        return None
    try:
        return sigv4.parse_credential(sigv4.parse_authorization(header).credential)
    except AslError:
        return None


def store_for(store: str | Path, account: str, region: str) -> Path:
    if not ACCOUNT_RE.fullmatch(account) or not sigv4.REGION_RE.fullmatch(region):
        raise ValueError(f"not an account and region: {account!r}, {region!r}")
    return Path(store, account, region)


def stored_scopes(store: str | Path) -> list[tuple[str, str]]:
    """The (account, region) pairs that have an event log under `store`."""
    found = []
    for log in sorted(Path(store).glob("*/*/events.log")):
        account, region = log.parent.parent.name, log.parent.name
        if ACCOUNT_RE.fullmatch(account) and sigv4.REGION_RE.fullmatch(region):
            found.append((account, region))
    return found


class Accounts:
    """The Runtimes serving the callers (see the module docstring).

    Args:
        new_runtime: (account, region) -> a Runtime not yet entered. Without it, `runtimes`
            must hold exactly one Runtime, which serves everybody.
        runtimes: Runtimes to run from the start, each serving its own account and region.
    """

    def __init__(self, new_runtime: RuntimeFactory | None = None, *,
                 runtimes: Iterable[Runtime] = ()) -> None:
        self._new_runtime = new_runtime
        self._runtimes = {(r.account, r.region): r for r in runtimes}
        if new_runtime is None and len(self._runtimes) != 1:
            raise ValueError("without a factory, exactly one Runtime serves every caller")
        self._group: TaskGroup | None = None
        self._closing: anyio.Event | None = None
        self._opening: anyio.Lock | None = None

    @classmethod
    def per_caller(cls, *, clock: Literal["system", "virtual"] = "system",
                   store: str | Path | None = None,
                   tasks: Mapping[str, TaskHandler] | None = None,
                   default: bool = False, mocks: MockConfig | None = None) -> Accounts:
        """A Runtime per (account, region), each with `clock` and `tasks`. With `store`,
        those already stored there are opened at start, so their unfinished executions
        resume without waiting for a request. `default` starts the default account's Runtime
        at once too (what unsigned callers and the console use)."""

        def new_runtime(account: str, region: str) -> Runtime:
            return Runtime(clock=clock, account=account, region=region, tasks=tasks, mocks=mocks,
                           store=store_for(store, account, region) if store else None)

        stored = stored_scopes(store) if store else []
        if default and (DEFAULT_ACCOUNT, DEFAULT_REGION) not in stored:
            stored.insert(0, (DEFAULT_ACCOUNT, DEFAULT_REGION))
        return cls(new_runtime, runtimes=[new_runtime(*scope) for scope in stored])

    def default_runtime(self) -> Runtime:
        """The Runtime of the default account and region (what unsigned callers use)."""
        found = self._runtimes.get((DEFAULT_ACCOUNT, DEFAULT_REGION))
        return found if found is not None else next(iter(self._runtimes.values()))

    @property
    def runtimes(self) -> list[Runtime]:
        return list(self._runtimes.values())

    async def __aenter__(self) -> Self:
        self._closing = anyio.Event()
        self._opening = anyio.Lock()
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        try:
            for runtime in self._runtimes.values():
                await group.start(self._run, runtime)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Each Runtime closes itself (flushing its store) rather than being cancelled."""
        assert self._group is not None and self._closing is not None
        self._closing.set()
        await self._group.__aexit__(None, None, None)
        self._group = None

    async def runtime(self, account: str, region: str) -> Runtime:
        """The Runtime serving (account, region), started now if it is the first request."""
        if self._new_runtime is None:
            return next(iter(self._runtimes.values()))
        found = self._runtimes.get((account, region))
        if found is not None:
            return found
        if self._group is None or self._opening is None:
            raise RuntimeError("use Accounts inside 'async with'")
        async with self._opening:
            found = self._runtimes.get((account, region))
            if found is None:
                found = self._new_runtime(account, region)
                await self._group.start(self._run, found)
                self._runtimes[(account, region)] = found
        return found

    async def _run(self, runtime: Runtime, *,
                   task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        assert self._closing is not None
        async with runtime:
            task_status.started()
            await self._closing.wait()
