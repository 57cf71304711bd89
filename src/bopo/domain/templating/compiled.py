"""Templates compiled, rendered within their limits, validated, and cached."""

from __future__ import annotations

import traceback
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import islice
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError

from bopo.domain.templating.budget import (
    _BUDGET,
    DEFAULT_LIMITS,
    RenderLimits,
    TemplateTooSlow,
    _Budget,
    _OutOfTime,
)
from bopo.domain.templating.contexts import sample_context
from bopo.domain.templating.kinds import (
    MAX_PART_CHARS,
    PARTS,
    Rendered,
    TemplateSource,
    TemplateType,
)
from bopo.domain.templating.sandbox import _GLOBALS, _HTML, _TEXT
from bopo.errors import FieldError, InvalidInput

LARGE_SAMPLE_LINES = 50


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
                        env = template.environment
                        # template.new_context(namespace, shared=True), less its layers
                        # and its copy of the globals' names (for imported templates).
                        jinja = env.context_class(env, namespace, template.name, template.blocks)
                        out[part] = _stream(budget, template.root_render_func(jinja))
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
