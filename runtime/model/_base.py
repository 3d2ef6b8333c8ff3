"""Configuration-only base for ASL definition structs."""

from __future__ import annotations

import msgspec


class AslStruct(msgspec.Struct, frozen=True, kw_only=True, rename="pascal", omit_defaults=True):
    """Frozen, keyword-only, PascalCase on the wire as ASL spells its fields.

    Unknown fields are tolerated here because `validate.py` has already rejected them with AWS's
    own messages before a definition is decoded.
    """
