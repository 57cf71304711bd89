"""User templates render in a sandbox: data in, text out, nothing else."""

from __future__ import annotations

import time
from datetime import date

import pytest

from bopo.domain.templating import (
    CompiledTemplate,
    RenderLimits,
    TemplateSource,
    TemplateType,
    format_date,
    sample_context,
    text_table,
    validate_template,
)
from bopo.errors import InvalidInput

SAMPLE = sample_context(TemplateType.BACK_ORDER, "Kitchen & Co")


def render(subject: str = "Hi", text: str = "Body", html: str | None = None) -> list[str | None]:
    rendered = CompiledTemplate(TemplateSource(subject, text, html)).render(SAMPLE)
    return [rendered.subject, rendered.body_text, rendered.body_html]


def refusal(text: str, part: str = "body_text") -> str:
    source = TemplateSource(
        text if part == "subject" else "Hi",
        text if part == "body_text" else "Body",
        text if part == "body_html" else None,
    )
    with pytest.raises(InvalidInput) as caught:
        validate_template("BACK_ORDER", source)
    [error] = caught.value.errors
    assert error.field == part
    return error.message


def test_a_template_sees_the_company_customer_order_and_lines() -> None:
    _, text, _ = render(
        text="{{ company.name }}: {{ customer.name }} <{{ customer.email }}> {{ customer.code }}, "
        "{{ order.number }} of {{ order.order_date }} by {{ order.delivery_date | date }}; "
        "{% for l in lines %}[{{ l.sku }} {{ l.item_name }} x{{ l.qty }} "
        "{{ l.expected | date }} {{ l.po_number }}]{% endfor %}"
    )
    assert text == (
        "Kitchen & Co: Ada Lovelace <ada@example.com> C-SAMPLE, W-1001 of 2026-11-25 by "
        "28 November 2026; [KET-01 Enamel kettle, 1.7 l x2 9 December 2026 PO-1001]"
        "[PAN-28 Cast-iron skillet, 28 cm x1 to be confirmed PO-1002]"
    )


def test_the_table_helper_lines_up_the_lines_in_plain_text() -> None:
    assert text_table(SAMPLE["lines"]).splitlines() == [
        "Item    Description               Qty  Expected",
        "KET-01  Enamel kettle, 1.7 l        2  9 December 2026",
        "PAN-28  Cast-iron skillet, 28 cm    1  to be confirmed",
    ]
    _, text, _ = render(text="{{ table(lines, ['sku', 'po_number']) }}")
    assert text.splitlines()[0] == "Item    PO"


def test_a_date_can_be_formatted_as_the_template_wants() -> None:
    assert format_date(date(2026, 12, 9), "%d/%m/%Y") == "09/12/2026"
    assert render(text="{{ order.order_date | date('%Y') }}")[1] == "2026"


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lines.__class__ }}",
        "{{ table.__globals__ }}",
        "{{ customer.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ self._TemplateReference__context }}",
        "{{ lines.append(1) }}",
        "{{ customer.update({'name': 'x'}) }}",
        "{{ 'x' * 1000000 }}",
        "{{ 9 ** 999999 }}",
    ],
)
def test_a_template_cannot_reach_python_internals_or_change_its_data(attack: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        render(text=attack)
    assert "unsafe" in str(caught.value) or "too large" in str(caught.value)


def test_html_bodies_are_escaped_and_text_bodies_are_not() -> None:
    context = SAMPLE | {"customer": SAMPLE["customer"] | {"name": "<b>Tom & Jerry</b>"}}
    compiled = CompiledTemplate(
        TemplateSource("{{ customer.name }}", "{{ customer.name }}", "<p>{{ customer.name }}</p>")
    )
    rendered = compiled.render(context)
    assert rendered.body_html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert rendered.body_text == "<b>Tom & Jerry</b>"
    assert rendered.subject == "<b>Tom & Jerry</b>"


def test_a_subject_is_one_line_whatever_the_data() -> None:
    context = SAMPLE | {"customer": SAMPLE["customer"] | {"name": "Ada\r\nBcc: x@evil.example"}}
    rendered = CompiledTemplate(TemplateSource("Hi {{ customer.name }}\n", "b")).render(context)
    assert rendered.subject == "Hi Ada Bcc: x@evil.example"


def test_a_misspelt_name_is_refused_with_its_line() -> None:
    assert refusal("Dear {{ customer.name }},\n\n{{ custmer.name }}") == (
        "line 3: 'custmer' is undefined"
    )


def test_a_template_that_does_not_parse_is_refused_with_its_line() -> None:
    message = refusal("<p>\n{% for line in lines %}\n{{ line.sku }}", part="body_html")
    assert message.startswith("line 3: Unexpected end of template")


def test_a_template_that_fails_on_a_line_without_a_date_is_refused() -> None:
    assert "line 1" in refusal("{% for l in lines %}{{ l.expected.year }}{% endfor %}")


def test_a_subject_error_names_the_subject() -> None:
    assert (
        refusal("{{ order.nmber }}", part="subject")
        == "line 1: 'dict object' has no attribute 'nmber'"
    )


def test_an_unknown_type_and_empty_parts_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_template("INVOICE", TemplateSource("s", "b"))
    assert caught.value.errors[0].field == "type"
    with pytest.raises(InvalidInput) as caught:
        validate_template("BACK_ORDER", TemplateSource(" ", ""))
    assert [e.field for e in caught.value.errors] == ["subject", "body_text"]


def test_a_template_nested_or_recursing_without_end_is_refused_not_a_crash() -> None:
    assert refusal("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}") == "nested too deeply"
    assert refusal("{% if 1 %}" * 3000 + "x" + "{% endif %}" * 3000) == "nested too deeply"
    endless = "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"
    assert refusal(endless, part="body_html") == "recurses too deeply"


def test_a_due_date_notice_shows_the_date_given_before_and_the_new_one() -> None:
    source = TemplateSource(
        "New dates for {{ order.number }}",
        "{% for l in lines %}{{ l.sku }}: {{ l.previous_expected | date }} -> "
        "{{ l.expected | date }}\n{% endfor %}{{ table(lines, ['sku', 'previous_expected']) }}",
    )
    compiled = validate_template("BACK_ORDER_UPDATE", source)
    text = compiled.render(sample_context(TemplateType.BACK_ORDER_UPDATE)).body_text
    assert "KET-01: 2 December 2026 -> 9 December 2026" in text
    assert "Was expected" in text
    earlier = compiled.render(sample_context(TemplateType.BACK_ORDER_EARLIER)).body_text
    assert "KET-01: 16 December 2026 -> 9 December 2026" in earlier


def test_a_back_order_template_sees_no_earlier_date() -> None:
    text = render(text="{{ lines[0].previous_expected | date }}")[1]
    assert text == "to be confirmed"


def test_an_overdue_line_promises_no_date_and_says_which_was_missed() -> None:
    from datetime import date

    from bopo.domain.templating import linked_line, text_table

    line = linked_line(
        line_no=1,
        sku="KET",
        item_name="Kettle",
        qty=2,
        expected=date(2026, 11, 29),
        po_number="PO-1",
        po_line_no=1,
        status="On order",
        overdue=True,
    )
    assert (line["expected"], line["overdue"], line["was_due"]) == (None, True, date(2026, 11, 29))
    assert "being confirmed (overdue)" in text_table([line])
    assert "29 November" not in text_table([line])


# --- bounded in time and size ------------------------------------------------------------------

BIG = "{% set s = 'a' * 90000 %}"


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "range(): at most 10000 numbers",
        ),
        (
            "{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}",
            "takes longer than 200 ms",
        ),
        (BIG + "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}", "takes longer than"),
        ("{{ 'x' | center(200000000) }}", "too large"),
        ("{{ 'x'.center(10 ** 9) }}", "too large"),
        ("{{ '%0999999999d' | format(1) }}", "too large"),
        ("{{ '%*s' | format(999999999, 'x') }}", "taken from the arguments"),
        ("{{ '%999999999s' % 'x' }}", "too large"),
        ("{{ '{:>999999999}'.format('x') }}", "too large"),
        (BIG + "{{ s | replace('a', s) }}", "too large"),
        (BIG + "{{ s.replace('a', s) }}", "too large"),
        (BIG + "{{ [s, s, s, s] | join(s) }}", "too large"),
        (BIG + "{{ [s] * 10000 }}", "too large"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "too large",
        ),
        ("{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}", "too large"),
        (
            BIG + "{% set x %}{% for i in range(5000) %}{{ s }}{% endfor %}{% endset %}{{ x }}",
            "too large",
        ),
        ("{{ ('a\\n' * 50000) | indent('x' * 50000) }}", "too large"),
        ("{{ [1] | batch(10 ** 9, 'x') | list | length }}", "too large"),
        ("{{ ['a'] | map('center', 10 ** 9) | list }}", "too large"),
        ("{{ ((10 ** 64) ** 64) ** 64 }}", "number too large"),
        (
            "{% if lines | length > 3 %}{% for a in range(9000) %}{% for b in range(9000) %}"
            "{% endfor %}{% endfor %}{% endif %}",
            "for an order of 50 lines: line 1: takes longer than 200 ms",
        ),
    ],
)
def test_a_template_that_runs_long_or_grows_huge_is_refused_quickly_at_save(
    attack: str, reason: str
) -> None:
    started = time.process_time()  # CPU, not wall: a stalled machine does not move it
    assert reason in refusal(attack)
    assert time.process_time() - started < 3  # two renders of about 200 ms each


def test_the_limits_are_the_ones_configured() -> None:
    source = TemplateSource("Hi", "{% for l in lines %}{{ l.item_name * 20 }}\n{% endfor %}")
    big = sample_context(TemplateType.BACK_ORDER, lines=50)
    assert len(CompiledTemplate(source).render(big).body_text) > 16 * 1024
    with pytest.raises(InvalidInput) as caught:
        CompiledTemplate(source).render(big, RenderLimits(max_bytes=16 * 1024))
    assert "more than 16384 bytes" in str(caught.value)
    assert "[email] template_max_bytes" in str(caught.value)
    slow = TemplateSource(
        "Hi", "{% for a in range(9000) %}{% for b in range(99) %}{% endfor %}{% endfor %}"
    )
    CompiledTemplate(slow).render(SAMPLE, RenderLimits(time_ms=5_000))
    with pytest.raises(InvalidInput, match="takes longer than 10 ms"):
        CompiledTemplate(slow).render(SAMPLE, RenderLimits(time_ms=10))


def test_an_ordinary_template_loses_nothing_to_the_limits() -> None:
    _, text, html = render(
        text="{{ '%-8s|%5d' % ('KET', 2) }} {{ '{:>6}'.format('x') }} {{ 'ab' | center(6) }}|"
        "{{ lines | map(attribute='sku') | join(', ') }}|{{ (lines | list + []) | length }}|"
        "{% for l in lines if l.expected %}{{ loop.index }}/{{ loop.length }}{% endfor %}|"
        "{{ range(3) | list }}|{{ 'a-b' | replace('-', '+') }}",
        html="{% set x %}<b>{{ customer.name ~ '&' }}</b>{% endset %}{{ x }}",
    )
    assert text == ("KET     |    2      x   ab  |KET-01, PAN-28|2|1/1|[0, 1, 2]|a+b")
    assert html == "<b>Ada Lovelace&amp;</b>"
