"""The vendors synthetic facilities name: their IT company, its tool, their platforms.

A vendor market file (``models/synthetic-truth/<questionnaire>-vendors-<version>.yaml``)
says how the questions naming a shared vendor are answered, drawing every vendor's
share from one source: the vendor catalogue's market shares
(:mod:`scoring.accumulation.catalogue`), never copied into the file. For each
question of a catalogue category, a facility names

* a catalogued vendor at the catalogue's market share, else one of the file's
  ``rest`` codes (``other``, ``none``, ...) in the shares given for the rest of the
  category;
* or, for the file's stated share, ``not_sure``: drawn on the facility's latent
  maturity (:func:`scoring.synthetic.market.latent`), so more often at facilities of
  low maturity while the book's share is the declared one.

The IT company (MSP) is drawn from a synthetic roster of made-up regional companies
whose client counts are heavy-tailed (the k-th largest gets a share proportional to
``k^-s``), each with one remote-management tool drawn at the catalogue's shares: every
client of a company answers its tool, or ``not_sure``. A stated share of clients write
the company's name another way (capitals, a legal suffix). The roster follows from
the file alone (its own seed), so a company keeps its tool in every book; which
facilities it serves follows from the draw's random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from scoring.errors import DefinitionError, QuestionnaireError
from scoring.questionnaire.definition import Questionnaire
from scoring.synthetic.market import MarketRef, Mixture, latent, share_cut
from scoring.synthetic.truth import read_definition, synthetic_file
from scoring.vocabulary import AnswerKind

if TYPE_CHECKING:
    from scoring.accumulation.catalogue import Category, VendorCatalogue

NOT_SURE = "not_sure"
"""The answer of a facility that does not know its vendor."""
NAME_FORMS = ("{name}", "{NAME}", "{lower}")
"""How a name variant's form writes the company's name: as it is, in capitals, in
lower case."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotSure(_Strict):
    """The share of facilities answering ``not_sure``, with why."""

    share: float = Field(ge=0, lt=1)
    loading: float = Field(ge=0, lt=1)
    """Weight of maturity in the latent that decides it (0: independent of maturity)."""
    reason: str = Field(min_length=1)


class Platform(_Strict):
    """A question naming the vendor of one catalogue category."""

    category: str
    rest: dict[str, float] = Field(min_length=1)
    """How the facilities outside the catalogue's vendors answer (shares of the rest)."""
    rest_reason: str = Field(min_length=1)
    not_sure: NotSure


class Roster(_Strict):
    """The synthetic IT companies: made-up names and heavy-tailed client counts."""

    size: int = Field(ge=2, le=100_000)
    zipf_exponent: float = Field(gt=0, le=4)
    seed: int = Field(ge=0)
    reason: str = Field(min_length=1)
    places: tuple[str, ...] = Field(min_length=1)
    kinds: tuple[str, ...] = Field(min_length=1)


class Variants(_Strict):
    """The share of clients writing their company's name another way, and the ways."""

    share: float = Field(ge=0, lt=1)
    forms: tuple[str, ...] = Field(min_length=1)
    reason: str = Field(min_length=1)


class Msp(_Strict):
    """The IT company's name and its remote-management tool."""

    name_question: str
    tool_question: str
    tool: Platform
    roster: Roster
    variants: Variants


class VendorMarket(_Strict):
    """A vendor market file."""

    id: str
    version: str
    questionnaire: MarketRef
    catalogue: str
    """The id of the vendor catalogue whose market shares are drawn."""
    msp: Msp | None = None
    platforms: dict[str, Platform] = Field(default_factory=dict)

    @property
    def questions(self) -> frozenset[str]:
        """The questions this file answers."""
        msp = () if self.msp is None else (self.msp.name_question, self.msp.tool_question)
        return frozenset((*msp, *self.platforms))


def vendors_path(questionnaire_id: str, version: str) -> Path:
    """The bundled vendor market file of a questionnaire version (it may not exist)."""
    return synthetic_file(questionnaire_id, version, "vendors")


def load_vendor_market(path: Path) -> VendorMarket:
    """Read and validate a vendor market file (see :func:`check_vendor_market`).

    Raises
    ------
    QuestionnaireError
        If the file cannot be read or does not follow the file's structure.
    """
    return read_definition(path, VendorMarket)


@cache
@cache
def bundled_vendor_catalogue() -> VendorCatalogue:
    """The bundled vendor catalogue (the one the bundled event catalogue names)."""
    from scoring.accumulation.catalogue import load_catalogues

    return load_catalogues()[1]


def vendors_of(questionnaire: Questionnaire) -> tuple[VendorMarket, VendorCatalogue] | None:
    """The bundled vendor market of the newest version the questionnaire reads, with the
    vendor catalogue, or None when there is none that fits the questionnaire (its
    vendor questions are then answered generically)."""
    path = questionnaire.file_read(lambda version: vendors_path(questionnaire.id, version))
    if not path.is_file():
        return None
    market = load_vendor_market(path)
    try:
        catalogue = bundled_vendor_catalogue()
        check_vendor_market(market, questionnaire, catalogue)
    except DefinitionError:
        return None
    return market, catalogue


def check_vendor_market(
    market: VendorMarket, questionnaire: Questionnaire, catalogue: VendorCatalogue
) -> None:
    """Check a vendor market against a questionnaire that reads it and the catalogue;
    every problem is listed.

    Raises
    ------
    QuestionnaireError
        If a question is not asked or is not of the kind drawn, a category is not in
        the catalogue or names another question, a vendor or a rest code is not an
        answer of the question, the rest's shares do not add up to one, the roster
        has fewer names than companies, or a name form writes no name.
    """
    problems: list[str] = []
    ref = market.questionnaire
    refusal = questionnaire.refusal("the vendor market", ref.id, ref.version)
    if refusal:
        problems.append(refusal)
    if catalogue.id != market.catalogue:
        problems.append(
            f"catalogue: the vendor catalogue is {catalogue.id}; got {market.catalogue}"
        )
    platforms = dict(market.platforms)
    if market.msp is not None:
        msp = market.msp
        platforms[msp.tool_question] = msp.tool
        name = questionnaire.by_id.get(msp.name_question)
        if name is None or name.kind is not AnswerKind.TEXT:
            problems.append(f"msp.name_question: {msp.name_question!r} is not a text question")
        names = len(msp.roster.places) * len(msp.roster.kinds)
        if names < msp.roster.size:
            problems.append(f"msp.roster: {names} names for {msp.roster.size} companies")
        problems.extend(
            f"msp.variants: form {form!r} must write the name once as one of {NAME_FORMS}"
            for form in msp.variants.forms
            if sum(form.count(token) for token in NAME_FORMS) != 1
        )
    for qid, platform in platforms.items():
        problems.extend(
            f"{qid}: {p}" for p in _platform_problems(qid, platform, questionnaire, catalogue)
        )
    if problems:
        raise QuestionnaireError(market.id, problems)


def _platform_problems(
    qid: str, platform: Platform, questionnaire: Questionnaire, catalogue: VendorCatalogue
) -> list[str]:
    question = questionnaire.by_id.get(qid)
    if question is None or question.kind is not AnswerKind.SINGLE_CHOICE:
        return [f"not a single-choice question of {questionnaire.key}"]
    category = catalogue.by_code.get(platform.category)
    if category is None:
        return [f"no category {platform.category!r} in the catalogue {catalogue.id}"]
    problems = []
    if category.question not in (None, qid):
        problems.append(f"the category {category.code} is asked by {category.question}")
    answers = set(question.choice_codes)
    vendors = {v.code for v in category.vendors}
    if not vendors <= answers or NOT_SURE not in answers:
        problems.append(
            f"answers must include {NOT_SURE} and the vendors of {category.code} "
            f"{sorted(vendors)}; got {sorted(answers)}"
        )
    rest = set(platform.rest)
    if not rest <= answers - vendors - {NOT_SURE}:
        problems.append(
            f"rest must be answers that are no vendor of {category.code}; got {sorted(rest)}"
        )
    shares = platform.rest.values()
    if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-9:
        problems.append(f"rest's shares must be at least 0 and add up to 1; got {platform.rest}")
    return problems


def choice_shares(category: Category, platform: Platform) -> tuple[np.ndarray, np.ndarray]:
    """A sure facility's answers and their shares: the catalogue's vendors at their
    market shares, then the rest of the category in the shares of ``platform.rest``."""
    codes = [v.code for v in category.vendors]
    shares = [v.market_share for v in category.vendors]
    rest = max(0.0, 1.0 - sum(shares))
    codes += list(platform.rest)
    shares += [rest * share for share in platform.rest.values()]
    return np.asarray(codes, dtype=object), np.asarray(shares, dtype=np.float64)


def _pick(codes: np.ndarray, shares: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(shares)
    index = np.searchsorted(cumulative, uniform * cumulative[-1], side="right")
    return np.asarray(codes[np.minimum(index, codes.size - 1)], dtype=object)


@dataclass(frozen=True)
class Companies:
    """The roster: each company's name, share of the clients (largest first) and tool."""

    names: np.ndarray
    shares: np.ndarray
    tools: np.ndarray


def companies(msp: Msp, category: Category) -> Companies:
    """The synthetic IT companies of a vendor market; the same file gives the same
    roster (its names, client shares and tools), whatever the book's seed."""
    roster = msp.roster
    rng = np.random.default_rng(roster.seed)
    combined = [f"{place} {kind}" for place in roster.places for kind in roster.kinds]
    names = np.asarray(combined, dtype=object)[rng.permutation(len(combined))[: roster.size]]
    shares = np.arange(1, roster.size + 1, dtype=np.float64) ** -roster.zipf_exponent
    tools = _pick(*choice_shares(category, msp.tool), rng.random(roster.size))
    return Companies(names=names, shares=shares / shares.sum(), tools=tools)


def written(form: str, name: str) -> str:
    """A company's name as a variant's form writes it (``{NAME}, Inc.`` ...)."""
    return (
        form.replace("{NAME}", name.upper())
        .replace("{lower}", name.lower())
        .replace("{name}", name)
    )


class VendorAnswers:
    """The vendor answers of ``n`` facilities, question by question, from ``rng`` alone
    (a random stream the other answers do not draw from).

    ``mixture`` is the book's distribution of the maturity shift, on which the
    ``not_sure`` thresholds are solved (:func:`scoring.synthetic.market.share_cut`).
    """

    def __init__(
        self,
        market: VendorMarket,
        catalogue: VendorCatalogue,
        mixture: Mixture,
        rng: np.random.Generator,
    ) -> None:
        self.market = market
        self.catalogue = catalogue
        self.mixture = mixture
        self.rng = rng
        self._held: dict[str, np.ndarray] = {}

    def asks(self, question_id: str) -> bool:
        """Whether the vendor market answers this question."""
        return question_id in self.market.questions

    def answer(self, question_id: str, z: np.ndarray) -> pa.Array:
        """The answers of facilities of latent maturity ``z`` (every row; the caller
        blanks the rows the question does not apply to)."""
        msp = self.market.msp
        if msp is not None and question_id in (msp.name_question, msp.tool_question):
            if question_id not in self._held:
                names, tools = self._clients(msp, z)
                self._held = {msp.name_question: names, msp.tool_question: tools}
            return pa.array(self._held.pop(question_id), pa.string())
        platform = self.market.platforms[question_id]
        category = self.catalogue.by_code[platform.category]
        sure = _pick(*choice_shares(category, platform), self.rng.random(z.size))
        return pa.array(self._unsure(platform.not_sure, z, sure), pa.string())

    def _unsure(self, not_sure: NotSure, z: np.ndarray, sure: np.ndarray) -> np.ndarray:
        y = latent(self.rng, z, not_sure.loading)
        cut = share_cut(self.mixture, not_sure.share, not_sure.loading)
        return np.where(y < cut, NOT_SURE, sure)

    def _clients(self, msp: Msp, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each facility's company (its name as written) and the tool it answers."""
        roster = companies(msp, self.catalogue.by_code[msp.tool.category])
        n = z.size
        company = _pick(np.arange(roster.names.size), roster.shares, self.rng.random(n))
        index = company.astype(np.int64)
        names = roster.names[index].copy()
        varied = self.rng.random(n) < msp.variants.share
        forms = self.rng.integers(0, len(msp.variants.forms), size=n)
        for row in np.flatnonzero(varied):
            names[row] = written(msp.variants.forms[forms[row]], names[row])
        return names, self._unsure(msp.tool.not_sure, z, roster.tools[index])
