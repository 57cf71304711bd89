"""User-written email templates: sandboxed rendering and validation.

Templates are Jinja2 run in an immutable sandbox with StrictUndefined: a
template cannot reach Python internals, change the data it is given, or
silently print nothing for a misspelt name. HTML bodies are autoescaped, so
text a customer typed (a name, say) cannot inject markup. A template is
checked when it is saved by compiling it and rendering it against a sample
context of its type, and a large one (50 lines, so that a template which only
misbehaves for big orders shows it); errors name the part and the line.

Every render is bounded (RenderLimits, `[email] template_time_limit_ms` and
`template_max_bytes`): in time, by a deadline checked at every loop
iteration, call, attribute, operator and filter (a render in a thread cannot
be interrupted, so the sandbox looks at the clock itself); in size, by
checking before any operation that can make text or a list much bigger than
its inputs (`*`, `+`, `~`, `%`, `center`, `indent`, `format`, `replace`,
`join`, `wordwrap`, widths in format specs, ...), by checking every filter's
and call's result, and by counting the output as it is produced. A render
that passes a limit raises InvalidInput naming the part, the line and the limit.
"""

from __future__ import annotations

import re
import time
import traceback
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from itertools import islice
from string import Formatter
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context as JinjaContext
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, pass_context

from bopo.errors import FieldError, InvalidInput


class TemplateType(StrEnum):
    """What a template is for; each type has its own context."""

    BACK_ORDER = "BACK_ORDER"
    # A PO line's due date moved: later (by at least [backorders] notify_delay_days),
    # or earlier when a template of that type exists. Each line shows its old date
    # as `previous_expected`.
    BACK_ORDER_UPDATE = "BACK_ORDER_UPDATE"
    BACK_ORDER_EARLIER = "BACK_ORDER_EARLIER"


# The types used for due-date notices; one template of each type is used (the oldest).
NOTICE_TYPES = (TemplateType.BACK_ORDER_UPDATE, TemplateType.BACK_ORDER_EARLIER)


class EmailEvent(StrEnum):
    """What made an email: recorded on it, and given to its template as `event`."""

    INTAKE = "intake"  # a new sales order was linked
    WORKLIST = "worklist"  # a worklist retry linked a waiting line
    MANUAL_LINK = "manual_link"  # an operator linked a line by hand
    REALLOCATION = "reallocation"  # a released line found another PO line
    STATUS_CHANGE = "status_change"  # the PO line's status changed
    DUE_DATE = "due_date"  # the PO line's due date moved (a BACK_ORDER_UPDATE/EARLIER notice)


PARTS = ("subject", "body_text", "body_html")
MAX_PART_CHARS = 100_000
MAX_RANGE = 10_000  # range() in a template: more than any email lists
MAX_INT_BITS = 65_536  # numbers of ~20,000 digits: arithmetic stays quick
LARGE_SAMPLE_LINES = 50


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """How long rendering one email may take, and how big any text in it may grow
    (each part, and every string or list made on the way)."""

    time_ms: int = 200
    max_bytes: int = 256 * 1024


DEFAULT_LIMITS = RenderLimits()


class RenderLimitError(SecurityError):
    """A render passed one of its limits."""


class _OutOfTime(RenderLimitError):
    pass


class TemplateTooSlow(InvalidInput):
    """A render ran out of time (the errors say where): a bigger order would too."""


class _Budget:
    """One render's limits: a deadline and a size, checked by the sandbox's hooks."""

    __slots__ = ("deadline", "limits")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_ms / 1000  # elapsed time, not the date

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OutOfTime(
                f"takes longer than {self.limits.time_ms} ms to render "
                "(limit: [email] template_time_limit_ms)"
            )

    def size(self, n: int) -> None:
        if n > self.limits.max_bytes:
            raise RenderLimitError(
                f"result too large: more than {self.limits.max_bytes} bytes "
                "(limit: [email] template_max_bytes)"
            )

    def bound(self, value: Any) -> Any:
        """The value, once it is known to be within the size limit (iterators: as consumed)."""
        if isinstance(value, str):
            self.size(len(value))
        elif isinstance(value, list | tuple | dict | set | frozenset):
            self.size(_weight(value, self.limits.max_bytes))
        elif isinstance(value, Iterator):
            return self.iterate(value)
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise RenderLimitError("number too large")
        return value

    def iterate(self, items: Iterable[Any]) -> Iterator[Any]:
        """Items one by one, with the deadline checked at each (loops, lazy filters)."""
        tick, cap = self.tick, self.limits.max_bytes
        for n, item in enumerate(items):
            tick()
            if n > cap:
                self.size(n)
            yield item


_BUDGET: ContextVar[_Budget | None] = ContextVar("bopo_render_budget", default=None)


def _budget() -> _Budget:
    found = _BUDGET.get()
    return found if found is not None else _Budget(DEFAULT_LIMITS)


def _weight(value: Any, cap: int) -> int:
    """Characters and items in a value, nested ones included; counting stops past `cap`."""
    total = 0
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, list | tuple | set | frozenset):
            total += len(v)
            if total <= cap:
                todo.extend(v)
        elif isinstance(v, dict):
            total += len(v)
            if total <= cap:
                todo.extend(v.keys())
                todo.extend(v.values())
        else:
            total += 1
        if total > cap:
            break
    return total


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_SPEC_NUMBER = re.compile(r"\d+")


def _check_printf(budget: _Budget, fmt: Any) -> None:
    """`"%10s" % x` and `|format`: the widths asked for must fit the size limit."""
    if not isinstance(fmt, str):
        return
    total = len(fmt)
    for width, precision in _PRINTF.findall(fmt):
        if "*" in (width, precision):
            raise RenderLimitError("a width or precision taken from the arguments (*) is refused")
        total += int(width or 0) + int(precision or 0)
    budget.size(total)


def _check_format_spec(budget: _Budget, fmt: Any) -> None:
    """`"{:>10}".format(x)`: the widths asked for must fit the size limit."""
    if not isinstance(fmt, str):
        return
    total = len(fmt)
    for _, _, spec, _ in Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimitError("a width or precision taken from the arguments is refused")
        total += sum(int(n) for n in _SPEC_NUMBER.findall(spec))
    budget.size(total)


def _arg(args: Sequence[Any], kwargs: Mapping[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _replace_bound(s: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(s, str) and isinstance(old, str) and isinstance(new, str)):
        return 0
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(len(new) - len(old), 0)


def _width(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return value if isinstance(value, int) else 0


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


def _bounded_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """A filter checked against the render's budget: the deadline, its arguments where they
    can make something huge, iterators consumed one item at a time, and its result."""
    passing = _PassArg.from_obj(f)
    check = _FILTER_CHECKS.get(name)

    # pass_context also keeps Jinja from running the filter at compile time, outside any budget.
    @pass_context
    def bounded(context: JinjaContext, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if args and isinstance(args[0], Iterator):
            args = (budget.iterate(args[0]), *args[1:])
        if name == "join" and args and not isinstance(args[0], str):
            items = list(budget.iterate(args[0]))
            sep = _arg(args, kwargs, 1, "d", "")
            budget.size(sum(len(str(x)) for x in items) + len(items) * _width(sep))
            args = (items, *args[1:])
        elif check is not None:
            check(budget, args, kwargs)
        if passing is _PassArg.context:
            result = f(context, *args, **kwargs)
        elif passing is _PassArg.eval_context:
            result = f(context.eval_ctx, *args, **kwargs)
        elif passing is _PassArg.environment:
            result = f(context.environment, *args, **kwargs)
        else:
            result = f(*args, **kwargs)
        return budget.bound(result)

    bounded.__name__ = f"bounded_{name}"
    return bounded


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
    """Jinja's code generator, with every `for` loop and every `~` going through the budget."""

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


@dataclass(frozen=True, slots=True)
class TemplateSource:
    subject: str
    body_text: str
    body_html: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None


_DICT_ATTRIBUTES = frozenset(dir(dict))


def _loop_guard(items: Iterable[Any]) -> Iterator[Any]:
    return _budget().iterate(items)


def _bounded_join(values: tuple[Any, ...], markup: bool) -> str:
    """`a ~ b`: the parts' sizes are added up before they are joined."""
    parts = [str(v) if not isinstance(v, str) else v for v in values]
    _budget().size(sum(len(p) for p in parts))
    return markup_join(parts) if markup else str_join(parts)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, bounded in time and size (see the module's docstring)."""

    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
    code_generator_class = _BoundedCodeGenerator

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `line.qty` on the context's plain dicts: Jinja would first look for an
        # attribute of dict, fail, then take the item. Taking the item straight
        # away gives the same answer for every name dict has no attribute of, and
        # a third off the rendering time of a typical email.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # Called by getattr and getitem for every attribute found: str methods that can
        # make a huge string go through the budget (format and format_map sandboxed too).
        wrapped = super().wrap_str_format(value)
        if (
            isinstance(value, types.BuiltinMethodType)
            and isinstance(value.__self__, str)
            and value.__name__ in _STR_METHODS
        ):
            return _bounded_str_method(value, wrapped or value)
        return wrapped

    def call(__self, __context: JinjaContext, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # Ours and safe: skip the checks made for callables from data.
        if __obj is _loop_guard:
            return _loop_guard(*args)
        budget = _budget()
        budget.tick()
        if __obj is text_table:
            return budget.bound(text_table(*args, **kwargs))
        return budget.bound(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: JinjaContext, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        cap = budget.limits.max_bytes
        if operator == "**" and isinstance(right, int | float):
            if abs(right) > 64:
                raise SecurityError("exponent too large")
            if isinstance(left, int) and left.bit_length() * abs(right) > MAX_INT_BITS:
                raise RenderLimitError("number too large")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and times > 0:
                    budget.size(_weight(seq, cap) * times)
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise RenderLimitError("number too large")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                budget.size(_weight(left, cap) + _weight(right, cap))
        elif operator == "%" and isinstance(left, str):
            _check_printf(budget, left)
        return budget.bound(super().call_binop(context, operator, left, right))


@lru_cache(maxsize=4096)  # a batch of emails shows the same few due dates again and again
def format_date(value: date | None, fmt: str | None = None) -> str:
    """`{{ line.expected | date }}`: "9 December 2026"; no date: "to be confirmed"."""
    if value is None:
        return "to be confirmed"
    if fmt:
        return value.strftime(fmt)
    return f"{value.day} {value:%B %Y}"


TABLE_COLUMNS: Mapping[str, str] = {
    "sku": "Item",
    "item_name": "Description",
    "qty": "Qty",
    "expected": "Expected",
    "previous_expected": "Was expected",
    "po_number": "PO",
}
_DATE_COLUMNS = frozenset({"expected", "previous_expected"})


def _cell(row: Mapping[str, Any], column: str) -> str:
    if column == "expected" and row.get("overdue"):
        return "being confirmed (overdue)"
    return format_date(row[column]) if column in _DATE_COLUMNS else str(row[column])


def text_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """`{{ table(lines) }}`: the lines as an aligned plain-text table."""
    cols = list(columns or ("sku", "item_name", "qty", "expected"))
    unknown = [c for c in cols if c not in TABLE_COLUMNS]
    if unknown:
        raise ValueError(f"table(): unknown column {unknown[0]!r}; use {', '.join(TABLE_COLUMNS)}")
    cells = [[TABLE_COLUMNS[c] for c in cols]]
    for row in rows:
        cells.append([_cell(row, c) for c in cols])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for r in cells:
        padded = [
            r[i].rjust(widths[i]) if cols[i] == "qty" else r[i].ljust(widths[i])
            for i in range(len(cols))
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _environment(*, html: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = format_date
    env.filters = {name: _bounded_filter(name, f) for name, f in env.filters.items()}
    env.globals["table"] = text_table
    env.globals["range"] = _bounded_range
    del env.globals["lipsum"]  # filler text on demand: nothing an email needs
    env.bounded_iter = _loop_guard  # type: ignore[attr-defined]
    env.bounded_join = _bounded_join  # type: ignore[attr-defined]
    env.concat = _bounded_concat  # type: ignore[method-assign]
    return env


_TEXT = _environment(html=False)
_HTML = _environment(html=True)
_GLOBALS = dict(_TEXT.globals)  # the same in both environments


def _error(part: str, exc: Exception) -> FieldError:
    """The error with the template line it happened on, when Jinja knows it."""
    line = exc.lineno if isinstance(exc, TemplateSyntaxError) else None
    if line is None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == part:
                line = frame.lineno
                break
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return FieldError(part, f"line {line}: {message}" if line else message)


class CompiledTemplate:
    """A template's parts compiled once, ready to render many times."""

    __slots__ = ("_parts",)

    def __init__(self, source: TemplateSource) -> None:
        errors: list[FieldError] = []
        self._parts: dict[str, Template | None] = {}
        for part in PARTS:
            text = getattr(source, part)
            if text is None:
                self._parts[part] = None
                continue
            if len(text) > MAX_PART_CHARS:
                errors.append(FieldError(part, f"longer than {MAX_PART_CHARS} characters"))
                continue
            env = _HTML if part == "body_html" else _TEXT
            try:
                code = env.compile(text, name=part, filename=part)
                self._parts[part] = env.template_class.from_code(env, code, _GLOBALS)
            except TemplateSyntaxError as exc:
                errors.append(_error(part, exc))
            except RecursionError:  # thousands of nested brackets or blocks
                errors.append(FieldError(part, "nested too deeply"))
        if errors:
            raise InvalidInput(errors)

    def render(self, context: Mapping[str, Any], limits: RenderLimits = DEFAULT_LIMITS) -> Rendered:
        """Render every part within the limits; InvalidInput names the part and line that
        failed (or the limit passed).

        The parts share one read-only namespace (the sandbox's globals plus the
        context), built once, instead of Jinja copying it for each part.
        """
        namespace = {**_GLOBALS, **context}
        out: dict[str, str | None] = {}
        budget = _Budget(limits)
        token = _BUDGET.set(budget)
        try:
            for part, template in self._parts.items():
                if template is None:
                    out[part] = None
                    continue
                try:
                    try:
                        out[part] = _stream(
                            budget,
                            template.root_render_func(template.new_context(namespace, shared=True)),
                        )
                    except Exception:
                        template.environment.handle_exception()  # re-raises, at the template's line
                except RecursionError:  # a macro that calls itself without end
                    raise InvalidInput([FieldError(part, "recurses too deeply")]) from None
                except MemoryError:
                    raise InvalidInput([FieldError(part, "needs too much memory")]) from None
                except _OutOfTime as exc:
                    raise TemplateTooSlow([_error(part, exc)]) from None
                except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
                    raise InvalidInput([_error(part, exc)]) from None
        finally:
            _BUDGET.reset(token)
        subject = " ".join((out["subject"] or "").split())  # one header line, no injection
        return Rendered(subject, out["body_text"] or "", out["body_html"])


def _stream(budget: _Budget, chunks: Iterable[str]) -> str:
    """The output as it is produced, counted: it stops at the size limit."""
    out: list[str] = []
    cap, total = budget.limits.max_bytes, 0
    chunks = iter(chunks)
    while batch := list(islice(chunks, 16)):  # each chunk is bounded: 16 at a time is too
        total += sum(map(len, batch))
        if total > cap:
            budget.size(total)
        out += batch
    text = "".join(out)
    if not text.isascii():
        budget.size(len(text.encode()))
    return text


def validate_template(
    kind: str, source: TemplateSource, limits: RenderLimits = DEFAULT_LIMITS
) -> CompiledTemplate:
    """Compile and render against the type's sample context, then a large one (so that
    a template that only misbehaves for big orders is caught too), within the limits;
    raise InvalidInput if not."""
    try:
        template_type = TemplateType(kind)
    except ValueError:
        raise InvalidInput(
            [FieldError("type", f"unknown type {kind!r}; use {', '.join(TemplateType)}")]
        ) from None
    problems = []
    if not source.subject.strip():
        problems.append(FieldError("subject", "must not be empty"))
    if not source.body_text.strip():
        problems.append(FieldError("body_text", "must not be empty"))
    if problems:
        raise InvalidInput(problems)
    compiled = CompiledTemplate(source)
    rendered = compiled.render(sample_context(template_type), limits)
    if not rendered.subject:
        raise InvalidInput([FieldError("subject", "renders empty")])
    try:
        compiled.render(sample_context(template_type, lines=LARGE_SAMPLE_LINES), limits)
    except InvalidInput as exc:
        raise InvalidInput(
            [
                FieldError(e.field, f"for an order of {LARGE_SAMPLE_LINES} lines: {e.message}")
                for e in exc.errors
            ]
        ) from None
    return compiled


# --- contexts ---------------------------------------------------------------------------


def linked_line(
    *,
    line_no: int,
    sku: str,
    item_name: str,
    qty: int,
    expected: date | None,
    po_number: str,
    po_line_no: int,
    status: str,
    previous_expected: date | None = None,
    overdue: bool = False,
) -> dict[str, Any]:
    """One sales-order line as a back-order email announces it (plain dicts render fastest).

    `previous_expected` is the date the customer was told before (due-date notices).
    `overdue`: the PO line's due date is past and the goods are not here yet. A past
    date is never promised: `expected` is then none ("to be confirmed") and the missed
    date is `was_due`.
    """
    return {
        "line_no": line_no,
        "sku": sku,
        "item_name": item_name,
        "qty": qty,
        "expected": None if overdue else expected,
        "overdue": overdue,
        "was_due": expected if overdue else None,
        "previous_expected": previous_expected,
        "po_number": po_number,
        "po_line_no": po_line_no,
        "status": status,
    }


def backorder_context(
    *,
    company: str,
    customer: Mapping[str, str],
    order: Mapping[str, Any],
    lines: list[dict[str, Any]],
    event: str,
) -> dict[str, Any]:
    """What a BACK_ORDER template sees (documented in the README)."""
    return {
        "company": {"name": company},
        "customer": {
            "code": customer["code"],
            "name": customer["name"],
            "email": customer["email"],
        },
        "order": {
            "number": order["number"],
            "source": order["source"],
            "order_date": order["order_date"],
            "delivery_date": order["delivery_date"],
        },
        "lines": lines,
        "event": event,
    }


def sample_context(
    kind: TemplateType, company: str = "Our shop", *, lines: int = 2
) -> dict[str, Any]:
    """A believable context to check and preview templates with; one line has no date.

    For due-date notices, each line also has the date given before. With more
    `lines`, the two sample lines repeat (with their own line numbers).
    """
    later = kind is TemplateType.BACK_ORDER_UPDATE
    earlier = kind is TemplateType.BACK_ORDER_EARLIER
    context = backorder_context(
        company=company,
        customer={"code": "C-SAMPLE", "name": "Ada Lovelace", "email": "ada@example.com"},
        order={
            "number": "W-1001",
            "source": "web",
            "order_date": date(2026, 11, 25),
            "delivery_date": date(2026, 11, 28),
        },
        lines=[
            linked_line(
                line_no=1,
                sku="KET-01",
                item_name="Enamel kettle, 1.7 l",
                qty=2,
                expected=date(2026, 12, 9),
                po_number="PO-1001",
                po_line_no=2,
                status="On order",
                previous_expected=(
                    date(2026, 12, 2) if later else date(2026, 12, 16) if earlier else None
                ),
            ),
            linked_line(
                line_no=3,
                sku="PAN-28",
                item_name="Cast-iron skillet, 28 cm",
                qty=1,
                expected=None,
                po_number="PO-1002",
                po_line_no=1,
                status="Confirmed by supplier",
                previous_expected=date(2026, 12, 1) if later else None,
            ),
        ],
        event="due_date" if later or earlier else "intake",
    )
    if lines > 2:
        pair = context["lines"]
        context["lines"] = [
            pair[n % 2] | {"line_no": n + 1, "sku": f"{pair[n % 2]['sku']}-{n + 1}"}
            for n in range(lines)
        ]
    return context


class TemplateCache:
    """Compiled templates by a key that changes when the template does (id, updated_at)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, CompiledTemplate] = OrderedDict()

    def get(self, key: Hashable, load: Callable[[], TemplateSource]) -> CompiledTemplate:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        compiled = CompiledTemplate(load())
        self._items[key] = compiled
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return compiled

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items
