"""Jinja's filters, str methods, loops and joins, each checked against the render's budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from time import monotonic
from types import GeneratorType
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import Context as JinjaContext
from jinja2.runtime import markup_join, str_join
from jinja2.utils import _PassArg, pass_context
from markupsafe import Markup, escape

from bopo.domain.templating.budget import (
    _BUDGET,
    MAX_RANGE,
    RenderLimitError,
    _arg,
    _Budget,
    _budget,
    _check_format_spec,
    _check_printf,
    _replace_bound,
    _width,
)


# Checks made before a filter runs, on its arguments (the value first), for the filters
# whose result can be much bigger than their input. Every filter's result is checked after.
def _pre_center(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    b.size(_width(_arg(a, k, 1, "width", 80)))


def _pre_indent(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    s = a[0] if a and isinstance(a[0], str) else ""
    b.size(len(s) + (s.count("\n") + 2) * _width(_arg(a, k, 1, "width", 4)))


def _pre_format(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    _check_printf(b, a[0] if a else None)


def _pre_replace(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    s = a[0] if a else None
    old, new = _arg(a, k, 1, "old", ""), _arg(a, k, 2, "new", "")
    b.size(
        _replace_bound(
            str(s) if s is not None else "", str(old), str(new), _arg(a, k, 3, "count", None)
        )
    )


def _pre_wordwrap(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    s = a[0] if a and isinstance(a[0], str) else ""
    width = _arg(a, k, 1, "width", 79)
    wrap = _arg(a, k, 3, "wrapstring", None) or "\n"
    lines = len(s) // max(width if isinstance(width, int) else 1, 1) + s.count("\n") + 1
    b.size(len(s) + lines * _width(wrap))


def _pre_batch_or_slice(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    b.size(_width(a[1] if len(a) > 1 else 0))


def _pre_urlize(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    s = str(a[0]) if a else ""
    extra = sum(_width(_arg(a, k, i, n, None) or "") for i, n in ((3, "target"), (4, "rel")))
    b.size(len(s) * 3 + (len(s.split()) + 1) * (extra + 60))


def _pre_tojson(b: _Budget, a: Sequence[Any], k: Mapping[str, Any]) -> None:
    indent = _width(_arg(a, k, 1, "indent", None) or 0)
    if indent > 16:
        raise RenderLimitError("tojson: an indent of at most 16")


_FILTER_CHECKS: Mapping[str, Callable[[_Budget, Sequence[Any], Mapping[str, Any]], None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "format": _pre_format,
    "replace": _pre_replace,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_batch_or_slice,
    "slice": _pre_batch_or_slice,
    "urlize": _pre_urlize,
    "tojson": _pre_tojson,
}


# What a filter is mostly given: none of them an iterator (isinstance would ask the ABC).
_NOT_ITERATORS = frozenset({str, Markup, int, float, bool, type(None), list, tuple, dict, date})


def _bounded_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """A filter checked against the render's budget: the deadline, its arguments where they
    can make something huge, iterators consumed one item at a time, and its result."""
    if getattr(f, "jinja_async_variant", False):
        # Jinja's dispatch between the sync and async filter, made on every call: these
        # environments are never async, so the sync one (whose arguments it takes).
        f = f.__wrapped__  # type: ignore[attr-defined]
    passing = _PassArg.from_obj(f)
    check = _FILTER_CHECKS.get(name)
    join = name == "join"

    # pass_context also keeps Jinja from running the filter at compile time, outside any budget.
    @pass_context
    def bounded(context: JinjaContext, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get() or _budget()
        if monotonic() > budget.deadline:  # tick(), without a call while time is left
            budget.tick()
        if args:
            first = args[0]
            if (
                type(first) not in _NOT_ITERATORS
                and isinstance(first, Iterator)
                and not _iterating(first)
            ):
                args = (budget.iterate(first), *args[1:])
            if join and not isinstance(first, str):
                items = list(budget.iterate(args[0]))
                sep = _arg(args, kwargs, 1, "d", "")
                budget.size(sum(len(str(x)) for x in items) + len(items) * _width(sep))
                args = (items, *args[1:])
            elif check is not None:
                check(budget, args, kwargs)
        elif check is not None:
            check(budget, args, kwargs)
        if passing is None:
            result = f(*args, **kwargs)
        elif passing is _PassArg.context:
            result = f(context, *args, **kwargs)
        elif passing is _PassArg.eval_context:
            result = f(context.eval_ctx, *args, **kwargs)
        else:
            result = f(context.environment, *args, **kwargs)
        if type(result) is str:  # bound(), without a call for the most common result
            if len(result) > budget.limits.max_bytes:
                budget.size(len(result))
            return result
        return budget.bound(result)

    bounded.__name__ = f"bounded_{name}"
    return bounded


_ITERATE = _Budget.iterate.__code__


def _iterating(items: Iterator[Any]) -> bool:
    """Whether these items are already counted one by one by the budget (the lazy result of
    another filter, `selectattr` into `list`, say): they need not be counted twice."""
    return type(items) is GeneratorType and items.gi_code is _ITERATE


def _by_attribute(keep: bool, general: Callable[..., Any]) -> Callable[..., Any]:
    """`selectattr` (keep: True) or `rejectattr`: Jinja's `general` filter, with its common
    case (`lines | selectattr("overdue")`: a list of plain dicts, an attribute's name and no
    test) taken from the dicts directly instead of through a getter and a test per item."""

    @pass_context
    def by_attribute(context: JinjaContext, value: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            len(args) == 1
            and not kwargs
            and type(value) in _SEQUENCES
            and type(name := args[0]) is str
            and "." not in name
            and not name.isdigit()
        ):
            return _selected(context.environment, value, name, keep)
        return general(context, value, *args, **kwargs)

    return by_attribute


_SEQUENCES = frozenset({list, tuple})


def _selected(environment: Any, items: Iterable[Any], name: str, keep: bool) -> Iterator[Any]:
    """The items whose attribute `name` is true (keep) or false, as Jinja's filters find it:
    by environment.getitem, unless the item is a dict that has it."""
    for item in items:
        found = (
            item[name] if type(item) is dict and name in item else environment.getitem(item, name)
        )
        if bool(found) is keep:
            yield item


# str methods a template can call that can make text much bigger than the string itself.
_STR_METHODS = frozenset(
    [
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "replace",
        "join",
        "format",
        "format_map",
        "translate",
    ]
)


_REPLACE = ("old", "new", "count")


def _bounded_str_method(method: Any, call: Callable[..., Any]) -> Callable[..., Any]:
    """A str method (of `_STR_METHODS`) checked against the render's budget."""
    s: str = method.__self__
    name: str = method.__name__

    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if name in ("center", "ljust", "rjust", "zfill"):
            budget.size(_width(_arg(args, kwargs, 0, "width", 0)))
        elif name == "expandtabs":
            budget.size(len(s) * max(_width(_arg(args, kwargs, 0, "tabsize", 8)), 1))
        elif name == "replace":
            old, new, count = (_arg(args, kwargs, i, n, None) for i, n in enumerate(_REPLACE))
            budget.size(_replace_bound(s, old, new, count))
        elif name == "join" and args:
            items = list(budget.iterate(args[0]))
            budget.size(sum(_width(x) for x in items) + len(items) * len(s))
            args = (items, *args[1:])
        elif name in ("format", "format_map"):
            _check_format_spec(budget, s)
        elif name == "translate":
            table = args[0] if args else None
            longest = (
                max((_width(v) for v in table.values()), default=1)
                if isinstance(table, dict)
                else 1
            )
            budget.size(len(s) * max(longest, 1))
        return budget.bound(call(*args, **kwargs))

    return bounded


def _bounded_range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise RenderLimitError(f"range(): at most {MAX_RANGE} numbers")
    return found


def _bounded_concat(parts: Iterable[str]) -> str:
    """What a block, macro or `{% set %}` body renders to, counted before it is joined."""
    budget = _budget()
    out, total = [], 0
    for part in parts:
        total += len(part)
        budget.size(total)
        out.append(part)
    return "".join(out)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every `for` loop and every `~` going through the budget,
    and what an HTML template outputs escaped by `_escape_output`."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.escape_output(")
        else:
            super()._output_child_pre(node, frame, finalize)

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None
            ).set_lineno(loop.iter.lineno or loop.lineno)
        super().visit_Template(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.volatile"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


def _loop_guard(items: Iterable[Any]) -> Iterator[Any]:
    return _budget().iterate(items)


def _bounded_join(values: tuple[Any, ...], markup: bool) -> str:
    """`a ~ b`: the parts' sizes are added up before they are joined."""
    parts = [str(v) if not isinstance(v, str) else v for v in values]
    _budget().size(sum(len(p) for p in parts))
    return markup_join(parts) if markup else str_join(parts)


_ESCAPED = re.compile("[&<>'\"]").search  # what markupsafe's escape() replaces


def _escape_output(value: Any) -> str:
    """`{{ x }}` in an HTML template: the same text as markupsafe's escape(), without
    making a Markup of each piece of a template's output (its pieces are joined as text)."""
    kind = type(value)
    if kind is str:
        return value if _ESCAPED(value) is None else escape(value)
    if kind is int:  # digits and a sign: nothing to escape
        return str(value)
    return escape(value)
