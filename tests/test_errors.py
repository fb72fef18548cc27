"""Structured errors: a stable code, a message, and only the keys that apply."""

from backend_builder.errors import BuilderError


def test_an_error_without_structure_still_works() -> None:
    error = BuilderError("something broke", hint="try again")
    assert str(error) == "something broke"
    assert error.to_dict() == {"code": "error", "message": "something broke", "hint": "try again"}


def test_an_error_names_what_it_is_about() -> None:
    error = BuilderError(
        "bad field",
        code="invalid_spec",
        token="name:strng",
        field="name",
        resource="Asset",
        details={"suggestion": "str"},
    )
    assert error.to_dict() == {
        "code": "invalid_spec",
        "message": "bad field",
        "token": "name:strng",
        "field": "name",
        "resource": "Asset",
        "details": {"suggestion": "str"},
    }
