"""MkDocs hooks for the attnflow site (loaded by mkdocs.yml).

attnflow's docstrings are plain text with mathematics: inner products are written
``<x_i, x_j>``. Markdown reads such text as an inline HTML tag and drops it from the page. The docs
use no inline HTML, so the inline-HTML pattern is turned off: ``<...>`` in a docstring or a page is
shown as written. Block HTML (a comment on its own lines) still works.
"""

from __future__ import annotations

from markdown import Extension, Markdown
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority


class PlainAngleBrackets(Extension):
    """Show ``<a, b>`` as text instead of parsing it as an inline HTML tag."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.inlinePatterns.deregister("html", strict=False)


@event_priority(100)  # before mkdocstrings reads the extension list for its docstring renderer
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    config.markdown_extensions.append(PlainAngleBrackets())
    return config
