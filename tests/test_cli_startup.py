"""The CLI starts without the heavy libraries: `skyfence --help` and `zones list` must feel instant
(bench/startup.py measures them); each command imports what it needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

# each of these costs 50-400 ms to import, and none is needed to parse a command line
HEAVY = (
    "numpy",
    "pyarrow",
    "shapely",
    "pyproj",
    "fastapi",
    "uvicorn",
    "starlette",
    "matplotlib",
    "pyspark",
    "pyModeS",
    "rs1090",
    "pandas",
    "rich.live",
    "skyfence.reporting",
    "skyfence.web.server",
    "paho",  # watch --mqtt only
)


def loaded_after(code: str) -> set[str]:
    """The modules loaded by a fresh interpreter after `code`, in a subprocess so that the test
    session's own imports do not hide anything."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    modules = loaded_after("import skyfence.cli")
    assert "skyfence.cli" in modules
    assert heavy(modules) == []


def test_importing_the_package_loads_no_heavy_module() -> None:
    assert heavy(loaded_after("import skyfence")) == []


def test_help_and_zones_list_load_no_heavy_module() -> None:
    for argv in (["--help"], ["zones", "list"], ["audit", "--help"]):
        code = (
            f"import sys; sys.argv = ['skyfence', *{argv!r}]\n"
            "from skyfence.cli import app\n"
            "try:\n    app()\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        )
        modules = loaded_after(code)
        assert "skyfence.cli" in modules
        assert heavy(modules) == [], argv


def test_a_command_still_loads_what_it_needs() -> None:
    """The laziness is in the CLI's wiring only: a command that audits does load the engine."""
    code = (
        "import sys; sys.argv = ['skyfence', 'zones', 'show', 'demo']\n"
        "from skyfence.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
    )
    modules = loaded_after(code)
    assert {"shapely", "pyproj", "skyfence.zones.geojson"} <= modules
