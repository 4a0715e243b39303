"""The check engine: run your function on seeded cases, compare, diagnose, print one verdict.

A :class:`Checker` is data: its cases, the torch reference, the correct :class:`Recipe`
and the catalogued mistakes. :func:`run_check` does the same for every checker.
Everything it prints is deterministic: shapes, names and hints, never a round-off size.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from normhelpers.exercises.recipes import Recipe

RTOL, ATOL = 1e-4, 1e-4  # float32 round-off of any sensible formula is far below this


@dataclass(frozen=True)
class CheckResult:
    """What a ``check_*`` function found. Truthy when your function passed.

    Example:

    >>> from normhelpers.exercises import check_rms_norm
    >>> F = torch.nn.functional
    >>> result = check_rms_norm(lambda x, w, eps: F.rms_norm(x, w.shape, w, eps))
    ... # doctest: +ELLIPSIS
    ✓ ...
    >>> bool(result), result.mistake
    (True, None)
    """

    name: str
    passed: bool
    message: str
    mistake: str | None = None  # the diagnosed classic mistake, if any

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Already printed by the checker: show nothing more at the end of a notebook cell."""


@dataclass(frozen=True)
class Case:
    """One input: the arguments your function is called with, described in words.

    note: a tip printed when your function fails on this case (e.g. weight is None here).
    """

    args: tuple
    describe: str
    shape: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True)
class Mistake:
    """A classic mistake: a short name, a hint in words, and the recipe fields it changes."""

    name: str
    hint: str
    changes: Mapping[str, Any]

    def recipe(self, reference: Recipe) -> Recipe:
        """The correct recipe with this mistake's fields changed."""
        return replace(reference, **self.changes)


@dataclass(frozen=True)
class Checker:
    """Everything one ``check_*`` function needs.

    expected(*args): torch's output. compute(recipe, *args): the output of a recipe on the
    same arguments. outputs: the names of the outputs (one tensor, or a tuple of them).
    covers: what the inputs include besides their shapes, in words (may be empty).
    summary: the correct recipe in words, shown when no catalogued mistake matches.
    """

    title: str
    reference: str
    cases: Sequence[Case]
    expected: Callable[..., object]
    recipe: Recipe
    compute: Callable[..., object]
    mistakes: Sequence[Mistake]
    summary: str
    outputs: tuple[str, ...] = ("y",)
    covers: str = ""


def _fmt_shape(shape: Sequence[int]) -> str:
    """(2, 3, 4) as Python writes a tuple, (3,) for one dim."""
    return str(tuple(int(s) for s in shape))


def _wrap(text: str, first: str = "") -> str:
    """Wrap at 88 characters, continuation lines indented by two spaces (readable in a notebook)."""
    glued = re.sub(r"\([0-9, ]*\)", lambda m: m.group(0).replace(" ", "\u00a0"), text)
    wrapped = textwrap.fill(glued, width=88, initial_indent=first, subsequent_indent="  ")
    return wrapped.replace("\u00a0", " ")  # never split a shape such as (2, 3, 4)


def _clone(args: tuple) -> tuple:
    """Fresh copies of the tensor arguments, so an in-place function cannot change our inputs."""
    return tuple(a.clone() if isinstance(a, Tensor) else a for a in args)


def _as_tensors(out: object, n_outputs: int) -> tuple[Tensor, ...] | None:
    """A result as a tuple of float64 tensors; None when it is not (a tuple of) tensors."""
    items: Sequence[object]
    if n_outputs == 1:
        items = (out,)
    elif isinstance(out, (tuple, list)) and len(out) == n_outputs:
        items = out
    else:
        return None
    if not all(isinstance(item, Tensor) for item in items):
        return None
    return tuple(item.detach().double() for item in items if isinstance(item, Tensor))


def _reference(checker: Checker, case: Case) -> tuple[Tensor, ...]:
    """torch's outputs for one case, as float64 tensors."""
    want = _as_tensors(checker.expected(*_clone(case.args)), len(checker.outputs))
    if want is None:
        raise TypeError(f"{checker.title}: the reference did not return tensors")
    return want


def _close(a: tuple[Tensor, ...], b: tuple[Tensor, ...]) -> bool:
    return all(
        x.shape == y.shape and bool(torch.allclose(x, y, rtol=RTOL, atol=ATOL))
        for x, y in zip(a, b, strict=True)
    )


def _wanted(want: tuple[Tensor, ...], names: Sequence[str]) -> str:
    """What the result should be, in words: 'a tensor of shape (4, 3)' or a tuple of them."""
    if len(want) == 1:
        return f"a tensor of shape {_fmt_shape(want[0].shape)}"
    parts = " and ".join(
        f"{n} of shape {_fmt_shape(w.shape)}" for n, w in zip(names, want, strict=True)
    )
    return f"a tuple ({', '.join(names)}): {parts}"


def _problem(
    checker: Checker,
    fn: Callable,
    case: Case,
    want: tuple[Tensor, ...],
) -> str | tuple[Tensor, ...]:
    """Run ``fn`` on one case: its outputs, or a one-paragraph message saying what went wrong."""
    head = f"✗ {checker.title}: for {case.describe} your function"
    should = f"It should return {_wanted(want, checker.outputs)}."
    try:
        out = fn(*_clone(case.args))
    except NotImplementedError as err:
        said = f" ({_first_line(err)})" if _first_line(err) else ""
        return (
            f"{head} raised NotImplementedError{said}: it is not written yet. Replace the "
            f"raise with your code. {should}"
        )
    except Exception as err:
        tip = case.note or (
            "It must work for every input this check tries; look at how your tensors broadcast."
        )
        return f"{head} raised {type(err).__name__}: {_first_line(err)}. {tip}"
    if out is None or out is Ellipsis:
        return (
            f"{head} returned {out}: is its body still `...` or `pass`, or is the `return` "
            f"missing? {should}"
        )
    got = _as_tensors(out, len(want))
    if got is None:
        return f"{head} returned an object of type {type(out).__name__}. {should}"
    for g, w, name in zip(got, want, checker.outputs, strict=True):
        if g.shape != w.shape:
            what = f"{name} of shape" if len(want) > 1 else "a tensor of shape"
            return f"{head} returned {what} {_fmt_shape(g.shape)}. {should}"
    return got


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def _difference(got: tuple[Tensor, ...], want: tuple[Tensor, ...], names: Sequence[str]) -> str:
    """Where the first output differs, in words (no round-off sizes: they depend on the machine)."""
    for g, w, name in zip(got, want, names, strict=True):
        where = f" in {name}" if len(names) > 1 else ""
        if not bool(torch.isfinite(g).all()):
            return f"the result{where} contains nan or inf (a division by zero?)"
        far = ~torch.isclose(g, w, rtol=RTOL, atol=ATOL)
        if bool(far.any()):
            index = tuple(int(i) for i in far.nonzero()[0])
            return f"the values{where} differ, the first one at index {_fmt_shape(index)}"
    return "no difference"


def _diagnose(checker: Checker, got: list[tuple[Tensor, ...]]) -> Mistake | None:
    """The first catalogued mistake that reproduces your output on every case, if any."""
    n_out = len(checker.outputs)
    for mistake in checker.mistakes:
        wrong = mistake.recipe(checker.recipe)
        try:
            outs = [
                _as_tensors(checker.compute(wrong, *_clone(c.args)), n_out) for c in checker.cases
            ]
        except Exception:  # this mistake cannot even run on these inputs
            continue
        if all(o is not None and _close(g, o) for g, o in zip(got, outs, strict=True)):
            return mistake
    return None


def _verdict(
    title: str,
    passed: bool,
    lines: Sequence[str],
    mistake: str | None = None,
) -> CheckResult:
    msg = "\n".join(lines)
    print(msg)
    return CheckResult(title, passed, msg, mistake)


def run_check(checker: Checker, fn: Callable) -> CheckResult:
    """Call ``fn`` on every case of ``checker``, compare with torch, diagnose, print, return.

    A function that raises, returns nothing or returns the wrong shape gets one paragraph
    saying so; one whose values differ gets the first difference and, when a catalogued
    mistake reproduces its output on every case, the mistake's name and hint.
    """
    cases = checker.cases
    want = [_reference(checker, c) for c in cases]
    got: list[tuple[Tensor, ...]] = []
    for case, w in zip(cases, want, strict=True):
        outcome = _problem(checker, fn, case, w)
        if isinstance(outcome, str):
            return _verdict(checker.title, False, [_wrap(" ".join(outcome.split()))])
        got.append(outcome)
    bad = [i for i in range(len(cases)) if not _close(got[i], want[i])]
    shapes = ", ".join(_fmt_shape(c.shape) for c in cases)
    covers = f" ({checker.covers})" if checker.covers else ""
    if not bad:
        return _verdict(
            checker.title,
            True,
            [
                _wrap(
                    f"✓ {checker.title}: your function matches {checker.reference} on all "
                    f"{len(cases)} inputs: {shapes}{covers}."
                )
            ],
        )
    first = bad[0]
    lines = [
        _wrap(
            f"✗ {checker.title}: your function differs from {checker.reference} on "
            f"{len(bad)} of {len(cases)} inputs."
        ),
        _wrap(
            f"First difference: {cases[first].describe}: "
            f"{_difference(got[first], want[first], checker.outputs)}.",
            first="  ",
        ),
    ]
    mistake = _diagnose(checker, got)
    if mistake is not None:
        lines.append(_wrap(f"Diagnosis: {mistake.name}. {mistake.hint}", first="  "))
    else:
        lines.append(
            _wrap("This is not one of the classic mistakes I know. " + checker.summary, first="  ")
        )
    return _verdict(checker.title, False, lines, mistake.name if mistake else None)
