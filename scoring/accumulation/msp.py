"""The MSP as a vendor of its own: facilities grouped by the name they give their
outside IT company (``msp_name``, free text).

A name is reduced to a key so that the ways one company is written meet
(:func:`msp_key`):

* Unicode compatibility forms folded (NFKC), accents dropped, any case;
* ``&`` read as ``and``; every run of anything but letters and digits is one space
  (``A.B.C. Networks`` and ``ABC Networks`` stay apart: dots are not removed
  between letters, as initials and words cannot be told apart);
* a leading ``the`` dropped;
* at the end, repeatedly, a company form (Inc, Incorporated, LLC, L.L.C., Ltd,
  Limited, Co, Corp, Corporation, Company, LP, LLP, PLLC, PLC) and the trade
  descriptors ``IT``, ``IT services``, ``IT service``, ``IT solutions`` and
  ``IT support`` - never down to nothing.

The descriptors are dropped because facility staff write the company's name with or
without its trade (``Acme``, ``Acme IT``, ``Acme IT Services, LLC``, all one firm on
its invoices); words that name a different business (``Networks``, ``Technologies``,
``Consulting``) are kept. Two firms that differ only by those descriptors are then
counted as one: the error falls on the side of more concentration, the prudent side
for a tail figure, and the MSP table shows how many spellings each key gathered.

A facility that uses an MSP but leaves its name blank, unknown, not applicable or
``none`` is *not named*: it is counted apart and, in the simulation, is its own MSP
(never pooled with the other unnamed ones into one large MSP).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd

from scoring.accumulation.catalogue import NOT_EXPOSED
from scoring.portfolio.book_answers import written_text

NOT_NAMED = "(not named)"
"""The code of a facility using an MSP without naming it (no key reads so)."""
LABEL_CHARS = 60
"""The longest MSP name shown in the report (a longer one is cut, with ``...``)."""

_FORMS = (
    ("inc",),
    ("incorporated",),
    ("llc",),
    ("l", "l", "c"),
    ("ltd",),
    ("limited",),
    ("co",),
    ("corp",),
    ("corporation",),
    ("company",),
    ("lp",),
    ("l", "p"),
    ("llp",),
    ("l", "l", "p"),
    ("pllc",),
    ("plc",),
)
_DESCRIPTORS = (
    ("it",),
    ("it", "services"),
    ("it", "service"),
    ("it", "solutions"),
    ("it", "support"),
)
_ENDINGS = sorted(_FORMS + _DESCRIPTORS, key=len, reverse=True)
_SAYS_NOTHING = frozenset(
    {
        "",
        "unknown",
        "not sure",
        "dont know",
        "don t know",
        "not known",
        "n a",
        "na",
        "not applicable",
        "none",
        "no",
    }
)


def msp_key(name: object) -> str | None:
    """The key an MSP's name is grouped by (the module docstring), or None when the
    answer names no company.

    Examples
    --------
    >>> msp_key("Acme IT Services, LLC"), msp_key("  ACME  it "), msp_key("The Acme Co.")
    ('acme', 'acme', 'acme')
    >>> msp_key("Smith & Jones Networks Inc."), msp_key("smith and jones networks")
    ('smith and jones networks', 'smith and jones networks')
    >>> msp_key("IT Services LLC"), msp_key("%unknown"), msp_key(None)
    ('it services', None, None)
    """
    if not isinstance(name, str):
        return None
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")
    words = re.sub(r"[\W_]+", " ", text).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    stripped = True
    while stripped:
        stripped = False
        for ending in _ENDINGS:
            if len(words) > len(ending) and tuple(words[-len(ending) :]) == ending:
                words = words[: -len(ending)]
                stripped = True
                break
    key = " ".join(words)
    return None if key in _SAYS_NOTHING else key


def shown(name: str) -> str:
    """An MSP's name as the report shows it: every run of spaces, tabs and line breaks
    one space, at most :data:`LABEL_CHARS` characters (escaped by each writer)."""
    text = " ".join(name.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3].rstrip() + "..."


def _label(spellings: Counter[str]) -> str:
    """The most common spelling (the first in text order among the most common)."""
    best = max(spellings.values())
    return shown(min(s for s, n in spellings.items() if n == best))


def msp_groups(
    answers: Iterable[object], exposed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """Each facility's MSP from its answer naming it (a scored book's canonical text;
    ``exposed`` where the facility uses an MSP at all).

    Returns
    -------
    index, code, keys, labels, spellings
        ``index`` into ``keys`` per facility (-1 for none and not named); ``code`` the
        key, ``none`` (not exposed) or :data:`NOT_NAMED`; the keys sorted, each
        one's shown name and its number of distinct spellings.
    """
    texts = [written_text(a) if isinstance(a, str) else None for a in answers]
    keys_of = {t: msp_key(t) for t in set(texts) if t is not None}
    facility_keys = [keys_of[t] if t is not None else None for t in texts]
    spellings: dict[str, Counter[str]] = {}
    for text, key, on in zip(texts, facility_keys, exposed, strict=True):
        if on and key is not None and text is not None:
            spellings.setdefault(key, Counter())[" ".join(text.split())] += 1
    keys = tuple(sorted(spellings))
    position = {k: i for i, k in enumerate(keys)}
    index = np.array(
        [
            position[k] if on and k is not None else -1
            for k, on in zip(facility_keys, exposed, strict=True)
        ],
        dtype=np.int64,
    )
    code = np.array(
        [
            NOT_EXPOSED if not on else (k if k is not None else NOT_NAMED)
            for k, on in zip(facility_keys, exposed, strict=True)
        ],
        dtype=object,
    )
    labels = tuple(_label(spellings[k]) for k in keys)
    return index, code, keys, labels, tuple(len(spellings[k]) for k in keys)


def msp_table(
    index: np.ndarray,
    code: np.ndarray,
    keys: tuple[str, ...],
    labels: tuple[str, ...],
    spellings: tuple[int, ...],
    amounts: pd.DataFrame,
) -> pd.DataFrame:
    """Per MSP (by key, then one row for the facilities that name none): facilities,
    spellings, and the sums of ``amounts``' columns (one row per facility)."""
    named = index >= 0
    frame = amounts.loc[named].groupby(index[named], sort=True).sum()
    frame = frame.reindex(range(len(keys)), fill_value=0)
    facilities = np.bincount(index[named], minlength=len(keys))
    table = pd.DataFrame(
        {"msp": list(keys), "name": list(labels), "spellings": list(spellings)}
    ).assign(facilities=facilities)
    table = pd.concat([table, frame.reset_index(drop=True)], axis=1)
    unnamed = code == NOT_NAMED
    if unnamed.any():
        row = {"msp": "", "name": NOT_NAMED, "spellings": 0, "facilities": int(unnamed.sum())}
        row |= {c: float(amounts.loc[unnamed, c].sum()) for c in amounts.columns}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return table.astype({"spellings": np.int64, "facilities": np.int64})
