"""Choice rules of the JSONPath query language, compiled once into predicates.

`compile_choice_rule` turns one element of a Choice state's `Choices` (or a rule nested under
And/Or/Not) into a closure `(Scope) -> bool`. All validation, path compilation and literal
conversion happen at compile time; evaluation only reads values and compares them.

Rules this module keeps (AWS behaviour, "Choice Rules" in the Step Functions guide):
1. A `Variable` that selects nothing fails the execution with States.Runtime ("Invalid path
   '<path>': The choice state's condition path references an invalid value."), for every
   operator except IsPresent, which exists to test exactly that (cause text as AWS reports
   it in failed executions). A missing `*Path` operand fails the same way, naming the
   operand's path; that wording is assumed, no AWS recording of it is at hand.
2. A value of the wrong type never matches and never fails: "Step Functions doesn't attempt
   to match a numeric field to a string value". JSON booleans are not numbers (Python's bool
   is an int, so every numeric test checks the exact type).
3. Integers and decimals compare by value: 1 NumericEquals 1.0.
4. String order is Java's `String.compareTo` (UTF-16 code units), as the AWS guide specifies.
5. Timestamps follow the guide's RFC 3339 profile: uppercase `T`, uppercase `Z` or a numeric
   `+hh:mm` offset, optional fraction of up to nine digits (Java's nanosecond precision).
   Instants are compared, so offsets are taken into account.
6. And/Or stop at the first deciding operand, so the documented guard idiom
   `And: [IsPresent, <comparison>]` never reaches the comparison when the value is absent.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from runtime.dataflow.paths import PathNotFound, compile_path
from runtime.dataflow.scope import JSON, Evaluator, Scope
from runtime.errors import RUNTIME, AslError, StatesError

ChoiceRule = Callable[[Scope], bool]
"""A compiled Choice rule: True when the rule matches the scope's values."""

_ValueTest = Callable[[JSON], bool]
_PairTest = Callable[[JSON, JSON], bool]
_Compare = Callable[[Any, Any], bool]

_ORDERINGS: Final[Mapping[str, _Compare]] = {
    "Equals": operator.eq,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
}
_TYPE_TESTS: Final = ("IsBoolean", "IsNull", "IsNumeric", "IsPresent", "IsString", "IsTimestamp")
_COMPOSITES: Final = ("And", "Or", "Not")
_COMPARISONS: Final = frozenset(
    {"BooleanEquals", "BooleanEqualsPath", "StringMatches", *_TYPE_TESTS}
    | {f"{family}{ordering}{suffix}" for family in ("Numeric", "String", "Timestamp")
       for ordering in _ORDERINGS for suffix in ("", "Path")}
)
_OPERATORS: Final = _COMPARISONS | frozenset(_COMPOSITES)
# The reducer reads these; they belong to the top-level rule only.
_TOP_LEVEL_FIELDS: Final = frozenset({"Next", "Assign"})


def compile_choice_rule(rule: Mapping[str, JSON], *, location: str = "/") -> ChoiceRule:
    """Compile one JSONPath Choice rule into a predicate.

    Args:
        rule: an element of a Choice state's `Choices`. `Next`, `Comment` and `Assign` are
            ignored (the reducer handles them).
        location: where the rule sits in the definition (`/States/X/Choices/0`), for errors.

    Returns:
        a closure that evaluates the rule against a scope.

    Raises:
        AslError: InvalidDefinition for a malformed rule: no operator or several, a nested
            rule with `Next`, an operand of the wrong type, an invalid path or timestamp.
        StatesError: (at evaluation) States.Runtime when `Variable` or a `*Path` operand
            selects nothing.
    """
    return _compile(rule, location, top_level=True)


def _invalid(message: str, location: str) -> AslError:
    return AslError(
        "InvalidDefinition",
        f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {message} at {location}'",
    )


def _compile(rule: JSON, location: str, *, top_level: bool) -> ChoiceRule:
    if not isinstance(rule, Mapping):
        raise _invalid("A Choice rule must be an object", location)
    names = [key for key in rule if key in _OPERATORS]
    if len(names) != 1:
        found = ", ".join(names) if names else "none"
        raise _invalid(f"A Choice rule must have exactly one operator (found: {found})", location)
    name = names[0]
    allowed = {name, "Comment"}
    if name in _COMPARISONS:
        allowed.add("Variable")
    if top_level:
        allowed |= _TOP_LEVEL_FIELDS
    for key in rule:
        if key not in allowed:
            raise _invalid(f"Field '{key}' is not supported here", location)
    if name in _COMPOSITES:
        return _compile_composite(name, rule[name], f"{location}/{name}")
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise _invalid(f"'{name}' needs a 'Variable' path", location)
    return _compile_comparison(name, variable, rule[name], location)


def _compile_composite(name: str, operand: JSON, location: str) -> ChoiceRule:
    if name == "Not":
        inner = _compile(operand, location, top_level=False)
        return lambda scope: not inner(scope)
    if not isinstance(operand, list) or not operand:
        raise _invalid(f"'{name}' must be a non-empty array of Choice rules", location)
    rules = tuple(
        _compile(element, f"{location}/{index}", top_level=False)
        for index, element in enumerate(operand)
    )
    if len(rules) == 1:
        return rules[0]
    if len(rules) == 2:
        # The common pair (a range, a guard) skips the generator that all()/any() need.
        first, second = rules
        if name == "And":
            return lambda scope: first(scope) and second(scope)
        return lambda scope: first(scope) or second(scope)
    return _every(rules) if name == "And" else _any(rules)


def _every(rules: Sequence[ChoiceRule]) -> ChoiceRule:
    def every(scope: Scope) -> bool:
        return all(rule(scope) for rule in rules)

    return every


def _any(rules: Sequence[ChoiceRule]) -> ChoiceRule:
    def any_(scope: Scope) -> bool:
        return any(rule(scope) for rule in rules)

    return any_


def _compile_comparison(name: str, variable: str, operand: JSON, location: str) -> ChoiceRule:
    read = _compile_reference(variable, location)
    if name == "IsPresent":
        return _presence(read, _boolean_operand(name, operand, location))
    if name.endswith("Path"):
        if not isinstance(operand, str):
            raise _invalid(f"'{name}' must be a JSONPath string", location)
        test = _pair_test(name[: -len("Path")])
        return _path_comparison(variable, read, operand, _compile_reference(operand, location),
                                test)
    return _comparison(variable, read, _value_test(name, operand, location))


def _compile_reference(path: str, location: str) -> Evaluator:
    try:
        return compile_path(path)
    except AslError as error:
        raise _invalid(error.message, location) from None


def _missing_cause(path: str) -> str:
    return f"Invalid path '{path}': The choice state's condition path references an invalid value."


def _presence(read: Evaluator, expected: bool) -> ChoiceRule:
    def is_present(scope: Scope) -> bool:
        try:
            read(scope)
        except PathNotFound:
            return not expected
        return expected

    return is_present


def _comparison(variable: str, read: Evaluator, test: _ValueTest) -> ChoiceRule:
    cause = _missing_cause(variable)

    def compare(scope: Scope) -> bool:
        try:
            value = read(scope)
        except PathNotFound:
            raise StatesError(RUNTIME, cause) from None
        return test(value)

    return compare


def _path_comparison(
    variable: str, read: Evaluator, operand: str, read_operand: Evaluator, test: _PairTest
) -> ChoiceRule:
    variable_cause = _missing_cause(variable)
    operand_cause = _missing_cause(operand)

    def compare(scope: Scope) -> bool:
        try:
            value = read(scope)
        except PathNotFound:
            raise StatesError(RUNTIME, variable_cause) from None
        try:
            other = read_operand(scope)
        except PathNotFound:
            raise StatesError(RUNTIME, operand_cause) from None
        return test(value, other)

    return compare


# --- tests against a literal operand, checked and converted at compile time ---


def _boolean_operand(name: str, operand: JSON, location: str) -> bool:
    if type(operand) is not bool:
        raise _invalid(f"'{name}' must be a boolean", location)
    return operand


def _value_test(name: str, operand: JSON, location: str) -> _ValueTest:
    if name == "BooleanEquals":
        expected = _boolean_operand(name, operand, location)
        return lambda value: value is expected
    if name in _TYPE_TESTS:
        return _type_test(name, _boolean_operand(name, operand, location))
    if name == "StringMatches":
        if type(operand) is not str:
            raise _invalid(f"'{name}' must be a string", location)
        return _glob_test(glob_segments(operand))
    family, compare = _split_ordering(name)
    if family == "Numeric":
        if not _is_number(operand):
            raise _invalid(f"'{name}' must be a number", location)
        return _numeric_test(compare, operand)
    if type(operand) is not str:
        raise _invalid(f"'{name}' must be a string", location)
    if family == "String":
        return _string_test(compare, operand)
    instant = parse_timestamp(operand)
    if instant is None:
        raise _invalid(f"'{name}' must be an RFC 3339 timestamp, not '{operand}'", location)
    return _timestamp_test(compare, instant)


def _split_ordering(name: str) -> tuple[str, _Compare]:
    """`NumericLessThan` -> ("Numeric", operator.lt)."""
    for family in ("Numeric", "String", "Timestamp"):
        if name.startswith(family):
            return family, _ORDERINGS[name[len(family):]]
    raise ValueError(name)


def _is_number(value: JSON) -> bool:
    return type(value) is int or type(value) is float


def _is_boolean(value: JSON) -> bool:
    return type(value) is bool


def _is_string(value: JSON) -> bool:
    return type(value) is str


def _numeric_test(compare: _Compare, operand: float) -> _ValueTest:
    return lambda value: (type(value) is int or type(value) is float) and compare(value, operand)


def _utf16(text: str) -> bytes:
    # Big-endian UTF-16 bytes order exactly as Java's char-by-char compareTo does.
    return text.encode("utf-16-be", "surrogatepass")


def _string_test(compare: _Compare, operand: str) -> _ValueTest:
    if compare is operator.eq:
        return lambda value: type(value) is str and value == operand
    ascii_operand = operand.isascii()
    operand_units = _utf16(operand)

    def test(value: JSON) -> bool:
        if type(value) is not str:
            return False
        if ascii_operand and value.isascii():
            return compare(value, operand)
        return compare(_utf16(value), operand_units)

    return test


def _timestamp_test(compare: _Compare, operand: int) -> _ValueTest:
    def test(value: JSON) -> bool:
        if type(value) is not str:
            return False
        instant = parse_timestamp(value)
        return instant is not None and compare(instant, operand)

    return test


def _type_test(name: str, expected: bool) -> _ValueTest:
    if name == "IsNull":
        return (lambda value: value is None) if expected else (lambda value: value is not None)
    kinds: Mapping[str, _ValueTest] = {
        "IsBoolean": _is_boolean, "IsNumeric": _is_number, "IsString": _is_string,
        "IsTimestamp": is_timestamp,
    }
    kind = kinds[name]
    return kind if expected else (lambda value: not kind(value))


# --- tests against a *Path operand, whose type is only known at evaluation ---


def _pair_test(name: str) -> _PairTest:
    if name == "BooleanEquals":
        return lambda value, other: type(value) is bool and value is other
    family, compare = _split_ordering(name)
    if family == "Numeric":
        return lambda value, other: (
            _is_number(value) and _is_number(other) and compare(value, other)
        )
    if family == "String":
        return lambda value, other: (
            type(value) is str and type(other) is str and _java_compare(compare, value, other)
        )

    def timestamps(value: JSON, other: JSON) -> bool:
        if type(value) is not str or type(other) is not str:
            return False
        left, right = parse_timestamp(value), parse_timestamp(other)
        return left is not None and right is not None and compare(left, right)

    return timestamps


def _java_compare(compare: _Compare, left: str, right: str) -> bool:
    if compare is operator.eq or (left.isascii() and right.isascii()):
        return compare(left, right)
    return compare(_utf16(left), _utf16(right))


# --- StringMatches ---


def glob_segments(pattern: str) -> list[str]:
    """Split a StringMatches pattern at its unescaped `*` wildcards.

    `\\*` is a literal asterisk and `\\\\` a literal backslash; no other character is
    special ("No characters other than `*` have any special meaning during matching"), so a
    backslash before anything else stays a backslash.

    Returns:
        the literal text between wildcards (one element when there is no wildcard).
    """
    segments: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(pattern):
        character = pattern[position]
        if character == "\\" and pattern[position + 1: position + 2] in ("*", "\\"):
            current.append(pattern[position + 1])
            position += 2
            continue
        if character == "*":
            segments.append("".join(current))
            current = []
        else:
            current.append(character)
        position += 1
    segments.append("".join(current))
    return segments


def _glob_test(segments: Sequence[str]) -> _ValueTest:
    if len(segments) == 1:
        literal = segments[0]
        return lambda value: type(value) is str and value == literal
    head, tail = segments[0], segments[-1]
    middle = tuple(segment for segment in segments[1:-1] if segment)
    shortest = len(head) + len(tail)

    # Wildcards match any run of characters, so taking the leftmost place for every middle
    # segment never loses a match; this stays linear where a regex could backtrack.
    def matches(value: JSON) -> bool:
        if type(value) is not str or len(value) < shortest:
            return False
        if not value.startswith(head) or not value.endswith(tail):
            return False
        position, end = len(head), len(value) - len(tail)
        for segment in middle:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True

    return matches


# --- Timestamps ---

_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NANOS: Final = 1_000_000_000
_MAX_OFFSET_MINUTES: Final = 18 * 60  # java.time.ZoneOffset's range


def parse_timestamp(text: str) -> int | None:
    """Read an RFC 3339 timestamp as nanoseconds since the epoch (UTC).

    Returns:
        the instant, or None if `text` is not a timestamp in the profile AWS documents.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    fraction, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10)
    offset = 0
    if sign is not None:
        offset = int(offset_hours) * 60 + int(offset_minutes)
        if int(offset_minutes) > 59 or offset > _MAX_OFFSET_MINUTES:
            return None
        if sign == "+":
            offset = -offset
    seconds = (_days_from_epoch(year, month, day) * 86_400 + hour * 3_600
               + (minute + offset) * 60 + second)
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return seconds * _NANOS + nanos


def is_timestamp(value: JSON) -> bool:
    """True for a string that `parse_timestamp` accepts (the IsTimestamp test)."""
    return type(value) is str and parse_timestamp(value) is not None


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def _days_from_epoch(year: int, month: int, day: int) -> int:
    # Proleptic Gregorian day count (H. Hinnant's days_from_civil); covers year 0000, which
    # datetime.date cannot represent.
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468
