"""The catalogue of framework references (HICP, HPH CPG, CIS v8) controls cite.

The catalogue is data (``questionnaires/frameworks.yaml``); the linter checks
every reference in a questionnaire against it, so a typo in ``cis: ["6.44"]``
is caught before a facility ever sees the advice.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HicpPractice(_Strict):
    """An HHS 405(d) HICP sub-practice, e.g. ``7.S.A``."""

    id: str = Field(pattern=r"^(10|[1-9])\.(S|M|L)\.[A-Z]$")
    practice: int = Field(ge=1, le=10)
    title: str


class CpgGoal(_Strict):
    """An HHS HPH Cybersecurity Performance Goal."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    tier: Literal["essential", "enhanced"]


class CisSafeguard(_Strict):
    """A CIS Controls v8 safeguard and the lowest implementation group that has it."""

    id: str = Field(pattern=r"^(1[0-8]|[1-9])\.(1[0-9]|[1-9])$")
    title: str
    ig: Literal[1, 2, 3]


class FrameworkCatalog(_Strict):
    """Every framework id a questionnaire may cite, with titles for reports."""

    hicp: tuple[HicpPractice, ...]
    cpg: tuple[CpgGoal, ...]
    cis: tuple[CisSafeguard, ...]
    sources: dict[str, str] = Field(default_factory=dict)

    @cached_property
    def titles(self) -> dict[str, dict[str, str]]:
        """``{"hicp": {id: title}, "cpg": {...}, "cis": {...}}``."""
        return {
            "hicp": {p.id: p.title for p in self.hicp},
            "cpg": {g.id: g.title for g in self.cpg},
            "cis": {s.id: s.title for s in self.cis},
        }
