"""Structured errors: a stable code, a message, and only the keys that apply."""

from backend_builder.errors import BuilderError


def test_an_error_without_structure_still_works() -> None:
    error = BuilderError("something broke", hint="try again")
    assert str(error) == "something broke"
    assert error.to_dict() == {"code": "error", "message": "something broke", "hint": "try again"}


def test_an_error_names_what_it_is_about() -> None:
    error = BuilderError(
        "bad field",
        code="unknown_type",
        token="name:strng",
        field="name",
        resource="Asset",
        details={"suggestion": "str"},
    )
    assert error.to_dict() == {
        "code": "unknown_type",
        "message": "bad field",
        "token": "name:strng",
        "field": "name",
        "resource": "Asset",
        "details": {"suggestion": "str"},
    }


def test_an_error_of_a_known_kind_has_a_hint_even_if_raised_without_one() -> None:
    error = BuilderError("field name 'select' is an SQL reserved word", code="invalid_spec")
    assert error.hint is not None and "field language" in error.hint
    assert BuilderError("x", code="invalid_spec", hint="mine").hint == "mine"
    assert BuilderError("x").hint is None
