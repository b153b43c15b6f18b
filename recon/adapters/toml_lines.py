"""Where a key is in a TOML file's text. `tomllib` returns plain dicts without positions, so a
problem's line is found from the text: each table header (`[columns.kind]`, `[[filter]]`) and each
key assignment (`kind = ...`, `columns.kind.const = ...`) is a path, and a problem is placed on the
line of the longest such path its location starts with. Inside an inline table or a multi-line
array the line is that of the key holding it (`filter = [` for `filter.1.in`)."""

import re

_SEGMENT = r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+'
_KEY = rf"(?:{_SEGMENT})(?:\s*\.\s*(?:{_SEGMENT}))*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_KEY})\s*\]")
_ASSIGNMENT = re.compile(rf"\s*({_KEY})\s*=")


def _parts(key: str) -> list[str]:
    return [p[1:-1] if p[0] in "\"'" else p for p in re.findall(_SEGMENT, key)]


def key_lines(text: str) -> list[tuple[list, int]]:
    """(path, 1-based line) of every table header and key assignment, in file order; an array
    of tables' entries are numbered as pydantic numbers them (`filter.0`, `filter.1`)."""
    found: list[tuple[list, int]] = []
    table: list = []
    arrays: dict[tuple, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            name = tuple(_parts(match[1]))
            arrays[name] = arrays.get(name, -1) + 1
            table = [*name, arrays[name]]
        elif match := _TABLE_HEADER.match(line):
            table = _parts(match[1])
        elif match := _ASSIGNMENT.match(line):
            found.append(([*table, *_parts(match[1])], number))
            continue
        else:
            continue
        found.append((list(table), number))
    return found


def toml_line_of(text: str, loc: list) -> int:
    """The line of the deepest key along `loc` (a pydantic error location); 1 if none is."""
    best, line = 0, 1
    for path, number in key_lines(text):
        if len(path) > best and list(loc[: len(path)]) == path:
            best, line = len(path), number
    return line
