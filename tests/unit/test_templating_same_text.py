"""The bounded sandbox renders, byte for byte, what Jinja's own sandbox renders.

Every check bopo adds to a render (its budget, its quicker paths for the common
filters, for escaping HTML and for `table()`) may refuse a template; none may change
a byte of what one renders. The reference is Jinja's ImmutableSandboxedEnvironment
with the same options and helpers, `table()` as it was first written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bopo.domain.templating import (
    TABLE_COLUMNS,
    CompiledTemplate,
    TemplateSource,
    backorder_context,
    format_date,
    linked_line,
    text_table,
)
from bopo.domain.templating.sandbox import OPTIONS
from bopo.services.admin.demo import TEMPLATES
from tests.helpers import BACK_ORDER_HTML, BACK_ORDER_TEXT

_DATES = frozenset({"expected", "previous_expected"})


def _cell(row: Mapping[str, Any], column: str) -> str:
    if column == "expected" and row.get("overdue"):
        return "being confirmed (overdue)"
    return format_date(row[column]) if column in _DATES else str(row[column])


def reference_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """`table()` as first written: a cell at a time, each padded on its own."""
    cols = list(columns or ("sku", "item_name", "qty", "expected"))
    unknown = [c for c in cols if c not in TABLE_COLUMNS]
    if unknown:
        raise ValueError(f"table(): unknown column {unknown[0]!r}; use {', '.join(TABLE_COLUMNS)}")
    cells = [[TABLE_COLUMNS[c] for c in cols]]
    cells += ([_cell(row, c) for c in cols] for row in rows)
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    pads = [str.rjust if c == "qty" else str.ljust for c in cols]
    return "\n".join(
        "  ".join(
            [pad(cell, width) for pad, cell, width in zip(pads, r, widths, strict=True)]
        ).rstrip()
        for r in cells
    )


def _reference_environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=html, **OPTIONS)
    env.filters["date"] = format_date
    env.globals["table"] = reference_table
    return env


_TEXT, _HTML = _reference_environment(html=False), _reference_environment(html=True)

# The shipped and tested templates, and ones that use what bopo renders its own way:
# selectattr/rejectattr (plain and with a test), escaping (of text, numbers, Markup,
# dates, booleans), table() with its columns, `~`, loops, macros and {% set %} blocks.
_SOURCES = [TemplateSource(subject, text, html) for _, subject, text, html, _ in TEMPLATES] + [
    TemplateSource("Your order {{ order.number }}", BACK_ORDER_TEXT, BACK_ORDER_HTML),
    TemplateSource(
        "{{ lines | selectattr('overdue') | list | length }} late, "
        "{{ lines | rejectattr('overdue') | list | length }} not ~ {{ customer.name }}",
        "{{ table(lines, ['po_number', 'qty', 'previous_expected', 'expected', 'item_name']) }}\n"
        "{% for l in lines | selectattr('qty', 'gt', 1) %}{{ l.sku ~ ':' ~ l.qty }};{% endfor %}\n"
        "{% for l in lines | rejectattr('was_due', 'none') %}{{ l.was_due | date }};{% endfor %}\n"
        "{{ lines | selectattr('status') | map(attribute='item_name') | join(', ') }}\n"
        "{% set names %}{% for l in lines %}{{ l.item_name | upper }} {% endfor %}{% endset %}"
        "{{ names | trim }} {{ lines | map(attribute='qty') | sum }}",
        "{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}"
        "<h1>{{ customer.name }} &amp; {{ company.name }}</h1>{{ event }} {{ lines | length }}\n"
        "{% for l in lines %}<tr>{{ cell(l.item_name) }}{{ cell(l.qty) }}{{ l.overdue }}"
        "{{ l.expected }} {{ l.po_line_no * 2 }} {{ l.item_name ~ '&' ~ l.sku }}</tr>{% endfor %}"
        "{% for l in lines | selectattr('overdue') %}{{ l.sku }}{% endfor %}"
        "{{ '<b>' | safe }}{{ customer.email | e }}",
    ),
]
_COMPILED = [CompiledTemplate(source) for source in _SOURCES]

_TEXTS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("&<>'\"{}%"),
    max_size=24,
)
_DAYS = st.none() | st.integers(-40, 120).map(lambda n: date(2026, 12, 7) + timedelta(days=n))
_LINES = st.builds(
    linked_line,
    line_no=st.integers(1, 99),
    sku=_TEXTS,
    item_name=_TEXTS,
    qty=st.integers(-3, 10_000),
    expected=_DAYS,
    po_number=_TEXTS,
    po_line_no=st.integers(1, 99),
    status=st.sampled_from(["", "On order", "Confirmed <b>by</b> supplier"]),
    previous_expected=_DAYS,
    overdue=st.booleans(),
)
_CONTEXTS = st.builds(
    backorder_context,
    company=_TEXTS,
    customer=st.fixed_dictionaries({"code": _TEXTS, "name": _TEXTS, "email": _TEXTS}),
    order=st.fixed_dictionaries(
        {"number": _TEXTS, "source": _TEXTS, "order_date": _DAYS, "delivery_date": _DAYS}
    ),
    lines=st.lists(_LINES, max_size=8),
    event=st.sampled_from(["intake", "due_date", "manual_link"]),
)


_REFERENCES = [
    (
        _TEXT.from_string(source.subject),
        _TEXT.from_string(source.body_text),
        None if source.body_html is None else _HTML.from_string(source.body_html),
    )
    for source in _SOURCES
]


@settings(max_examples=150, deadline=None)
@given(context=_CONTEXTS)
def test_bopo_renders_what_jinja_renders(context: dict[str, Any]) -> None:
    for compiled, (subject, text, html) in zip(_COMPILED, _REFERENCES, strict=True):
        rendered = compiled.render(context)
        assert rendered.subject == " ".join(subject.render(context).split())
        assert rendered.body_text == text.render(context)
        assert rendered.body_html == (None if html is None else html.render(context))


@given(
    lines=st.lists(_LINES, max_size=8),
    columns=st.none() | st.lists(st.sampled_from(sorted(TABLE_COLUMNS)), unique=True),
)
def test_the_table_is_the_one_first_written(
    lines: list[dict[str, Any]], columns: list[str] | None
) -> None:
    assert text_table(lines, columns) == reference_table(lines, columns)
