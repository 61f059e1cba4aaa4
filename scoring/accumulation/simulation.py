"""The stochastic simulation of a book's year: attritional claims plus correlated events.

Years are simulated in blocks of :data:`YEARS_PER_BLOCK`; block ``b`` of a run seeded
``seed`` draws from ``SeedSequence(seed, spawn_key=(b,))`` alone, so a run's figures
depend on the seed and the number of years only - not on how the blocks are spread
over threads or Dask workers (``tests/test_accumulation_simulation.py``).

Attritional claims use the compound Poisson structure: a peril's claims in a year
over the whole book number Poisson(sum of the facilities' claims a year), and each
claim belongs to facility i with probability lambda_i / sum - the same as drawing
each facility's count alone, without a years x facilities matrix. Each claim is the
loss model's lognormal for its facility and peril, paid in the layer
(min(max(X - retention, 0), the peril's limit)), as the rating plan prices it.

Each event type of the catalogue strikes each vendor of its category as a Poisson
process; an event hits a Beta-distributed share of the vendor's clients (times each
facility's control factor), for a lognormal duration; a facility hit has one claim of
the event's peril, scaled by duration over the reference duration and by its
controls. A year's occurrence loss is the largest of its single claims and of its
events' totals over the book.

An event type of a category by name (the MSP compromise) strikes each MSP of the
book as its own vendor, at the same rate for each: a block draws all its events at
once (the count for all MSPs together, then each event's MSP uniformly - the same
Poisson processes), so a book of thousands of small MSPs costs one vectorised pass.
Each facility using an MSP it did not name is an MSP of its own. Those events are
also kept one by one (year, MSP, loss) for each MSP's part of the tail.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scoring.accumulation.catalogue import EventCatalogue, EventType
from scoring.accumulation.exposure import BookExposure
from scoring.accumulation.msp import NOT_NAMED
from scoring.rating.engine import PERILS

YEARS_PER_BLOCK = 250
"""Years drawn together from one child seed (part of what a seed means)."""


@dataclass(frozen=True)
class YearLosses:
    """Simulated years of a book (y years, s sources of correlated loss)."""

    aggregate: np.ndarray
    """The book's loss in the layer in each year: attritional plus events, (y,)."""
    occurrence: np.ndarray
    """The largest single occurrence of each year (a claim, or an event's total), (y,)."""
    attritional: np.ndarray
    """The independent claims' part of each year's loss, (y,)."""
    by_source: np.ndarray
    """Each (event type, vendor)'s loss in each year, (y, s)."""
    facilities_hit: np.ndarray
    """Facilities hit by events in each year, (y,)."""
    event_year: np.ndarray
    """Each event of a source by name (an MSP's) with a loss: its year in the run, (e,)."""
    event_source: np.ndarray
    """... the source (column of ``by_source``) it belongs to, (e,)."""
    event_group: np.ndarray
    """... the group it struck (:attr:`Source.groups`), (e,)."""
    event_loss: np.ndarray
    """... and its loss in the layer over the book, (e,)."""

    @staticmethod
    def joined(parts: list[YearLosses]) -> YearLosses:
        """The years of several runs, one after another."""
        return YearLosses(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in YearLosses.__annotations__)
        )


@dataclass(frozen=True)
class Source:
    """One source of correlated loss: an event type striking one vendor's clients."""

    event: EventType
    category: str
    vendor: str
    vendor_label: str
    clients: np.ndarray
    """Indices of the facilities depending on the vendor."""
    groups: np.ndarray | None = None
    """For a source by name: where each group's clients start in ``clients`` and where
    the last ends (g + 1 offsets); the named MSPs first, in key order, then each
    facility whose MSP is not named as a group of one."""


BY_NAME = "(each by name)"
"""The vendor of a source by name in the contributions table: each MSP apart."""


def _grouped_clients(
    index: np.ndarray, unnamed: np.ndarray, keys: int
) -> tuple[np.ndarray, np.ndarray]:
    """The clients of every group (named groups by key, then each unnamed facility
    alone) and the groups' offsets."""
    named = np.flatnonzero(index >= 0)
    order = named[np.argsort(index[named], kind="stable")]
    sizes = np.bincount(index[named], minlength=keys)
    alone = np.flatnonzero(unnamed)
    clients = np.concatenate([order, alone]).astype(np.int64)
    sizes = np.concatenate([sizes, np.ones(alone.size, dtype=np.int64)])
    return clients, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


class Simulator:
    """A book's exposure prepared for drawing years (holds no random state).

    Parameters
    ----------
    exposure : BookExposure
        The book.
    events : EventCatalogue
        The correlated events; ``correlated=False`` leaves them out (attritional only).
    """

    def __init__(
        self, exposure: BookExposure, events: EventCatalogue, *, correlated: bool = True
    ) -> None:
        self.exposure = exposure
        sigma = exposure.sigma
        with np.errstate(divide="ignore"):
            self.mu = np.log(exposure.mean_claim) - sigma**2 / 2
        self.total_frequency = exposure.frequency.sum(axis=0)
        self.cumulative = [np.cumsum(exposure.frequency[:, p]) for p in range(len(PERILS))]
        self.sources: list[Source] = []
        if correlated:
            for event in events.events:
                use = exposure.vendors[event.category]
                if use.category.by_name:
                    clients, groups = _grouped_clients(
                        use.index, use.code == NOT_NAMED, len(use.keys)
                    )
                    if clients.size and event.annual_rate > 0:
                        self.sources.append(
                            Source(
                                event, event.category, BY_NAME, use.category.label, clients, groups
                            )
                        )
                    continue
                for k, vendor in enumerate(use.category.vendors):
                    clients = np.flatnonzero(use.index == k)
                    if clients.size and event.annual_rate > 0:
                        self.sources.append(
                            Source(event, event.category, vendor.code, vendor.label, clients)
                        )

    def block(self, seed: int, block: int, years: int) -> YearLosses:
        """Draw ``years`` years (at most :data:`YEARS_PER_BLOCK`) of block ``block``."""
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))
        attritional, occurrence = self._attritional(rng, years)
        by_source = np.zeros((years, len(self.sources)))
        hit = np.zeros(years, dtype=np.int64)
        logged: list[tuple[np.ndarray, ...]] = []
        for s, source in enumerate(self.sources):
            if source.groups is None:
                self._events(rng, source, years, by_source[:, s], occurrence, hit)
            else:
                year, group, loss = self._group_events(
                    rng, source, years, by_source[:, s], occurrence, hit
                )
                kept = loss > 0
                first = block * YEARS_PER_BLOCK
                logged.append((year[kept] + first, np.full(kept.sum(), s), group[kept], loss[kept]))
        aggregate = attritional + by_source.sum(axis=1)
        # the log in 20 bytes an event: a run has at most 1,000,000 years and 2**31 groups
        log = [
            (np.concatenate([part[i] for part in logged]) if logged else np.zeros(0)).astype(kind)
            for i, kind in enumerate((np.int32, np.int32, np.int32, np.float64))
        ]
        return YearLosses(aggregate, occurrence, attritional, by_source, hit, *log)

    def _layer(self, facility: np.ndarray, peril: int, ground_up: np.ndarray) -> np.ndarray:
        e = self.exposure
        paid: np.ndarray = np.minimum(
            np.maximum(ground_up - e.retention[facility], 0.0), e.peril_limit[facility, peril]
        )
        return paid

    def _attritional(self, rng: np.random.Generator, years: int) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(years)
        largest = np.zeros(years)
        for p in range(len(PERILS)):
            rate = float(self.total_frequency[p])
            if rate <= 0:
                continue
            counts = rng.poisson(rate, size=years)
            n = int(counts.sum())
            if not n:
                continue
            facility = np.searchsorted(self.cumulative[p], rng.random(n) * rate, side="right")
            facility = np.minimum(facility, len(self.exposure) - 1)
            claim = np.exp(self.mu[facility, p] + self.exposure.sigma[p] * rng.standard_normal(n))
            paid = self._layer(facility, p, claim)
            year = np.repeat(np.arange(years), counts)
            total += np.bincount(year, paid, minlength=years)
            present = np.flatnonzero(counts)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[present]
            largest[present] = np.maximum(largest[present], np.maximum.reduceat(paid, starts))
        return total, largest

    def _events(
        self,
        rng: np.random.Generator,
        source: Source,
        years: int,
        loss: np.ndarray,
        occurrence: np.ndarray,
        hit: np.ndarray,
    ) -> None:
        event = source.event
        count = int(rng.poisson(event.annual_rate * years))
        if not count:
            return
        year = rng.integers(0, years, size=count)
        mean, conc = event.hit_share.mean, event.hit_share.concentration
        share = rng.beta(mean * conc, (1 - mean) * conc, size=count)
        duration = event.duration_days.median * np.exp(
            event.duration_days.sigma * rng.standard_normal(count)
        )
        clients = source.clients
        chance = self.exposure.hit_factor[event.code][clients]
        scale = self.exposure.loss_factor[event.code][clients]
        p = PERILS.index(event.peril)
        for k in range(count):
            struck = rng.random(clients.size) < np.minimum(share[k] * chance, 1.0)
            who = clients[struck]
            claim = np.exp(self.mu[who, p] + self.exposure.sigma[p] * rng.standard_normal(who.size))
            claim *= scale[struck] * (duration[k] / event.reference_days)
            paid = float(self._layer(who, p, claim).sum())
            loss[year[k]] += paid
            occurrence[year[k]] = max(occurrence[year[k]], paid)
            hit[year[k]] += who.size

    def _group_events(
        self,
        rng: np.random.Generator,
        source: Source,
        years: int,
        loss: np.ndarray,
        occurrence: np.ndarray,
        hit: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The events of a source by name in one block, all groups at once; each
        event's year (in the block), group and loss."""
        assert source.groups is not None
        event = source.event
        sizes = np.diff(source.groups)
        count = int(rng.poisson(event.annual_rate * sizes.size * years))
        if not count:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        group = rng.integers(0, sizes.size, size=count)
        year = rng.integers(0, years, size=count)
        mean, conc = event.hit_share.mean, event.hit_share.concentration
        share = rng.beta(mean * conc, (1 - mean) * conc, size=count)
        duration = event.duration_days.median * np.exp(
            event.duration_days.sigma * rng.standard_normal(count)
        )
        # every client of every event's group, event by event
        per_event = sizes[group]
        which = np.repeat(np.arange(count), per_event)
        ends = np.cumsum(per_event)
        position = np.arange(int(ends[-1])) - np.repeat(ends - per_event, per_event)
        clients = source.clients[np.repeat(source.groups[group], per_event) + position]
        chance = self.exposure.hit_factor[event.code][clients]
        struck = rng.random(clients.size) < np.minimum(share[which] * chance, 1.0)
        who, of = clients[struck], which[struck]
        p = PERILS.index(event.peril)
        claim = np.exp(self.mu[who, p] + self.exposure.sigma[p] * rng.standard_normal(who.size))
        claim *= self.exposure.loss_factor[event.code][who] * (duration[of] / event.reference_days)
        paid = np.bincount(of, self._layer(who, p, claim), minlength=count)
        loss += np.bincount(year, paid, minlength=years)
        np.maximum.at(occurrence, year, paid)
        hit += np.bincount(year[of], minlength=years)
        return year, group, paid


def blocks(years: int) -> Iterator[tuple[int, int]]:
    """The blocks of a run of ``years`` years: (block index, years in it)."""
    for b, start in enumerate(range(0, years, YEARS_PER_BLOCK)):
        yield b, min(YEARS_PER_BLOCK, years - start)


def simulate(simulator: Simulator, years: int, seed: int, *, workers: int = 1) -> YearLosses:
    """``years`` simulated years of the book, seeded; blocks drawn on ``workers``
    threads (the figures do not depend on it).

    Examples
    --------
    The simulated mean of a book's attritional losses is its expected loss in the
    layer, within simulation error (``tests/test_accumulation_simulation.py``).
    """
    if years < 1:
        raise ValueError(f"years must be at least 1; got {years}")
    jobs = list(blocks(years))
    if workers <= 1:
        parts = [simulator.block(seed, b, n) for b, n in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda job: simulator.block(seed, *job), jobs))
    return YearLosses.joined(parts)
