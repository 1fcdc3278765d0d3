"""YAML read with line numbers: rule packs, check definitions and signal files are all read this way, so
that every error names file:line (PackError). A key written twice in one mapping is an error, not a silent
overwrite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LINE = "__line__"  # each mapping's own line, 1-based
_KEY_LINES = "__key_lines__"  # each mapping's keys' lines


class PackError(ValueError):
    """A rule pack that cannot be used: names the file, line and rule id."""

    def __init__(self, file: str | Path, line: int | None, rule_id: str | None, message: str):
        self.file = str(file)
        self.line = line
        self.rule_id = rule_id
        self.message = message
        where = f"{self.file}:{line}" if line else self.file
        rule = f" rule {rule_id!r}:" if rule_id else ""
        super().__init__(f"{where}:{rule} {message}")


class _LineLoader(yaml.SafeLoader):
    """Safe loader that records each mapping's line (1-based) under a private key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    # YAML keeps the last of two equal keys: `keywords:` written twice would silently drop the first list.
    key_lines: dict[Any, int] = {}
    for key in (k for k, _ in node.value if isinstance(k, yaml.ScalarNode)):
        if key.value in key_lines:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key.value!r} (first at line {key_lines[key.value]})", key.start_mark)
        key_lines[key.value] = key.start_mark.line + 1
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    mapping[_KEY_LINES] = key_lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, what: str = "a pack must be a mapping with id, title, category, legal_basis, rules") -> dict:
    """A YAML mapping with line numbers recorded (see _LineLoader); PackError if unreadable or not a mapping."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # the problem alone: str(exc) adds a quoted snippet over several lines, and the line is in the PackError
        problem = " ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None)))) or str(exc)
        raise PackError(path, mark.line + 1 if mark else None, None, f"invalid YAML: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(path, None, None, f"cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise PackError(path, 1, None, what)
    return data
