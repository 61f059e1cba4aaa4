"""The same simulation on a Dask cluster, for books and runs beyond one machine.

The prepared :class:`~scoring.accumulation.simulation.Simulator` is sent to the
workers once (``Client.scatter``); each task draws one block of years with
:meth:`Simulator.block` - the function the local run calls - from the block's own
child seed, so a run gives the same years on any number of workers
(``tests/test_accumulation.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoring.accumulation.simulation import Simulator, YearLosses, blocks

if TYPE_CHECKING:
    from distributed import Client


def _block(simulator: Simulator, seed: int, block: int, years: int) -> YearLosses:
    return simulator.block(seed, block, years)


def simulate_on_dask(client: Client, simulator: Simulator, years: int, seed: int) -> YearLosses:
    """``years`` simulated years of the book, one task per block of years on the
    cluster ``client`` is connected to; the same years as
    :func:`~scoring.accumulation.simulation.simulate` with the same seed."""
    if years < 1:
        raise ValueError(f"years must be at least 1; got {years}")
    shared = client.scatter(simulator, broadcast=True)  # type: ignore[no-untyped-call]
    futures = [client.submit(_block, shared, seed, b, n, pure=False) for b, n in blocks(years)]
    gathered = client.gather(futures)  # type: ignore[no-untyped-call]
    return YearLosses.joined(list(gathered))
