"""The Graph API's ``fields`` parameter: a list of fields with modifiers and sub-fields.

``id,message,reactions.summary(total_count).limit(0),picture{url},replies{id,text}`` parses
into ``Field`` objects; the platform module decides what each one means on each node type.
A syntax error is reported the way the Graph API reports it (code 2500).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODIFIER = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\(([^(){}]*)\)")


class FieldSyntaxError(ValueError):
    """The ``fields`` value does not parse; ``message`` is the Graph API's wording."""

    def __init__(self, text: str, position: int) -> None:
        found = repr(text[position]) if position < len(text) else "end of string"
        self.message = f'Syntax error "Unexpected {found}." at character {position}: {text}'
        super().__init__(self.message)


@dataclass(frozen=True)
class Field:
    name: str
    modifiers: tuple[tuple[str, str], ...] = ()
    children: tuple[Field, ...] | None = None

    def modifier(self, name: str) -> str | None:
        return next((value for key, value in self.modifiers if key == name), None)


def field_text(fields: tuple[Field, ...]) -> str:
    """The ``fields`` value that parses into ``fields`` (the inverse of ``parse_fields``)."""
    return ",".join(
        field.name
        + "".join(f".{name}({value})" for name, value in field.modifiers)
        + ("" if field.children is None else "{" + field_text(field.children) + "}")
        for field in fields
    )


def parse_fields(text: str) -> tuple[Field, ...]:
    """The fields of a ``fields`` parameter (spaces are ignored, as the Graph API does)."""
    compact = re.sub(r"\s+", "", text)
    fields, position = _parse_list(compact, 0, closing=None)
    if position != len(compact):
        raise FieldSyntaxError(compact, position)
    return fields


def _parse_list(text: str, position: int, closing: str | None) -> tuple[tuple[Field, ...], int]:
    fields: list[Field] = []
    while True:
        field, position = _parse_field(text, position)
        fields.append(field)
        if position >= len(text):
            if closing is not None:
                raise FieldSyntaxError(text, position)
            return tuple(fields), position
        if text[position] == ",":
            position += 1
        elif closing is not None and text[position] == closing:
            return tuple(fields), position + 1
        else:
            raise FieldSyntaxError(text, position)


def _parse_field(text: str, position: int) -> tuple[Field, int]:
    name = _NAME.match(text, position)
    if name is None:
        raise FieldSyntaxError(text, position)
    position = name.end()
    modifiers: list[tuple[str, str]] = []
    while position < len(text) and text[position] == ".":
        modifier = _MODIFIER.match(text, position)
        if modifier is None:
            raise FieldSyntaxError(text, position + 1)
        modifiers.append((modifier.group(1), modifier.group(2)))
        position = modifier.end()
    children = None
    if position < len(text) and text[position] == "{":
        children, position = _parse_list(text, position + 1, closing="}")
    return Field(name.group(), tuple(modifiers), children), position
