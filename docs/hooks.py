"""MkDocs hooks for the attnflow site (loaded by mkdocs.yml).

1. attnflow's docstrings are plain text with mathematics: inner products are written
   ``<x_i, x_j>``. Markdown reads such text as an inline HTML tag and drops it from the page. The
   docs use no inline HTML, so the inline-HTML pattern is turned off: ``<...>`` in a docstring or
   a page is shown as written. Block HTML (a comment on its own lines) still works.
2. A package that re-exports a function under the name of the submodule defining it
   (``from solvers.integrate import integrate``, ``from scenarios.NAME.simulate import simulate``)
   is read by griffe with the submodule under that name, not the function
   (mkdocstrings/griffe#124), so ``::: package`` would leave the function out. For each
   ``::: package`` block of a page, every such export is rendered after the block by its own
   ``::: package.name.name`` block, one heading level below the package.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import griffe
from markdown import Extension, Markdown
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

# A `::: identifier` line and the indented option lines under it.
DIRECTIVE = re.compile(r"^::: (?P<identifier>[\w.]+)[ \t]*\n(?P<options>(?:[ \t]+\S.*\n?)*)", re.M)
HEADING_LEVEL = re.compile(r"^\s+heading_level:\s*(\d+)\s*$", re.M)


class PlainAngleBrackets(Extension):
    """Show ``<a, b>`` as text instead of parsing it as an inline HTML tag."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.inlinePatterns.deregister("html", strict=False)


@event_priority(100)  # before mkdocstrings reads the extension list for its docstring renderer
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(PlainAngleBrackets())
    return config


@cache
def _package(name: str, root: str) -> griffe.Module:
    return griffe.GriffeLoader(search_paths=[root]).load(name)


def shadowed_exports(identifier: str, root: str) -> list[str]:
    """The names exported by module ``identifier`` that griffe sees as a submodule of the same
    name defining that object (their object's path is ``identifier.name.name``)."""
    top, _, rest = identifier.partition(".")
    try:
        module = _package(top, root)
        module = module.get_member(rest) if rest else module
    except (KeyError, ImportError, griffe.AliasResolutionError):  # mkdocstrings reports it
        return []
    if not module.is_module:
        return []
    names = []
    for name in module.exports or ():
        member = module.members.get(name)
        if member is None or member.is_alias:
            continue
        if member.is_module and name in member.members:
            names.append(name)
    return names


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, **kwargs: object) -> str:
    root = str(Path(config.config_file_path).parent)
    default_level = (
        config.plugins["mkdocstrings"].config.handlers.get("python", {}).get("options", {})
    ).get("heading_level", 2)

    def add_shadowed(match: re.Match[str]) -> str:
        block = match.group(0)
        names = shadowed_exports(match["identifier"], root)
        if not names:
            return block
        level = HEADING_LEVEL.search(match["options"])
        member_level = (int(level.group(1)) if level else default_level) + 1
        extra = [
            f"\n::: {match['identifier']}.{name}.{name}\n    options:\n"
            f"      heading_level: {member_level}\n      show_root_full_path: false\n"
            for name in names
        ]
        return block.rstrip("\n") + "\n" + "".join(extra)

    return DIRECTIVE.sub(add_shadowed, markdown)
