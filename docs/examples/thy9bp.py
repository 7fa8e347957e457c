# %% [markdown]
# # A spoofed flight, audited from a notebook
#
# Turkish Airlines THY9BP, Istanbul to Stockholm, 17 September 2024 (OpenSky state vectors,
# shipped with skyfence from the `traffic` library's samples). Over Romania its GNSS receiver
# was jammed, then spoofed: for 35 minutes it reported a point inside Lviv FIR while it really
# flew over Poland. Each cell runs as it is in a notebook; the test suite runs the whole file.

# %%
from importlib.resources import files
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed; a notebook shows the figure inline anyway
import matplotlib.pyplot as plt
import shapely
from traffic.core import Traffic

import skyfence

recording = Path(str(files("skyfence") / "samples" / "thy9bp_spoofing_2024-09-17.json.gz"))
flight = Traffic.from_file(recording)["THY9BP"]
print(flight.start, flight.stop, len(flight.data), "state vectors")

# %% [markdown]
# ## The audit
#
# `skyfence.audit` takes the `traffic` Flight as it is, and returns a pyarrow Table with the
# columns of `skyfence audit -o events.parquet`: the same events, with the same ids.

# %%
zones = skyfence.load_zones("ukraine")
events = skyfence.audit(flight, zones).to_pandas()
print(events[["kind", "zone_id", "callsign", "time", "lat", "lon", "altitude_ft"]])

# %% [markdown]
# One `suspect_position` and no `entry`: the spoofed fixes are quarantined, not believed.
# `details` says why (a ground speed no airliner flies at FL380) and which zone the false
# position claims.

# %%
suspect = events[events.kind == "suspect_position"].iloc[0]
print(suspect.time, suspect.lat, suspect.lon, suspect.details)
assert not (events.kind == "entry").any()

# %% [markdown]
# ## The track against Lviv FIR
#
# How many of the recorded positions fall inside the zone: a monitor that believed them would
# have reported an incursion.

# %%
uklv = next(z for z in zones if z.id == "UKLV")
lon, lat = flight.data.longitude.to_numpy(), flight.data.latitude.to_numpy()
claimed = shapely.contains_xy(uklv.geometry, lon, lat)
print(f"{int(claimed.sum())} of {len(lat)} recorded positions claim to be inside {uklv.name}")

figure, ax = plt.subplots(figsize=(7, 6), dpi=80)
for polygon in getattr(uklv.geometry, "geoms", [uklv.geometry]):
    ax.fill(*polygon.exterior.xy, color="tab:red", alpha=0.15, label=f"{uklv.id} (closed)")
ax.plot(lon[~claimed], lat[~claimed], ".", ms=1, color="tab:blue", label="recorded track")
ax.plot(lon[claimed], lat[claimed], "x", ms=6, color="tab:orange", label="spoofed positions")
ax.plot(suspect.lon, suspect.lat, "o", ms=12, mfc="none", mew=2, color="black",
        label="suspect_position event")  # fmt: skip
handles, labels = ax.get_legend_handles_labels()
unique = dict(zip(labels, handles, strict=True))
ax.legend(unique.values(), unique.keys(), loc="lower left")
ax.set(xlabel="longitude", ylabel="latitude", title=f"{flight.callsign}, {flight.start:%Y-%m-%d}")
figure_path = Path("thy9bp.png")
figure.savefig(figure_path, bbox_inches="tight")
print("figure written to", figure_path.resolve())
