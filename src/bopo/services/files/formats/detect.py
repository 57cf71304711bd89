"""Which format a file is in: said by the caller, or found from its header.

A header is recognised when it has the columns that only that format has: bopo's
own (`order_number`, `sku`, `qty` ...), Shopify's orders export (`Name`,
`Lineitem sku`, `Lineitem quantity` ...), an Amazon order report
(`amazon-order-id`, `sku`, `quantity-purchased` ...), or every column a mapping
profile reads. When none fits, or more than one, the import is refused with what
was expected and what was found, and a hint: the likely format, or the delimiter
that would split the header into columns.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from bopo.config import BUILT_IN_FORMATS, FormatProfile, Settings
from bopo.errors import FieldError, InvalidInput
from bopo.services.files.formats import amazon, mapped, shopify
from bopo.services.files.formats.reading import DELIMITERS, delimiter_name
from bopo.services.files.parsing import SO_COLUMNS, FileProblem

FORMATS = ("bopo", "shopify", "amazon", "mapped")
_BOPO_REQUIRED = tuple(c for c in SO_COLUMNS if c not in ("source", "priority"))


@dataclass(frozen=True)
class Choice:
    """A format, with its mapping profile for `mapped`."""

    name: str
    profile: FormatProfile | None = None

    def label(self) -> str:
        return f"mapped:{self.profile.name}" if self.profile else self.name


def _mapped_profiles(settings: Settings) -> list[FormatProfile]:
    return [p for n, p in settings.formats.items() if n not in BUILT_IN_FORMATS]


def choose(spec: str | None, settings: Settings) -> Choice | None:
    """The format a caller named (None to detect it); an unknown one is refused by name."""
    if spec is None or spec.strip() in {"", "auto"}:
        return None
    spec = spec.strip()
    name, _, profile_name = spec.partition(":")
    profiles = {p.name: p for p in _mapped_profiles(settings)}
    if name in ("bopo", "shopify", "amazon") and not profile_name:
        return Choice(name)
    if name == "mapped":
        if profile_name in profiles:
            return Choice("mapped", profiles[profile_name])
        if not profile_name and len(profiles) == 1:
            return Choice("mapped", next(iter(profiles.values())))
        known = ", ".join(f"mapped:{n}" for n in profiles) or "none: add a [format:NAME] section"
        what = f"no mapping profile {profile_name!r}" if profile_name else "name the profile"
        raise InvalidInput([FieldError("format", f"{what}; profiles: {known}")])
    if spec in profiles:
        return Choice("mapped", profiles[spec])
    choices = ", ".join([*FORMATS[:3], *(f"mapped:{n}" for n in profiles)])
    raise InvalidInput([FieldError("format", f"unknown format {spec!r}; choose {choices}")])


def _lower(header: Sequence[str]) -> set[str]:
    return {h.strip().lower() for h in header}


def bopo_matches(header: Sequence[str]) -> bool:
    return all(c in _lower(header) for c in _BOPO_REQUIRED)


def candidates(header: Sequence[str], settings: Settings) -> list[Choice]:
    found: list[Choice] = []
    if bopo_matches(header):
        found.append(Choice("bopo"))
    if shopify.matches(header):
        found.append(Choice("shopify"))
    if amazon.matches(header):
        found.append(Choice("amazon"))
    found.extend(
        Choice("mapped", p)
        for p in _mapped_profiles(settings)
        if not mapped.missing(p, list(header))
    )
    return found


def detect(header: Sequence[str], settings: Settings) -> Choice:
    found = candidates(header, settings)
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileProblem(mismatch(header, None, settings))
    both = " and ".join(c.label() for c in found)
    raise FileProblem(f"row 1: the header fits {both}; choose one with --format")


def expected(choice: Choice) -> list[str]:
    if choice.name == "bopo":
        return list(_BOPO_REQUIRED)
    if choice.name == "shopify":
        return list(shopify.REQUIRED)
    if choice.name == "amazon":
        return list(amazon.REQUIRED)
    assert choice.profile is not None
    return mapped.columns(choice.profile)


def missing(header: Sequence[str], choice: Choice) -> list[str]:
    if choice.name == "amazon":
        return amazon.missing(header)
    have = _lower(header)
    return [c for c in expected(choice) if c.lower() not in have]


def check_header(header: Sequence[str], choice: Choice, settings: Settings) -> None:
    """Refuse a file whose header lacks a column the format reads, saying what would fit."""
    if missing(header, choice):
        raise FileProblem(mismatch(header, choice, settings))


def mismatch(header: Sequence[str], choice: Choice | None, settings: Settings) -> str:
    found = ", ".join(h for h in header if h.strip()) or "(nothing)"
    if len(found) > 300:
        found = found[:300] + " ..."
    if choice is None:
        head = (
            "row 1: the header is not one bopo knows (bopo, shopify, amazon"
            + "".join(f", mapped:{p.name}" for p in _mapped_profiles(settings))
            + f"); found: {found}"
        )
    else:
        lost = missing(header, choice)
        head = (
            f"row 1: not a {choice.label()} header: missing {', '.join(lost)}; "
            f"expected {', '.join(expected(choice))}; found: {found}"
        )
    return f"{head}. {hint(header, choice, settings)}".rstrip(". ") + "."


def hint(header: Sequence[str], choice: Choice | None, settings: Settings) -> str:
    """The likely fix: another delimiter, another format, or the closest column names."""
    if len(header) == 1:
        counts = {d: header[0].count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return (
                f"The header is one column holding {counts[best]} {delimiter_name(best)}s: "
                f"is the file {delimiter_name(best)}-separated? (a profile's delimiter = {best})"
            )
    others = [c for c in candidates(header, settings) if choice is None or c != choice]
    if others:
        return f"It looks like {others[0].label()}: try --format {others[0].label()}"
    scores = []
    for option in [Choice("bopo"), Choice("shopify"), Choice("amazon")] + [
        Choice("mapped", p) for p in _mapped_profiles(settings)
    ]:
        want = expected(option)
        have = sum(1 for c in want if c.lower() in _lower(header))
        scores.append((have / len(want), option))
    score, best_choice = max(scores, key=lambda s: s[0])
    near = []
    if choice is not None:
        for c in missing(header, choice):
            close = difflib.get_close_matches(c.lower(), list(_lower(header)), n=1, cutoff=0.7)
            if close:
                near.append(f"{close[0]!r} for {c!r}?")
    if near:
        return "Perhaps " + ", ".join(near)
    if score >= 0.5 and (choice is None or best_choice != choice):
        return f"Closest: {best_choice.label()}"
    return ""
