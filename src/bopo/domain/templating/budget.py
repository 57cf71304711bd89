"""One render's limits, in time and size, and the checks that keep a render within them."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from string import Formatter
from time import monotonic
from types import GeneratorType
from typing import Any

from jinja2.exceptions import SecurityError

from bopo.errors import InvalidInput

MAX_RANGE = 10_000  # range() in a template: more than any email lists
MAX_INT_BITS = 65_536  # numbers of ~20,000 digits: arithmetic stays quick


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

    __slots__ = ("cpu_deadline", "deadline", "limits")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        # The limit is the rendering thread's own CPU time: a render waiting for a
        # busy machine's cores does not run out, one doing too much work does. That
        # clock costs a system call, so the elapsed time (never less, and read for
        # almost nothing) is looked at first, and the CPU time at the start is taken
        # from a recent reading (_cpu_time_from): a render may run up to 1% over its
        # limit, never less than it. Neither is the date.
        seconds = limits.time_ms / 1000
        now = time.monotonic()
        self.deadline = now + seconds
        self.cpu_deadline = _cpu_time_from(now, seconds / 100) + seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline and time.thread_time() > self.cpu_deadline:
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
        kind = type(value)
        if kind is str:
            if len(value) > self.limits.max_bytes:
                self.size(len(value))
        elif kind in _SIZELESS:  # most other results: a look-up, not a chain of checks
            return value
        elif kind is int:
            if value.bit_length() > MAX_INT_BITS:
                raise RenderLimitError("number too large")
        elif kind is list or kind is tuple or kind is dict:
            self.size(_weight(value, self.limits.max_bytes))
        elif kind is GeneratorType:  # a lazy filter's result: isinstance would ask the ABC
            return self.iterate(value)
        elif isinstance(value, str):
            if len(value) > self.limits.max_bytes:
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
        cap = self.limits.max_bytes
        for n, item in enumerate(items):
            if monotonic() > self.deadline:  # tick(), without a call while time is left
                self.tick()
            if n > cap:
                self.size(n)
            yield item


# Results that cannot be big: bound() lets them through at once.
_SIZELESS = frozenset({bool, float, type(None), date, datetime, Decimal})


class _ThreadClock(threading.local):
    """The last reading of this thread's CPU time, and the elapsed time it was read at."""

    wall = -math.inf
    cpu = 0.0


_CLOCK = _ThreadClock()


def _cpu_time_from(wall: float, tolerance: float) -> float:
    """This thread's CPU time at `wall` (time.monotonic()), or up to `tolerance` more: the
    last reading plus the time elapsed since, which the CPU time cannot have outrun. The
    clock (a system call) is read again once its last reading is `tolerance` old: a
    batch of quick renders reads it once for many."""
    clock = _CLOCK
    if wall - clock.wall > tolerance:
        clock.wall, clock.cpu = wall, time.thread_time()  # read after `wall`: never less
        return clock.cpu
    return clock.cpu + (wall - clock.wall)


_BUDGET: ContextVar[_Budget | None] = ContextVar("bopo_render_budget", default=None)


def _budget() -> _Budget:
    found = _BUDGET.get()
    return found if found is not None else _Budget(DEFAULT_LIMITS)


# Values that count as one: none of them text or a container.
_ATOMS = frozenset({int, bool, float, type(None), date, datetime, Decimal})


def _weight(value: Any, cap: int) -> int:
    """Characters and items in a value, nested ones included; counting stops past `cap`."""
    total = 0
    todo = [value]
    pop, extend = todo.pop, todo.extend
    while todo:
        v = pop()
        kind = type(v)  # the common types by identity first: isinstance is slower
        if kind is str:
            total += len(v)
        elif kind in _ATOMS:
            total += 1
        elif isinstance(v, dict):
            total += len(v)
            if total <= cap:
                extend(v.keys())
                extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            total += len(v)
            if total <= cap:
                extend(v)
        elif isinstance(v, str):
            total += len(v)
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
