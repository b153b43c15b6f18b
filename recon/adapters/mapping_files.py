"""Reading a mapping file, YAML (`.yaml`, `.yml`) or TOML (`.toml`), into a validated `Mapping`.
Every problem is reported with the file and line: YAML's parser keeps each node's line, so a
problem names the line of the key it concerns; TOML's parser (`tomllib`) keeps none, so a syntax
error names the line it reports and a validation problem the line of the deepest table header or
key assignment along its path that the file's text shows (`toml_lines.py`)."""

import re
import tomllib
from pathlib import Path

import yaml
from pydantic import ValidationError

from recon.adapters.mapping import Mapping
from recon.adapters.toml_lines import toml_line_of

SUFFIXES = (".yaml", ".yml", ".toml")


class MappingError(ValueError):
    """A mapping file that does not validate; the message names the file and line of each
    problem."""


def load_mapping(path: Path) -> Mapping:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return _load_toml(path, text)
    return _load_yaml(path, text)


def _load_yaml(path: Path, text: str) -> Mapping:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise MappingError(f"{path}{line}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise MappingError(f"{path}:1: a mapping file is a YAML mapping of keys")
    return _validated(path, data, lambda loc: _yaml_line_of(root, loc))


# tomllib ends its messages with where it stopped: "... (at line 3, column 9)".
_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)$")


def _load_toml(path: Path, text: str) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        at = _TOML_AT.search(str(error))
        line = f":{at.group(1)}" if at else ""
        raise MappingError(f"{path}{line}: not valid TOML: {error}") from error
    return _validated(path, data, lambda loc: toml_line_of(text, [_alias(p) for p in loc]))


def _validated(path: Path, data: dict, line_of) -> Mapping:
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            loc, message = _located(problem)
            shown = ".".join(map(str, loc)) or "(top)"
            problems.append(f"{path}:{line_of(loc)}: {shown}: {message}")
        raise MappingError("\n".join(problems)) from None


# The mapping's own checks say where the problem is: `columns.kind: ...`.
_PATH_PREFIX = re.compile(r"Value error, ([a-z_]+(?:\.[^:\s]+)?): (.*)", re.DOTALL)


def _located(problem: dict) -> tuple[tuple, str]:
    """A pydantic error's location and message; a whole-mapping check (no location of its own)
    is located by the path its message starts with."""
    match = _PATH_PREFIX.fullmatch(problem["msg"])
    if problem["loc"] == () and match:
        return tuple(match.group(1).split(".")), match.group(2)
    return problem["loc"], problem["msg"].removeprefix("Value error, ")


def _yaml_line_of(node: yaml.Node | None, loc: tuple) -> int:
    """The 1-based line of the deepest YAML node along a pydantic error location (a model's own
    check points at the model; a missing key at the mapping that lacks it)."""
    line = node.start_mark.line + 1 if node else 1
    for part in loc:
        # A key's line, not its value's: `columns:` rather than the first column below it.
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == _alias(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            pair = (node.value[part], node.value[part]) if part < len(node.value) else None
        else:
            pair = None
        if pair is None:
            break
        line, node = pair[0].start_mark.line + 1, pair[1]
    return line


def _alias(part: object) -> object:
    # Field names pydantic reports for keys spelled differently in the file.
    return {"from_": "from", "in_": "in", "else_": "else"}.get(part, part)
