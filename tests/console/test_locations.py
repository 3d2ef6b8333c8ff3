from __future__ import annotations

import json

from runtime.console.locations import line_and_column, member_offsets, placed
from runtime.model.validate import validate_definition_text

TEXT = """{
  "StartAt": "A",
  "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "a/b": {
      "Type": "Wait",
      "Catch": [{"ErrorEquals": ["x"]}, {"Next": "A"}]
    }
  }
}"""


def test_every_member_has_the_offset_of_its_key_or_element() -> None:
    offsets = member_offsets(TEXT)
    assert line_and_column(TEXT, offsets["/"]) == (1, 1)
    assert line_and_column(TEXT, offsets["/States/A"]) == (4, 5)
    assert line_and_column(TEXT, offsets["/States/A/Next"]) == (4, 27)
    # AWS joins keys with "/" unescaped, so a state name with a slash reads as two keys.
    assert line_and_column(TEXT, offsets["/States/a/b/Type"]) == (6, 7)
    assert line_and_column(TEXT, offsets["/States/a/b/Catch/1/Next"]) == (7, 42)


def test_diagnostics_get_the_line_of_their_location() -> None:
    text = json.dumps({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "C": {"Type": "Succeed"}}}, indent=2)
    found = {d["message"]: (d["line"], d["column"])
             for d in placed(validate_definition_text(text), text)}
    assert found["Missing 'Next' target: B"] == (6, 7)
    assert found['State "C" is not reachable.'] == (8, 5)


def test_a_missing_field_is_placed_at_the_object_that_lacks_it() -> None:
    text = '{\n  "StartAt": "A",\n  "States": {\n    "A": {"Type": "Pass"}\n  }\n}'
    [diagnostic] = [d for d in placed(validate_definition_text(text), text)
                    if d["location"] == "/States/A"]
    assert diagnostic["line"] == 4


def test_a_syntax_error_keeps_the_parsers_line_and_a_global_fault_has_none() -> None:
    broken = '{\n  "StartAt": "A"\n  "States": {}\n}'
    [syntax] = placed(validate_definition_text(broken), broken)
    assert syntax["code"] == "INVALID_JSON_DESCRIPTION"
    assert (syntax["line"], syntax["column"]) == (3, 3)
    looping = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}'
    [no_end] = placed(validate_definition_text(looping), looping)
    assert no_end["code"] == "MISSING_END_STATE"
    assert no_end["line"] is None
