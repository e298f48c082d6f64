"""Griffe extensions for the API pages (loaded by mkdocs.yml).

SharedParameters: Google-style entries that document several names at once.

attnflow's docstrings document parameters that share one meaning on one line, as in

    Args:
        query, key: (k, d) matrices Q, K; identity when omitted.

Griffe's Google parser reads ``query, key`` as one parameter name, then warns that it has no
annotation and is not in the signature (an error under ``mkdocs build --strict``). This extension
rewrites such an entry, before the docstring is parsed, into one entry per name with the shared
description, so each name is checked against the signature and rendered with its annotation.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Module, Object

SECTION = re.compile(
    r"^(?P<indent>\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments"
    r"|Other Parameters|Attributes):\s*$"
)
SHARED_ENTRY = re.compile(
    r"^(?P<indent>\s*)(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)+)(?P<rest>\s*(?:\([^)]*\))?:.*)$"
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_shared_entries(text: str) -> str:
    """Return ``text`` with every ``a, b: meaning`` entry of a parameter-like section split into
    ``a: meaning`` and ``b: meaning`` (continuation lines repeated under each name)."""
    lines = text.split("\n")
    out: list[str] = []
    section_indent: int | None = None
    item_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        header = SECTION.match(line)
        if header:
            section_indent, item_indent = len(header["indent"]), None
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip():
            if _indent(line) <= section_indent:
                section_indent = None
            elif item_indent is None:
                item_indent = _indent(line)
        entry = SHARED_ENTRY.match(line) if section_indent is not None else None
        if entry is None or _indent(line) != item_indent:
            out.append(line)
            i += 1
            continue
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > item_indent):
            end += 1
        while end > i + 1 and not lines[end - 1].strip():
            end -= 1
        for name in (n.strip() for n in entry["names"].split(",")):
            out.append(f"{entry['indent']}{name}{entry['rest']}")
            out.extend(lines[i + 1 : end])
        i = end
    return "\n".join(out)


class SharedParameters(Extension):
    """Split ``a, b: meaning`` docstring entries into one entry per name (see the module)."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None and "," in obj.docstring.value:
            obj.docstring.value = split_shared_entries(obj.docstring.value)


class HideDunderAll(Extension):
    """Leave ``__all__`` out of the rendered members of a module.

    The API pages render a package with ``members: true`` so that every name it exports shows,
    documented or not (constants such as ``solvers.METHODS`` carry no docstring of their own);
    that option also keeps ``__all__`` itself, which only repeats the list. Griffe has already read
    the exports from it when this runs.
    """

    def on_module_members(self, *, mod: Module, **kwargs: Any) -> None:
        if "__all__" in mod.members:
            mod.del_member("__all__")
