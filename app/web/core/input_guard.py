"""Input no view should ever see, refused before any view runs (a clear 400/422, never a 500).

- Query strings and form bodies: no control characters except tab and line breaks (NUL, ESC,
  DEL, C1 ...); single-line fields refuse line breaks too, in `CheckedForm`.
- JSON bodies: not nested deeper than `MAX_JSON_DEPTH` (checked on the raw text, before parsing),
  and no control character in any string, key or value; refused per top-level field.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

from app.platform.validation import CONTROL_CHARACTERS_MESSAGE, control_character_error, single_line

MAX_JSON_DEPTH = 32


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets outside strings nest deeper than `limit` (no parsing, no recursion)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def json_control_errors(data) -> dict[str, list[str]]:
    """Per top-level field, a message when a string inside it holds control characters."""
    if not isinstance(data, dict):
        return {"body": [CONTROL_CHARACTERS_MESSAGE]} if any(control_character_error(s) for s in _strings(data)) else {}
    errors = {}
    for key, value in data.items():
        if any(control_character_error(text) for text in _strings(value)) or control_character_error(key):
            errors[str(key)[:100]] = [CONTROL_CHARACTERS_MESSAGE]
    return errors


def _bad_text(values) -> str | None:
    for name, value in values.items(multi=True):
        if control_character_error(name) or control_character_error(value, multiline=True):
            return name
    return None


def install(app: Flask) -> None:
    from app.web.core.errors import render_error

    @app.before_request
    def refuse_bad_input():
        if _bad_text(request.args) is not None:
            return render_error(400, "The address holds control characters.")
        if request.is_json:
            raw = request.get_data(cache=True)
            if json_depth_exceeds(raw):
                return render_error(400, f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
            data = request.get_json(silent=True)
            errors = json_control_errors(data) if data is not None else {}
            if errors:
                return jsonify({"error": "Invalid input.", "errors": errors}), 422
            return None
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            field = _bad_text(request.form)
            if field is None:
                field = next((name for name, f in request.files.items(multi=True) if _has_bad_name(f)), None)
            if field is not None:
                return render_error(422, f"The field “{single_line(field)[:60]}” holds control characters.")
        return None


def _has_bad_name(upload) -> bool:
    return bool(upload.filename) and control_character_error(upload.filename) is not None
