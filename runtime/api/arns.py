"""Checking the ARNs requests carry, with AWS's InvalidArn wording.

    arn:aws:states:<region>:<account>:stateMachine:<name>[:<version>|:<alias>]
    arn:aws:states:<region>:<account>:execution:<machine>:<name>
"""

from __future__ import annotations

from typing import Final, Literal

from runtime.errors import AslError

Kind = Literal["stateMachine", "version", "alias", "execution"]
_PREFIX: Final = "arn:"


def _invalid(detail: str) -> AslError:
    return AslError("InvalidArn", f"Invalid Arn: '{detail}'")


def kind_of(arn: str) -> Kind:
    """What an ARN names; InvalidArn if it names nothing Step Functions serves here."""
    if not arn.startswith(_PREFIX):
        raise _invalid(f"Invalid ARN prefix: {arn}")
    parts = arn.split(":")
    if len(parts) < 7 or parts[1] not in ("aws", "aws-cn", "aws-us-gov") or parts[2] != "states":
        raise _invalid(arn)
    resource, names = parts[5], parts[6:]
    if not all(names):
        raise _invalid(arn)
    if resource == "stateMachine" and len(names) == 1:
        return "stateMachine"
    if resource == "stateMachine" and len(names) == 2:
        return "version" if names[1].isdigit() else "alias"
    if resource == "execution" and len(names) == 2:
        return "execution"
    if resource in ("stateMachine", "execution"):
        raise _invalid(arn)
    raise _invalid(f"Resource type not valid in this context: {resource}")


def require(arn: str, *allowed: Kind) -> Kind:
    kind = kind_of(arn)
    if kind not in allowed:
        resource = {"version": "stateMachineVersion", "alias": "stateMachineAlias"}.get(
            kind, kind)
        raise _invalid(f"Resource type not valid in this context: {resource}")
    return kind


def unqualified(arn: str) -> str:
    """A version's or alias's state machine ARN (the ARN itself for a state machine)."""
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 and parts[5] == "stateMachine" else arn
