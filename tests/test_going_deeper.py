"""The "Going deeper" transform (book/_ext/going_deeper.py) on tiny docutils trees: no build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml
from docutils import nodes
from docutils.core import publish_doctree

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "going_deeper", ROOT / "book" / "_ext" / "going_deeper.py"
)
assert _spec is not None and _spec.loader is not None
going_deeper = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(going_deeper)

RST = """
Chapter
=======

Core text.

Core section
------------

Core paragraph.

Going deeper: the Hessian
-------------------------

Deep paragraph one.

Deep sub-section
~~~~~~~~~~~~~~~~

Deep paragraph two.

Exercises
---------

Exercise text.
"""


def _sections(tree: nodes.Node) -> dict[str, nodes.section]:
    return {s[0].astext(): s for s in tree.findall(nodes.section)}


def test_only_the_going_deeper_section_is_folded() -> None:
    tree = publish_doctree(RST)
    assert going_deeper.fold_going_deeper(tree) == 1
    sections = _sections(tree)
    deep = sections["Going deeper: the Hessian"]
    assert "going-deeper" in deep["classes"]
    # the title stays outside, everything else (sub-sections too) goes into one toggle
    assert isinstance(deep[0], nodes.title) and len(deep.children) == 2
    body = deep[1]
    assert isinstance(body, nodes.container) and "toggle" in body["classes"]
    assert "Deep paragraph one." in body.astext() and "Deep paragraph two." in body.astext()
    for name in ("Core section", "Exercises"):
        assert "going-deeper" not in sections[name]["classes"]
        assert not list(sections[name].findall(nodes.container))
    assert "Exercise text." not in body.astext()


def test_folding_twice_changes_nothing() -> None:
    tree = publish_doctree(RST)
    going_deeper.fold_going_deeper(tree)
    before = tree.pformat()
    assert going_deeper.fold_going_deeper(tree) == 0
    assert tree.pformat() == before


def test_title_match_is_a_prefix_and_ignores_case() -> None:
    tree = publish_doctree(RST.replace("Going deeper: the Hessian", "GOING DEEPER - Hessian "))
    assert going_deeper.fold_going_deeper(tree) == 1
    tree = publish_doctree(RST.replace("Going deeper: the Hessian", "Not going deeper here   "))
    assert going_deeper.fold_going_deeper(tree) == 0


def test_the_chinese_heading_folds_too() -> None:
    """The Chinese catalogs translate "Going deeper:" as "深入一步：" (CONTRIBUTING.md)."""
    title = "深入一步：海森矩阵"
    tree = publish_doctree(RST.replace("Going deeper: the Hessian", title))
    assert going_deeper.fold_going_deeper(tree) == 1
    assert "going-deeper" in _sections(tree)[title]["classes"]


def test_extension_is_registered() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"].get("going_deeper") == "book/_ext"


def test_glossary_terms_with_math_resolve_without_dollars() -> None:
    spec = importlib.util.spec_from_file_location(
        "glossary_terms", ROOT / "book" / "_ext" / "glossary_terms.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    key = module.term_key(r"Affine parameters ($\gamma$,  $\beta$)")
    assert key == r"affine parameters (\gamma, \beta)"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"].get("glossary_terms") == "book/_ext"
