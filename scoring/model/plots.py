"""PNG plots of a loss model's evaluation: ordered Lorenz curves and calibration by group.

matplotlib is imported inside the functions, so importing this module stays
cheap. Figures are drawn on matplotlib's Agg canvas directly (``Figure`` and
``FigureCanvasAgg``, not pyplot): no window can open, the caller's pyplot
backend and figure registry are left untouched, and a figure is released once
its last reference goes. The size, resolution and PNG metadata are fixed, so
the same inputs give the same bytes on the same matplotlib.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from scoring._outputs import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LORENZ_SIZE = (5.0, 5.0)
CALIBRATION_SIZE = (6.4, 4.8)
DPI = 100
_CALIBRATION_COLUMNS = ("group", "observed", "predicted", "ratio")


def _new_figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """A figure of ``size`` inches on an Agg canvas, with one set of axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure: Figure, path: Path) -> None:
    """Write ``figure`` as a PNG without a software tag, creating parent folders; whole or
    not at all, never through a symlink (:func:`~scoring._outputs.write_atomically`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    write_atomically(target, image.getvalue())


def plot_lorenz(
    curves: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]], path: Path, title: str
) -> None:
    """Draw ordered Lorenz curves, one line per name, with the diagonal dashed.

    Parameters
    ----------
    curves : dict of str to (x, y)
        Curves from :func:`scoring.model.metrics.lorenz_curve`, keyed by the
        legend label (for example ``"model (Gini 0.31)"``, ``"oracle"``).
    path : pathlib.Path
        Where to write the PNG; missing parent folders are created.
    title : str
        The figure title.
    """
    if not curves:
        raise ValueError("curves must name at least one curve; got none")
    for name, (x, y) in curves.items():
        if len(x) != len(y):
            raise ValueError(
                f"curve {name!r} must have x and y of the same length; got {len(x)} and {len(y)}"
            )
    figure, axes = _new_figure(LORENZ_SIZE)
    axes.plot([0.0, 1.0], [0.0, 1.0], linestyle="--", color="grey", linewidth=1, label="diagonal")
    for name, (x, y) in curves.items():
        axes.plot(x, y, linewidth=1.5, label=name)
    axes.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), title=title)
    axes.set_xlabel("cumulative share of exposure")
    axes.set_ylabel("cumulative share of losses")
    axes.set_aspect("equal")
    axes.legend(loc="upper left")
    _save(figure, path)


def plot_calibration(table: pd.DataFrame, path: Path, title: str) -> None:
    """Draw observed and predicted totals per group as paired bars, with the ratio above.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`scoring.model.metrics.calibration_table`: columns
        ``group``, ``observed``, ``predicted`` and ``ratio``.
    path : pathlib.Path
        Where to write the PNG; missing parent folders are created.
    title : str
        The figure title.
    """
    missing = [column for column in _CALIBRATION_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"table must have columns {list(_CALIBRATION_COLUMNS)}; missing {missing}")
    if table.empty:
        raise ValueError("table must have at least one group; got 0 rows")
    observed = table["observed"].to_numpy(dtype=np.float64)
    predicted = table["predicted"].to_numpy(dtype=np.float64)
    ratios = table["ratio"].to_numpy(dtype=np.float64)
    positions = np.arange(len(table), dtype=np.float64)
    width = 0.4
    figure, axes = _new_figure(CALIBRATION_SIZE)
    axes.bar(positions - width / 2, observed, width, label="observed")
    axes.bar(positions + width / 2, predicted, width, label="predicted")
    tops = np.maximum(observed, predicted)
    for position, top, ratio in zip(positions, tops, ratios, strict=True):
        text = "n/a" if math.isnan(ratio) else f"{ratio:.2f}"
        axes.annotate(
            text,
            (float(position), float(top)),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    axes.set_xticks(positions, [str(group) for group in table["group"]])
    axes.margins(y=0.15)
    axes.set(title=title, xlabel="group", ylabel="total losses")
    axes.legend(title="ratio = observed / predicted", loc="best", fontsize=8)
    _save(figure, path)
