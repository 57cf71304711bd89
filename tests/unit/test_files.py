"""Reading import files: every problem is reported with its place; good records go on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bopo.services.files.parsing import FileProblem, file_format, parse_stock_items
from bopo.services.files.parsing_purchases import parse_purchase_orders
from bopo.services.files.parsing_sales import parse_sales_orders

HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty\n"
)


def so_csv(*rows: str) -> str:
    return HEADER + "".join(r + "\n" for r in rows)


GOOD = "web,SO-1,C1,Ada,ada@example.com,2026-11-25,2026-12-01,1,KET-01,2"


def issues(text: str) -> list[tuple[int | None, str, str]]:
    return [(i.row, i.field, i.message) for i in parse_sales_orders(text, "csv").issues]


def test_rows_of_one_order_become_one_order_with_its_lines() -> None:
    parsed = parse_sales_orders(
        so_csv(GOOD, "web,SO-1,C1,Ada,ada@example.com,2026-11-25,2026-12-01,2,MUG-12,1"), "csv"
    )
    ((order, where),) = parsed.items
    assert [(line.line_no, line.sku, line.qty) for line in order.lines] == [
        (1, "KET-01", 2),
        (2, "MUG-12", 1),
    ]
    assert (where.row, [where.line(k).row for k in range(2)]) == (2, [2, 3])


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("0", "must be more than 0"),
        ("-3", "must be more than 0"),
        ("2.5", "whole number"),
        ("two", "whole number"),
        ("99999999999999", "at most"),
        ("", "whole number"),
    ],
)
def test_a_bad_quantity_is_reported_at_its_row(qty: str, message: str) -> None:
    text = so_csv(GOOD.replace("SO-1", "SO-0"), GOOD.rsplit(",", 1)[0] + f",{qty}")
    ((row, field, text_),) = issues(text)
    assert (row, field) == (3, "qty")
    assert message in text_


def test_a_bad_date_is_reported_by_field() -> None:
    ((row, field, message),) = issues(so_csv(GOOD.replace("2026-12-01", "1st of Dec")))
    assert (row, field) == (2, "delivery_date")
    assert "YYYY-MM-DD" in message


def test_a_missing_customer_email_is_reported() -> None:
    ((row, field, _message),) = issues(so_csv(GOOD.replace("ada@example.com", "")))
    assert (row, field) == (2, "customer_email")


def test_duplicate_line_numbers_in_an_order_are_reported_at_the_second_row() -> None:
    ((row, field, message),) = issues(so_csv(GOOD, GOOD.replace("KET-01", "MUG-12")))
    assert (row, field) == (3, "line_no")
    assert "row 2" in message


def test_order_fields_that_differ_between_rows_of_one_order_are_reported() -> None:
    ((row, field, _),) = issues(
        so_csv(GOOD, GOOD.replace(",1,KET", ",2,KET").replace("Ada,", "Bob,"))
    )
    assert (row, field) == (3, "customer_name")


def test_the_same_order_twice_in_one_file_is_a_duplicate_if_equal_and_refused_if_not() -> None:
    other = "web,SO-2,C1,Ada,ada@example.com,2026-11-25,2026-12-01,1,KET-01,2"
    same = parse_sales_orders(so_csv(GOOD, other, GOOD), "csv")
    assert (len(same.items), same.duplicates, same.issues) == (2, 1, [])
    differs = parse_sales_orders(so_csv(GOOD, other, GOOD.replace(",2", ",5")), "csv")
    assert [o.number for o, _ in differs.items] == ["SO-2"]
    assert differs.rejected == 1
    assert [(i.row, i.order_number, i.message) for i in differs.issues] == [
        (
            row,
            "SO-1",
            "the rows of this order are not together (rows 2, 4); an order's rows must "
            "follow each other; not taken",
        )
        for row in (2, 4)
    ]


def test_an_order_whose_rows_are_interrupted_is_refused_whole_naming_its_rows() -> None:
    line2 = GOOD.replace(",1,KET-01", ",2,MUG-12")
    line3 = GOOD.replace(",1,KET-01", ",3,PAN-28")
    other = "web,SO-2,C1,Ada,ada@example.com,2026-11-25,2026-12-01,1,KET-01,2"
    parsed = parse_sales_orders(so_csv(GOOD, line2, other, line3, "", other), "csv")
    assert [o.number for o, _ in parsed.items] == ["SO-2"]
    assert (parsed.rejected, parsed.duplicates) == (1, 1)
    assert [(i.row, i.order_number) for i in parsed.issues] == [(2, "SO-1"), (5, "SO-1")]
    assert "(rows 2-3, 5)" in parsed.issues[0].message


def test_a_missing_column_rejects_the_file() -> None:
    with pytest.raises(FileProblem, match=r"missing column.*customer_email"):
        parse_sales_orders(HEADER.replace("customer_email,", "") + "x\n", "csv")


def test_a_row_with_too_many_fields_is_reported() -> None:
    parsed = parse_sales_orders(so_csv(GOOD + ",extra"), "csv")
    assert [(i.row, i.field) for i in parsed.issues] == [(2, "row")]


@pytest.mark.parametrize(
    "bad",
    [
        GOOD.replace(",1,KET-01", ",2,MUG-12").replace("Ada,", "Ada, Countess,"),  # one too many
        "web,SO-1,C1,Ada,ada@example.com,2026-11-25,2026-12-01,2",  # cut short
    ],
    ids=["too many fields", "too few"],
)
def test_a_bad_row_in_the_middle_of_an_order_refuses_the_whole_order(bad: str) -> None:
    line3 = GOOD.replace(",1,KET-01", ",3,PAN-28")
    other = "web,SO-2,C1,Ada,ada@example.com,2026-11-25,2026-12-01,1,KET-01,2"
    parsed = parse_sales_orders(so_csv(GOOD, bad, line3, other), "csv")
    assert [o.number for o, _ in parsed.items] == ["SO-2"]
    assert parsed.rejected == 1
    assert [(i.row, i.order_number, i.field) for i in parsed.issues] == [(3, "SO-1", "row")]
    assert "fields; the header has 10" in parsed.issues[0].message


def test_a_bad_row_that_names_no_order_refuses_the_orders_either_side() -> None:
    other = "web,SO-2,C1,Ada,ada@example.com,2026-11-25,2026-12-01,1,KET-01,2"
    third = other.replace("SO-2", "SO-3")
    parsed = parse_sales_orders(so_csv(GOOD, "web", other, third), "csv")
    assert [o.number for o, _ in parsed.items] == ["SO-3"]
    assert [(i.row, i.order_number) for i in parsed.issues] == [(3, None), (2, "SO-1"), (4, "SO-2")]
    assert "row 3 after this order cannot be read" in parsed.issues[1].message
    assert "row 3 before this order cannot be read" in parsed.issues[2].message


def test_malformed_json_rejects_the_file_with_its_position() -> None:
    with pytest.raises(FileProblem, match="line 2 column"):
        parse_sales_orders('[{"order_number": "SO-1",\n oops}]', "json")


def test_json_orders_have_nested_lines_and_errors_carry_a_path() -> None:
    text = """{"orders": [
      {"source": "web", "order_number": "SO-1", "customer_code": "C1", "customer_name": "Ada",
       "customer_email": "ada@example.com", "order_date": "2026-11-25",
       "delivery_date": "2026-12-01", "lines": [{"sku": "KET-01", "qty": 2}]},
      {"source": "web", "order_number": "SO-2", "customer_code": "C1", "customer_name": "Ada",
       "customer_email": "ada@example.com", "order_date": "2026-11-25",
       "delivery_date": "2026-12-01",
       "lines": [{"sku": "KET-01", "qty": 1}, {"sku": "X", "qty": true}]}
    ]}"""
    parsed = parse_sales_orders(text, "json")
    assert [o.number for o, _ in parsed.items] == ["SO-1"]
    assert parsed.items[0][0].lines[0].line_no == 1  # numbered in the order given
    (issue,) = parsed.issues
    assert (issue.path, issue.order_number, issue.field) == ("orders[1].lines[1]", "SO-2", "qty")


def test_stock_items_and_their_errors() -> None:
    parsed = parse_stock_items("sku,name,on_hand\nA,Apple,3\nB,Banana,-1\n", "csv")
    assert [i.sku for i, _ in parsed.items] == ["A"]
    assert [(i.row, i.field) for i in parsed.issues] == [(3, "on_hand")]


def test_purchase_order_rows_are_grouped_and_a_bad_row_is_refused_alone() -> None:
    text = (
        "po_number,supplier_code,line_no,sku,qty,due_date,status\n"
        "PO-1,SUP,1,A,10,2026-12-05,ON ORDER\n"
        "PO-1,SUP,2,B,0,2026-12-05,\n"
        "PO-1,SUP,3,C,5,,\n"
    )
    parsed = parse_purchase_orders(text, "csv")
    ((po, where),) = parsed.items
    assert [(line.line_no, line.status, line.due_date) for line in po.lines] == [
        (1, "ON ORDER", po.lines[0].due_date),
        (3, None, None),
    ]
    assert [w.row for w in where.lines] == [2, 4]
    assert [(i.row, i.field) for i in parsed.issues] == [(3, "qty")]


def test_the_file_type_comes_from_the_extension() -> None:
    assert file_format("orders.CSV") == "csv"
    assert file_format("x/orders.json") == "json"
    with pytest.raises(FileProblem, match="unknown file type"):
        file_format("orders.xlsx")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (GOOD.replace("SO-1", "SO\x00-1"), "order_number", "NUL at character 3"),
        (GOOD.replace("Ada", "Ada\tL."), "customer_name", "a tab at character 4"),
        (GOOD.replace("web", "w\x1bb"), "source", "U+001B at character 2"),
        (GOOD.replace("KET-01", "KET\x7f01"), "sku", "U+007F at character 4"),
        (GOOD.replace("ada@", "a\x00da@"), "customer_email", "NUL at character 2"),
        (GOOD.replace("C1", '"C\n1"'), "customer_code", "a line break at character 2"),
    ],
    ids=[
        "nul in number",
        "tab in name",
        "escape in source",
        "del in sku",
        "nul in email",
        "newline in code",
    ],
)
def test_control_characters_are_refused_with_the_field_and_row(
    row: str, field: str, message: str
) -> None:
    parsed = parse_sales_orders(so_csv(row), "csv")
    assert parsed.items == []
    ((issue,),) = [parsed.issues]
    assert (issue.row, issue.field) == (2, field)
    assert issue.message == f"must not contain control characters: {message}"


def test_control_characters_and_broken_text_in_json_are_refused_with_the_path() -> None:
    import json

    base = {
        "order_number": "SO-1",
        "customer_code": "C1",
        "customer_name": "Ada",
        "customer_email": "ada@example.com",
        "order_date": "2026-11-25",
        "delivery_date": "2026-12-01",
        "lines": [{"sku": "KET-01", "qty": 1}],
    }
    orders = [
        base | {"order_number": "SO\u00001"},
        base | {"order_number": "SO-2", "lines": [{"sku": "K\u2028T", "qty": 1}]},
        base | {"order_number": "SO-3", "customer_name": "Ada \ud800"},
        base | {"order_number": "SO-4", "customer_name": "A\u0085da"},
    ]
    parsed = parse_sales_orders(json.dumps({"orders": orders}), "json")
    assert parsed.items == []
    assert [(i.path, i.field, i.message) for i in parsed.issues] == [
        ("orders[0]", "order_number", "must not contain control characters: NUL at character 3"),
        ("orders[1].lines[0]", "sku", "must not contain control characters: U+2028 at character 2"),
        ("orders[2]", "customer_name", "is not valid text (it holds an unpaired surrogate)"),
        (
            "orders[3]",
            "customer_name",
            "must not contain control characters: U+0085 at character 2",
        ),
    ]


def test_json_nested_too_deep_is_refused_as_a_file_problem() -> None:
    for deep in ("[" * 100_000 + "]" * 100_000, "[" * 100_000, '{"orders":' * 100_000):
        with pytest.raises(FileProblem, match="more than 32 levels deep"):
            parse_sales_orders(deep, "json")
    with pytest.raises(FileProblem, match="more than 32 levels deep"):
        parse_sales_orders('{"orders": [], "x": ' + "[" * 32 + "]" * 32 + "}", "json")
    fine = '{"orders": [], "x": ' + "[" * 31 + '"]]]][[[[\\"\\\\"' + "]" * 31 + "}"
    assert parse_sales_orders(fine, "json").items == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bopo.services.files import parsing

    path = tmp_path / "orders.csv"
    path.write_text(so_csv(GOOD))
    monkeypatch.setattr(parsing, "MAX_FILE_BYTES", 100)
    with pytest.raises(FileProblem, match=r"orders.csv: the file is 0 MB; an import reads at most"):
        parsing.read_text(path)
