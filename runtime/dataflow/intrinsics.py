"""Intrinsic functions (`States.Format(...)`, ...), parsed once into `(Scope) -> JSON` closures.

Rules, as AWS applies them (observed on real executions; the docs leave most of them open):
1. Syntax errors (unbalanced quotes or parentheses, an unknown escape, an unknown function)
   are definition errors. Everything else, including a wrong number of arguments, fails at
   run time with States.Runtime; AWS reserves States.IntrinsicFailure and never raises it.
2. A failure inside a nested call is reported against the whole expression as written:
   `There was an error while evaluating the intrinsic function: <expr>. <detail>`, where the
   detail is usually `Invalid arguments in States.X`. A path argument that selects nothing
   reads `The function '<expr>' had the following error: The JsonPath argument for the field
   '<path>' could not be found in the input '<input>'`.
3. Fractional numbers are truncated toward zero, except by States.MathAdd, which rounds half
   up (Java's Math.round).
4. String literals take the escapes `\\'`, `\\{`, `\\}` and `\\\\` only. An escaped brace is
   literal text in a States.Format template, where a bare `{` must open a `{}` placeholder.
5. Randomness comes from `scope.random()` only, so that a replay draws the same values; a
   seeded States.MathRandom reproduces AWS's numbers exactly (java.util.Random).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, NoReturn

from runtime.dataflow.paths import PathNotFound, compile_path, render_json
from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import RUNTIME, AslError, StatesError

IntrinsicFunction = Callable[[Sequence[JSON], Scope], JSON]
"""One States.* function: evaluated arguments (and the scope, for randomness) -> result."""

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_MAX_RANGE_ITEMS: Final = 1000
_MAX_TEXT_LENGTH: Final = 10_000
_CALL_START: Final = re.compile(r"States\.[A-Za-z0-9]+\s*\(")
_NAME: Final = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: Final[Mapping[str, JSON]] = MappingProxyType({"true": True, "false": False,
                                                          "null": None})
_LITERAL_ESCAPES: Final = frozenset("'{}\\")


class _Failure(Exception):
    """An intrinsic failed; the outermost call words the cause with the whole expression."""

    def __init__(self, detail: str, *, path_miss: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path_miss = path_miss


def _invalid_arguments(name: str) -> NoReturn:
    raise _Failure(f"Invalid arguments in {name}")


# --- argument checks shared by the functions -------------------------------------------------

def _arity(name: str, args: Sequence[JSON], *counts: int) -> None:
    if len(args) not in counts:
        _invalid_arguments(name)


def _is_number(value: JSON) -> bool:
    return type(value) is int or type(value) is float


def _truncated(name: str, value: JSON) -> int:
    if not _is_number(value) or not math.isfinite(value):
        _invalid_arguments(name)
    return int(value)


def _array(name: str, value: JSON) -> list[JSON]:
    if type(value) is not list:
        _invalid_arguments(name)
    return value


def _text(name: str, value: JSON) -> str:
    if type(value) is not str:
        _invalid_arguments(name)
    return value


def _java_length(text: str) -> int:
    """Length in UTF-16 code units, as AWS's 10,000-character limits count it."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _limited_text(name: str, value: JSON) -> str:
    text = _text(name, value)
    # Counting code units costs a scan, needed only when the text could exceed the limit.
    if len(text) > _MAX_TEXT_LENGTH // 2 and _java_length(text) > _MAX_TEXT_LENGTH:
        _invalid_arguments(name)
    return text


# --- States.Format ----------------------------------------------------------------------------

class _Template:
    """A parsed States.Format template: the literal pieces around its `{}` placeholders."""

    __slots__ = ("error", "pieces")

    def __init__(self, text: str, *, escapes: bool) -> None:
        pieces: list[str] = []
        current: list[str] = []
        self.error: str | None = None
        position = 0
        while position < len(text):
            char = text[position]
            if escapes and char == "\\":
                current.append(text[position + 1])
                position += 2
                continue
            if char == "{":
                if text.startswith("}", position + 1):
                    pieces.append("".join(current))
                    current = []
                    position += 2
                    continue
                self.error = "matching '}' not found for '{'."
                break
            if char == "}":
                self.error = "matching '{' not found for '}'."
                break
            current.append(char)
            position += 1
        pieces.append("".join(current))
        self.pieces: tuple[str, ...] = tuple(pieces)


def _format_text(value: JSON) -> str:
    """How AWS renders an argument: Java's toString of the decoded value."""
    if type(value) is str:
        return value
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is list:
        return "[" + ", ".join(_format_text(item) for item in value) + "]"
    if type(value) is dict:
        return "{" + ", ".join(f"{key}={_format_text(item)}" for key, item in value.items()) + "}"
    return render_json(value)


def _states_format(args: Sequence[JSON], scope: Scope) -> JSON:
    if not args:
        _invalid_arguments("States.Format")
    template = args[0]
    if type(template) is str:
        template = _Template(template, escapes=False)
    elif type(template) is not _Template:
        _invalid_arguments("States.Format")
    if template.error is not None:
        raise _Failure(f"Invalid template in States.Format: {template.error}")
    pieces = template.pieces
    if len(args) != len(pieces):
        _invalid_arguments("States.Format")
    parts = [pieces[0]]
    for value, piece in zip(args[1:], pieces[1:], strict=True):
        parts.append(_format_text(value))
        parts.append(piece)
    return "".join(parts)


# --- JSON manipulation ------------------------------------------------------------------------

def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"Non-standard token '{name}'")


def _string_to_json(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.StringToJson", args, 1)
    text = _text("States.StringToJson", args[0])
    # AWS answers null for blank text rather than failing.
    if not text.strip():
        return None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise _Failure("Cannot convert String to Json in States.StringToJson, caused by: "
                       f"{error}") from None


def _json_to_string(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.JsonToString", args, 1)
    return render_json(args[0])


def _json_merge(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.JsonMerge", args, 3)
    left, right, deep = args
    # Only the shallow mode exists; AWS treats any flag but `true` as shallow.
    if type(left) is not dict or type(right) is not dict or deep is True:
        _invalid_arguments("States.JsonMerge")
    return {**left, **right}


# --- arrays -----------------------------------------------------------------------------------

def _array_of(args: Sequence[JSON], scope: Scope) -> JSON:
    return list(args)


def _array_partition(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.ArrayPartition", args, 2)
    items = _array("States.ArrayPartition", args[0])
    size = _truncated("States.ArrayPartition", args[1])
    if size < 1:
        _invalid_arguments("States.ArrayPartition")
    return [items[start:start + size] for start in range(0, len(items), size)]


def _contains_key(value: JSON) -> str:
    """AWS matches scalars by their text (`true` finds "true") and containers by their JSON."""
    if type(value) is str:
        return value
    return render_json(value)


def _array_contains(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.ArrayContains", args, 2)
    wanted = _contains_key(args[1])
    return any(_contains_key(item) == wanted
               for item in _array("States.ArrayContains", args[0]))


def _array_range(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.ArrayRange", args, 3)
    first, last, step = (_truncated("States.ArrayRange", value) for value in args)
    if step == 0:
        _invalid_arguments("States.ArrayRange")
    values = range(first, last + (1 if step > 0 else -1), step)
    if len(values) > _MAX_RANGE_ITEMS:
        _invalid_arguments("States.ArrayRange")
    return list(values)


def _array_get_item(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.ArrayGetItem", args, 2)
    items = _array("States.ArrayGetItem", args[0])
    index = _truncated("States.ArrayGetItem", args[1])
    # Observed on AWS: any index into an empty array gives null instead of failing.
    if not items:
        return None
    if not 0 <= index < len(items):
        _invalid_arguments("States.ArrayGetItem")
    return items[index]


def _array_length(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.ArrayLength", args, 1)
    return len(_array("States.ArrayLength", args[0]))


_HashKey = tuple[object, ...]
_MASK32: Final = 0xFFFFFFFF
_MASK64: Final = 0xFFFFFFFFFFFFFFFF


def _java_hash(value: JSON) -> int:
    """Java's hashCode of the value AWS decodes (Integer/Long/Double, String, List, Map)."""
    if value is None:
        return 0
    if type(value) is bool:
        return 1231 if value else 1237
    if type(value) is int:
        if _INT32_MIN <= value <= _INT32_MAX:
            return value & _MASK32
        bits = value & _MASK64
        return (bits ^ (bits >> 32)) & _MASK32
    if type(value) is float:
        double_bits: int = struct.unpack(">Q", struct.pack(">d", value))[0]
        return (double_bits ^ (double_bits >> 32)) & _MASK32
    if type(value) is str:
        code_units = value.encode("utf-16-be")
        result = 0
        for position in range(0, len(code_units), 2):
            unit = code_units[position] << 8 | code_units[position + 1]
            result = (31 * result + unit) & _MASK32
        return result
    if type(value) is list:
        result = 1
        for item in value:
            result = (31 * result + _java_hash(item)) & _MASK32
        return result
    return sum(_java_hash(key) ^ _java_hash(item) for key, item in value.items()) & _MASK32


def _equality_key(value: JSON) -> _HashKey:
    """Java equality: 1 and 1.0 differ, objects compare regardless of key order."""
    if type(value) is list:
        return ("list", tuple(_equality_key(item) for item in value))
    if type(value) is dict:
        return ("map", frozenset((key, _equality_key(item)) for key, item in value.items()))
    return (type(value).__name__, value)


def _array_unique(args: Sequence[JSON], scope: Scope) -> JSON:
    """Distinct items in the iteration order of the java.util.HashSet AWS builds from them
    (AWS returns [false, true] for [true, false, true]): by hash bucket, then first seen."""
    _arity("States.ArrayUnique", args, 1)
    items = _array("States.ArrayUnique", args[0])
    buckets = 16
    while buckets < int(len(items) / 0.75) + 1:
        buckets *= 2
    seen: dict[_HashKey, tuple[int, int, JSON]] = {}
    for item in items:
        key = _equality_key(item)
        if key not in seen:
            spread = _java_hash(item)
            spread ^= spread >> 16
            seen[key] = (spread & (buckets - 1), len(seen), item)
    return [item for _, _, item in sorted(seen.values(), key=lambda entry: entry[:2])]


# --- encoding, hashing ------------------------------------------------------------------------

def _base64_encode(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.Base64Encode", args, 1)
    text = _limited_text("States.Base64Encode", args[0])
    return base64.b64encode(text.encode()).decode("ascii")


_BASE64_ALPHABET: Final = re.compile(r"[^A-Za-z0-9+/]")


def _base64_decode(args: Sequence[JSON], scope: Scope) -> JSON:
    """Decodes leniently, as AWS does: characters outside the alphabet are skipped, decoding
    stops at the first `=`, and a missing padding is tolerated."""
    _arity("States.Base64Decode", args, 1)
    text = _limited_text("States.Base64Decode", args[0])
    digits = _BASE64_ALPHABET.sub("", text.partition("=")[0])
    # A lone trailing digit carries fewer than 8 bits, so it decodes to nothing.
    usable = len(digits) - (1 if len(digits) % 4 == 1 else 0)
    decoded = base64.b64decode(digits[:usable] + "=" * (-usable % 4))
    return decoded.decode("utf-8", errors="replace")


_HASH_ALGORITHMS: Final[Mapping[str, str]] = MappingProxyType({
    "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
    "SHA-512": "sha512"})


def _hash(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.Hash", args, 2)
    data, algorithm = args
    # AWS hashes a non-string value's text rather than rejecting it.
    text = _limited_text("States.Hash", data if type(data) is str else render_json(data))
    if type(algorithm) is not str or algorithm not in _HASH_ALGORITHMS:
        _invalid_arguments("States.Hash")
    return hashlib.new(_HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


# --- math, strings, identifiers ---------------------------------------------------------------

def _java_random_int(seed: int, bound: int) -> int:
    """`new java.util.Random(seed).nextInt(bound)`, which AWS uses for a seeded MathRandom."""
    multiplier, mask = 0x5DEECE66D, (1 << 48) - 1
    state = (seed ^ multiplier) & mask

    def next31() -> int:
        nonlocal state
        state = (state * multiplier + 0xB) & mask
        return state >> 17

    drawn = next31()
    if bound & (bound - 1) == 0:
        return (bound * drawn) >> 31
    while drawn - drawn % bound + bound - 1 >= 2**31:
        drawn = next31()
    return drawn % bound


def _math_random(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.MathRandom", args, 2, 3)
    start = _truncated("States.MathRandom", args[0])
    end = _truncated("States.MathRandom", args[1])
    if not _INT32_MIN <= start < end <= _INT32_MAX or end - start > _INT32_MAX:
        _invalid_arguments("States.MathRandom")
    if len(args) == 3:
        return start + _java_random_int(_truncated("States.MathRandom", args[2]), end - start)
    return start + scope.random().randrange(end - start)


def _java_round(name: str, value: JSON) -> int:
    if not _is_number(value) or not math.isfinite(value):
        _invalid_arguments(name)
    rounded = math.floor(value + 0.5) if type(value) is float else value
    if not _INT32_MIN <= rounded <= _INT32_MAX:
        _invalid_arguments(name)
    return int(rounded)


def _math_add(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.MathAdd", args, 2)
    total = _java_round("States.MathAdd", args[0]) + _java_round("States.MathAdd", args[1])
    if not _INT32_MIN <= total <= _INT32_MAX:
        _invalid_arguments("States.MathAdd")
    return total


def _string_split(args: Sequence[JSON], scope: Scope) -> JSON:
    """Every character of the second argument is a delimiter and empty tokens are dropped
    (java.util.StringTokenizer): `StringSplit('a,,b', ',')` is ["a", "b"] on AWS."""
    _arity("States.StringSplit", args, 2)
    text = _text("States.StringSplit", args[0])
    delimiters = _text("States.StringSplit", args[1])
    if not delimiters:
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]"
    return [token for token in re.split(pattern, text) if token]


def _uuid(args: Sequence[JSON], scope: Scope) -> JSON:
    _arity("States.UUID", args, 0)
    return str(uuid.UUID(int=scope.random().getrandbits(128), version=4))


FUNCTIONS: Final[Mapping[str, IntrinsicFunction]] = MappingProxyType({
    "States.Format": _states_format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array_of,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
})
"""Every intrinsic function by name."""


# --- parser -----------------------------------------------------------------------------------

class _Literal:
    """A string literal: its value, and its text as written (for States.Format templates)."""

    __slots__ = ("raw", "value")

    def __init__(self, value: str, raw: str) -> None:
        self.value = value
        self.raw = raw


Argument = Evaluator | _Literal


class _Parser:
    """Recursive descent over `call := NAME '(' [arg (',' arg)*] ')'`."""

    def __init__(self, expression: str) -> None:
        self.text = expression
        self.position = 0

    def fail(self, reason: str) -> NoReturn:
        raise AslError("InvalidDefinition",
                       f"The value '{self.text}' is not a valid intrinsic function call: "
                       f"{reason} at position {self.position}")

    def skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def ends_token(self, end: int) -> bool:
        """Whether a number or keyword ending at `end` is whole (`1.` and `nullx` are not)."""
        following = self.text[end:end + 1]
        return not following.isalnum() and following != "."

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def call(self) -> Evaluator:
        name_match = _NAME.match(self.text, self.position)
        if name_match is None:
            self.fail("expected a States function name")
        name = name_match.group()
        function = FUNCTIONS.get(name)
        if function is None:
            self.fail(f"unknown function {name}")
        self.position = name_match.end()
        self.skip_space()
        if self.peek() != "(":
            self.fail("expected '('")
        self.position += 1
        arguments: list[Argument] = []
        self.skip_space()
        if self.peek() == ")":
            self.position += 1
            return _bind(function, arguments)
        while True:
            self.skip_space()
            arguments.append(self.argument())
            self.skip_space()
            separator = self.peek()
            self.position += 1
            if separator == ")":
                return _bind(function, arguments)
            if separator != ",":
                self.position -= 1
                self.fail("expected ',' or ')'")

    def argument(self) -> Argument:
        char = self.peek()
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.position):
            return self.call()
        number = _NUMBER.match(self.text, self.position)
        if number is not None and self.ends_token(number.end()):
            self.position = number.end()
            literal = number.group()
            value: JSON = float(literal) if any(c in literal for c in ".eE") else int(literal)
            return _constant(value)
        for keyword, keyword_value in _KEYWORDS.items():
            end = self.position + len(keyword)
            if self.text.startswith(keyword, self.position) and self.ends_token(end):
                self.position = end
                return _constant(keyword_value)
        self.fail("expected a string, number, boolean, null, path or function call")

    def string(self) -> _Literal:
        start = self.position
        self.position += 1
        chars: list[str] = []
        while self.position < len(self.text):
            char = self.text[self.position]
            if char == "'":
                self.position += 1
                return _Literal("".join(chars), self.text[start + 1:self.position - 1])
            if char == "\\":
                escaped = self.text[self.position + 1:self.position + 2]
                if escaped not in _LITERAL_ESCAPES:
                    self.fail("invalid escape in string literal")
                chars.append(escaped)
                self.position += 2
                continue
            chars.append(char)
            self.position += 1
        self.position = start
        self.fail("unterminated string literal")

    def path(self) -> Evaluator:
        """A path runs to the next ',' or ')' outside brackets, quotes and filter parentheses."""
        start = self.position
        depth = 0
        quote = ""
        while self.position < len(self.text):
            char = self.text[self.position]
            if quote:
                if char == "\\":
                    self.position += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"" and depth:
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])" and depth:
                depth -= 1
            elif char in ",)":
                break
            self.position += 1
        return _path_argument(self.text[start:self.position].rstrip())


def _constant(value: JSON) -> Evaluator:
    return lambda scope: value


def _path_argument(path: str) -> Evaluator:
    evaluate = compile_path(path)
    reads_context = path.startswith("$$")

    def read(scope: Scope) -> JSON:
        try:
            return evaluate(scope)
        except PathNotFound:
            root = scope.context if reads_context else scope.input
            raise _Failure(f"The JsonPath argument for the field '{path}' could not be found "
                           f"in the input '{render_json(root)}'", path_miss=True) from None

    return read


def _bind(function: IntrinsicFunction, arguments: Sequence[Argument]) -> Evaluator:
    """Close a call over its argument evaluators; a literal Format template is parsed here."""
    evaluators: list[Evaluator] = []
    for position, argument in enumerate(arguments):
        if not isinstance(argument, _Literal):
            evaluators.append(argument)
        elif position == 0 and function is _states_format:
            evaluators.append(_constant(_Template(argument.raw, escapes=True)))
        else:
            evaluators.append(_constant(argument.value))
    frozen = tuple(evaluators)
    return lambda scope: function([evaluate(scope) for evaluate in frozen], scope)


# --- public API -------------------------------------------------------------------------------

def is_intrinsic(expr: str) -> bool:
    """Whether a `.$` value is an intrinsic function call rather than a path."""
    return _CALL_START.match(expr) is not None


def compile_intrinsic(expr: str) -> Evaluator:
    """Parse an intrinsic function call once into an evaluator.

    Args:
        expr: the call as written, e.g. `States.Format('Hello {}', $.name)`.

    Returns:
        `(Scope) -> JSON`; it raises `StatesError(States.Runtime, cause)` with AWS's cause
        wording (without the "An error occurred while executing the state ..." prefix that
        the reducer adds).

    Raises:
        AslError: InvalidDefinition for a syntax error, an invalid escape, an unknown
            function or an invalid path.
    """
    parser = _Parser(expr)
    if not is_intrinsic(expr):
        parser.fail("expected a States function call")
    call = parser.call()
    parser.skip_space()
    if parser.position != len(expr):
        parser.fail("unexpected text after the call")

    def evaluate(scope: Scope) -> JSON:
        try:
            return call(scope)
        except _Failure as failure:
            if failure.path_miss:
                cause = f"The function '{expr}' had the following error: {failure.detail}"
            else:
                cause = ("There was an error while evaluating the intrinsic function: "
                         f"{expr}. {failure.detail}")
            raise StatesError(RUNTIME, cause) from None

    return evaluate
