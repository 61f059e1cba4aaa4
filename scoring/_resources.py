"""Where the bundled data (questionnaires, models) lives.

In an installed wheel the data is inside the package (``scoring/_data``); in a
source checkout it is in the top-level folders. Both are found without reading
the environment.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The bundled folder ``name`` (``questionnaires`` or ``models``)."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name
