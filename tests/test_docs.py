"""The API reference site builds with warnings as errors and lists every exported name.

``mkdocs build --strict`` fails on a broken ``:::`` reference, a docstring griffe cannot parse,
an unresolved cross-reference or a link to a missing page, so a change that breaks the docs
fails here.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_EXTRA = {
    "mkdocs": "mkdocs",
    "mkdocstrings_handlers.python": "mkdocstrings-python",
    "material": "mkdocs-material",
}
# Package whose exports an API page renders, and that page.
API_PAGES = {
    "dynamics": "api/dynamics/index.html",
    "solvers": "api/solvers/index.html",
    "scenarios.harness": "api/scenarios/index.html",
}
MAX_IMAGE_BYTES = 150_000


def _missing_docs_packages() -> list[str]:
    missing = []
    for module, dist in DOCS_EXTRA.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(dist)
    return missing


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once by ``mkdocs build --strict`` into a temporary directory."""
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"docs extra not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # material's banner about MkDocs 2.0
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return site_dir


def _anchors(page: Path) -> set[str]:
    return set(re.findall(r'id="([\w.]+)"', page.read_text(encoding="utf-8")))


def _rendered(anchors: set[str], package: str, name: str) -> bool:
    """``package.name`` has an entry, or ``package.name.name``: griffe files a function under
    its own path when the package's submodule of that name shadows it (docs/hooks.py)."""
    return f"{package}.{name}" in anchors or f"{package}.{name}.{name}" in anchors


@pytest.mark.parametrize(
    ("package", "names"),
    [
        ("dynamics", ["SelfAttention", "Accelerated", "cluster_count"]),
        ("solvers", ["integrate", "METHODS"]),
        ("scenarios.harness", ["Scenario", "run_scenario", "ScenarioConfig"]),
    ],
)
def test_api_pages_show_key_names(site: Path, package: str, names: list[str]):
    anchors = _anchors(site / API_PAGES[package])
    assert [name for name in names if not _rendered(anchors, package, name)] == []


@pytest.mark.parametrize("package", sorted(API_PAGES))
def test_api_page_lists_every_export(site: Path, package: str):
    """Each name in the package's ``__all__`` has an entry on its page."""
    anchors = _anchors(site / API_PAGES[package])
    exports = importlib.import_module(package).__all__
    missing = [name for name in exports if not _rendered(anchors, package, name)]
    assert not missing, f"{API_PAGES[package]} does not render {missing}"


def test_inner_products_are_shown_as_text(site: Path):
    """``<x_i, x_j>`` in a docstring stays on the page instead of being read as an HTML tag."""
    assert "&lt;x_i, x_j&gt;" in (site / API_PAGES["dynamics"]).read_text(encoding="utf-8")


def test_scenario_images_are_small():
    images = sorted((ROOT / "docs" / "scenarios" / "img").glob("*.png"))
    assert images
    sizes = {image.name: image.stat().st_size for image in images}
    large = {name: size for name, size in sizes.items() if size >= MAX_IMAGE_BYTES}
    assert not large, f"images of {MAX_IMAGE_BYTES} B or more: {large}"
