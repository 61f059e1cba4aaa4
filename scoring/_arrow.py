"""Small conversions between pyarrow arrays and numpy, used across the pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

Mask = NDArray[np.bool_]


def single(column: pa.ChunkedArray) -> pa.Array:
    """A chunked column as one array: its only chunk when it has one (no copy, which
    ``combine_chunks`` would make), else its chunks joined."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks()


def to_mask(array: Any) -> Mask:
    """A boolean pyarrow array as a numpy mask; nulls count as False."""
    if getattr(array, "null_count", None) == 0:  # nothing to fill (most masks)
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.bool_)
    filled = pc.fill_null(array, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def to_numpy(array: Any, dtype: Any) -> NDArray[Any]:
    """Any pyarrow array as a numpy array of ``dtype`` (nulls become NaN / NaT / None)."""
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def where(mask: Mask, values: Any, other: Any) -> Any:
    """``values`` where ``mask`` holds, ``other`` elsewhere (a scalar, or an array)."""
    if isinstance(other, pa.DataType):
        other = pa.scalar(None, other)
    return pc.if_else(pa.array(mask, pa.bool_()), values, other)
