"""The layering of docs/architecture.md, checked on the imports of every module: the domain
imports only the domain, ports only the domain, use cases neither the edge nor an adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "pagesage"

DOMAIN = {"domain", "text", "book.domain", "errors"}
ALLOWED = {
    "domain": DOMAIN,
    "text": DOMAIN,
    "book.domain": DOMAIN,
    "ports": DOMAIN,
    "book.ports": DOMAIN,
}
FORBIDDEN_TO_USE_CASES = {"api", "book.api", "web", "server", "cli", "adapters", "book.adapters", "engines", "bootstrap",
                          "client"}


def layer(module: str) -> str | None:
    """`pagesage.book.domain.model` -> `book.domain`; `pagesage.services.x` -> `services`."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    return f"book.{parts[1]}" if parts[0] == "book" and len(parts) > 1 else parts[0]


def imports() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "pagesage." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pagesage."):
                found.append((module, node.module))
            elif isinstance(node, ast.Import):
                found += [(module, alias.name) for alias in node.names if alias.name.startswith("pagesage.")]
    return found


IMPORTS = imports()


def test_the_imports_were_read():
    assert len(IMPORTS) > 300 and ("pagesage.services.page_stages", "pagesage.domain.tokens") in IMPORTS


@pytest.mark.parametrize("inner", sorted(ALLOWED))
def test_inner_layers_import_only_the_domain(inner):
    wrong = [(m, i) for m, i in IMPORTS if layer(m) == inner and layer(i) not in ALLOWED[inner]]
    assert wrong == []


@pytest.mark.parametrize("use_cases", ["services", "book.services"])
def test_use_cases_import_neither_the_edge_nor_an_adapter(use_cases):
    wrong = [(m, i) for m, i in IMPORTS if layer(m) == use_cases and layer(i) in FORBIDDEN_TO_USE_CASES]
    assert wrong == []
