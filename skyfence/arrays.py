"""The numpy array types the package's columns are written in, named once, and how to take rows.

Columns are typed by their dtype (`F64` for a float column, `U32` for ICAO addresses...), so a
signature says what a function takes without repeating `npt.NDArray[...]`. Ground floor: imports
only numpy.
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar, cast

import numpy as np
import numpy.typing as npt

F64: TypeAlias = npt.NDArray[np.float64]
I8: TypeAlias = npt.NDArray[np.int8]
I16: TypeAlias = npt.NDArray[np.int16]
I64: TypeAlias = npt.NDArray[np.int64]
U8: TypeAlias = npt.NDArray[np.uint8]
U32: TypeAlias = npt.NDArray[np.uint32]
U64: TypeAlias = npt.NDArray[np.uint64]
BOOL: TypeAlias = npt.NDArray[np.bool_]
STR: TypeAlias = npt.NDArray[np.str_]
OBJ: TypeAlias = npt.NDArray[np.object_]


Column = TypeVar("Column", bound=npt.NDArray[Any])


def rows_of(values: Column, rows: npt.NDArray[np.int64], every: bool) -> Column:
    """`values[rows]`, or the column itself when `every` row is taken (a view, no copy)."""
    return values if every else cast(Column, values[rows])
