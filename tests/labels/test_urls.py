from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labels import check_item_id, label_url, parse_label_url
from labels.urls import MAX_ITEM_ID_LENGTH

ITEM = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://retrace.example.org", f"https://retrace.example.org/p/{ITEM}"),
        ("https://retrace.example.org/", f"https://retrace.example.org/p/{ITEM}"),
        ("https://retrace.example.org///", f"https://retrace.example.org/p/{ITEM}"),
        ("https://example.org/retrace", f"https://example.org/retrace/p/{ITEM}"),
        ("https://example.org/retrace/", f"https://example.org/retrace/p/{ITEM}"),
        ("http://localhost:8000", f"http://localhost:8000/p/{ITEM}"),
        ("http://127.0.0.1:8000/", f"http://127.0.0.1:8000/p/{ITEM}"),
        ("https://[2001:db8::1]/", f"https://[2001:db8::1]/p/{ITEM}"),
        ("HTTPS://Retrace.Example.ORG", f"HTTPS://Retrace.Example.ORG/p/{ITEM}"),
    ],
)
def test_label_url_joins_without_double_slashes(base: str, expected: str) -> None:
    assert label_url(base, ITEM) == expected
    assert "//p/" not in label_url(base, ITEM)


@pytest.mark.parametrize(
    "item_id",
    [
        "",
        "itm-01JD8Z",
        "itm 01JD8Z",
        "itm_01JD8Z/",
        "../etc/passwd",
        "itm_%41",
        "itm_01JD8Z?x=1",
        "itm_01JD8Z#top",
        "itm_01JD8Z\n",
        "itm_é",
        "itm_\uff10\uff11",  # fullwidth digits are not ASCII digits
        "x" * (MAX_ITEM_ID_LENGTH + 1),
    ],
)
def test_label_url_refuses_item_ids_outside_the_charset(item_id: str) -> None:
    with pytest.raises(ValueError, match="item id"):
        label_url("https://retrace.example.org", item_id)


def test_item_id_error_names_the_bad_character() -> None:
    with pytest.raises(ValueError, match="contains '-'"):
        check_item_id("itm-1")


def test_item_id_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        check_item_id(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("", "empty"),
        ("retrace.example.org", "https://"),
        ("ftp://retrace.example.org", "https://"),
        ("javascript:alert(1)", "not allowed|https://"),
        ("https://", "no host"),
        ("https:///p", "no host"),
        ("https://retrace.example.org/?a=1", "query or fragment"),
        ("https://retrace.example.org/#x", "query or fragment"),
        ("https://retrace.example.org/?", "query or fragment"),
        ("https://user:pw@retrace.example.org", "credentials"),
        ("https://retrace.example.org/a b", "not allowed"),
        (" https://retrace.example.org", "not allowed"),
        ("https://retrace.example.org\n", "not allowed"),
        ("https://retrace.exämple.org", "not allowed"),
    ],
)
def test_label_url_refuses_bad_base_urls(base: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        label_url(base, ITEM)


@settings(max_examples=50)
@given(
    item_id=st.text(alphabet=ID_CHARS, min_size=1, max_size=MAX_ITEM_ID_LENGTH),
    slashes=st.integers(min_value=0, max_value=3),
)
def test_parse_label_url_inverts_label_url(item_id: str, slashes: int) -> None:
    url = label_url("https://retrace.example.org/x" + "/" * slashes, item_id)
    assert url == f"https://retrace.example.org/x/p/{item_id}"
    assert parse_label_url(url) == item_id
    assert parse_label_url(url + "\r\n", "https://retrace.example.org/x/") == item_id


def test_parse_label_url_compares_host_without_case() -> None:
    url = label_url("https://Retrace.Example.org", ITEM)
    assert parse_label_url(url, "https://retrace.example.org") == ITEM


@pytest.mark.parametrize(
    "text",
    [
        "",
        ITEM,
        f"/p/{ITEM}",
        f"https://retrace.example.org/q/{ITEM}",
        f"https://retrace.example.org/p/{ITEM}/",
        f"https://retrace.example.org/p/{ITEM}?utm=1",
        "https://retrace.example.org/p/",
        f"mailto:x/p/{ITEM}",
    ],
)
def test_parse_label_url_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case fails a different check
        parse_label_url(text)


def test_parse_label_url_refuses_another_site() -> None:
    url = label_url("https://other.example.org", ITEM)
    with pytest.raises(ValueError, match="another site"):
        parse_label_url(url, "https://retrace.example.org")
