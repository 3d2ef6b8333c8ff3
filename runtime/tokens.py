"""Task tokens: what `$$.Task.Token` holds and SendTaskSuccess/Failure/Heartbeat answer with.

A token names the execution and the waiting it completes, so the runtime routes an answer
without a lookup table, and a token survives a restart. It is derived from recorded data only
(the execution ARN and the scheduling event), which keeps replays deterministic.
"""

from __future__ import annotations

import base64
import binascii

_PREFIX = "stl1."


def make_token(execution_arn: str, key: str) -> str:
    raw = f"{execution_arn}\x00{key}".encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(token: str) -> tuple[str, str]:
    """(execution ARN, waiting key).

    Raises:
        ValueError: not a token this runtime issued.
    """
    if not token.startswith(_PREFIX):
        raise ValueError("not a Stepline task token")
    body = token[len(_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("malformed task token") from error
    arn, separator, key = raw.partition("\x00")
    if not separator or not arn or not key:
        raise ValueError("malformed task token")
    return arn, key
