"""Redirects and back links lead to a path on this site, never to another host."""

from __future__ import annotations

import pytest

from bopo.web.urls import local_path, referer_path

ELSEWHERE = [
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "https://evil.example/worklist",
    "http:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "\\\\evil.example",
    " //evil.example",
    "/\t/evil.example",  # browsers drop tabs and newlines: //evil.example
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\x00/evil.example",
    "/%2F%2Fevil.example",  # decoded once more: ///evil.example
    "/%2f/evil.example",
    "/%5Cevil.example",  # /\evil.example
    "/%09/evil.example",
    "%2F%2Fevil.example",
    "/" + "a" * 2001,
    "",
    None,
]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_target_off_this_site_goes_to_the_default_instead(target: str | None) -> None:
    assert local_path(target) == "/"
    assert local_path(target, "/worklist") == "/worklist"


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/worklist?sku=A&reason=feature+off",
        "/purchase-orders/PO%2F1",  # a number with a slash, quoted
        "/emails/3?back=%2Femails%3Fstate%3Dfailed",
        "/sales-orders/1#line-2",
    ],
)
def test_a_path_on_this_site_is_kept_as_it_is(target: str) -> None:
    assert local_path(target) == target


def test_a_referer_counts_only_from_this_very_site_and_only_as_a_local_path() -> None:
    here = ("http", "bopo.internal:8000")
    assert referer_path("http://bopo.internal:8000/worklist?sku=A", *here) == "/worklist?sku=A"
    assert referer_path("http://bopo.internal:8000//evil.example", *here) == "/"
    assert referer_path("http://bopo.internal:8000/\\evil.example", *here) == "/"
    assert referer_path("http://bopo.internal:8000/%2F%2Fevil.example", *here) == "/"
    assert referer_path("https://evil.example/worklist", *here) == "/"
    assert referer_path("http://bopo.internal:8000.evil.example/worklist", *here) == "/"
    assert referer_path("https://bopo.internal:8000/worklist", *here) == "/"  # another scheme
    assert referer_path(None, *here) == "/"
