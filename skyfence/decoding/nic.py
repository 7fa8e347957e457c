"""Navigation integrity category (NIC) of ADS-B position messages.

An incursion judged on a position whose containment radius is several nautical miles is not the
same evidence as one judged on a 7.5 m fix, so every state vector carries a NIC. The NIC follows
from the position message's type code plus supplement bits sent elsewhere (NICa/NICs in the
operational status, TC 31; NICb in the position message). When a supplement is unknown the
lower of the possible values is used: an unknown integrity must never read as a better one.

ADS-B version 0 transmitters send no NIC but a NUCp, which the type code implies; the same table
gives the NIC whose containment radius is at least the NUCp's protection limit (DO-260/A/B
type code tables, as also tabulated in pyModeS).
"""

from __future__ import annotations

import numpy as np

from skyfence.arrays import F64, I8

# Type code -> NIC when the supplements do not matter or are unknown (lower bound).
_BASE_NIC = np.full(32, -1, np.int8)
_BASE_NIC[5:9] = [11, 10, 8, -1]  # surface; TC 8 depends on NICc, which we do not decode
_BASE_NIC[9:19] = [11, 10, 8, 7, 6, 5, 4, 2, 1, 0]  # airborne, barometric altitude
_BASE_NIC[20:23] = [11, 10, 0]  # airborne, GNSS height

# NUCp (version 0) -> NIC whose containment radius is at least the NUCp's protection limit.
_NUCP_TO_NIC = np.array([0, 1, 1, 4, 5, 6, 7, 8, 10, 11], np.int8)


def nic_from_typecode(tc: I8, nic_b: F64, nic_supp: F64, version2: F64) -> I8:
    """NIC per message from its type code and the supplement bits known at that time.

    `nic_b` is the position message's NICb bit, `nic_supp` the operational status' NICa (version
    2) or NICs (version 1), `version2` 1.0 when that status was a version 2 one; NaN = unknown.
    """
    tc_ok = (tc >= 0) & (tc < 32)
    nic = np.where(tc_ok, _BASE_NIC[np.clip(tc, 0, 31)], -1).astype(np.int8)
    supp = nic_supp == 1
    # Version 1 has a single supplement bit; version 2 needs NICa and NICb both set.
    both = supp & ((version2 == 0) | ((version2 == 1) & (nic_b == 1)))
    nic[(tc == 11) & both] = 9
    nic[(tc == 16) & both] = 3
    nic[(tc == 16) & np.isnan(version2)] = 1  # NUCp 2 (HPL < 10 NM) is only as good as NIC 1
    nic[(tc == 7) & supp] = 9
    return nic


def nic_from_nucp(nucp: F64) -> I8:
    """NIC of the same containment radius as a version 0 NUCp; -1 where NUCp is unknown."""
    ok = np.isfinite(nucp) & (nucp >= 0) & (nucp <= 9)
    out = np.full(nucp.shape, -1, np.int8)
    out[ok] = _NUCP_TO_NIC[nucp[ok].astype(np.int64)]
    return out
