from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main

from skyfence.config.file import ConfigError, option_keys, parse_watch_config, read_watch_config


def watch_command() -> Any:
    from skyfence.cli import app

    group: Any = typer.main.get_command(app)
    return group.commands["watch"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skyfence.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    return parse_watch_config(path, watch_command(), environ or {})[1]


def test_every_option_of_watch_is_a_key_named_after_its_long_flag() -> None:
    command = watch_command()
    keys = option_keys(command)
    flags = {
        max((o for o in p.opts if o.startswith("--")), key=len)[2:]
        for p in command.params
        if p.name != "config"
    }
    assert set(keys) == flags
    assert keys["lost-contact"].name == "lost_contact" and keys["lost-contact"].kind is float
    assert keys["web"].kind is bool and not keys["web"].repeated
    assert keys["zones"].repeated and keys["source"].repeated and keys["webhook"].repeated
    assert keys["port"].kind is int and keys["store"].kind is Path


def test_an_option_added_to_a_command_has_its_key_without_touching_the_config_code(
    tmp_path: Path,
) -> None:
    app = typer.Typer()

    @app.command()
    def watch(
        mqtt: Annotated[str | None, typer.Option(help="mqtt://HOST")] = None,
        notify: Annotated[list[str] | None, typer.Option()] = None,
        quiet_hours: Annotated[int, typer.Option()] = 0,
    ) -> None:
        pass

    command = typer.main.get_command(app)
    assert set(option_keys(command)) == {"mqtt", "notify", "quiet-hours"}
    path = write(
        tmp_path,
        'mqtt = "mqtt://u:${PASSWORD}@127.0.0.1"\nnotify = ["ntfy://a", "tgram://b"]\n'
        "quiet-hours = 3\n",
    )
    config = read_watch_config(path, command, {"PASSWORD": "s3cret"})
    assert config.defaults == {
        "mqtt": "mqtt://u:s3cret@127.0.0.1",
        "notify": ["ntfy://a", "tgram://b"],
        "quiet_hours": 3,
    }


def test_values_sources_and_receivers_as_the_command_takes_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """zones = ["demo", "zones/local.geojson"]
speed = 0
lookahead = 120
web = true
port = 8080
allowed-host = ["radar.example.org"]
store = "events.sqlite"
receiver = { lat = 43.63, lon = 1.37, height_m = 150 }

[[source]]
url = "beast://192.168.1.10"
receiver = { lat = 48.85, lon = 2.35 }

[[source]]
url = "sbs://radar.local:30003"
receiver = "45.1,5.2,300"

[[source]]
url = "recordings/today.jsonl"

[[source]]
url = "http://radar.local/tar1090/data/aircraft.json"
""",
    )
    config = read_watch_config(path, watch_command(), {})
    assert config.defaults == {
        "zones": ["demo", str(tmp_path / "zones/local.geojson")],  # a set stays a name
        "speed": 0.0,
        "lookahead": 120.0,
        "web": True,
        "port": 8080,
        "allowed_host": ["radar.example.org"],
        "store": str(tmp_path / "events.sqlite"),  # paths: from the file's folder
        "receiver": "43.63,1.37,150.0",
        "source": [
            "beast://192.168.1.10?receiver=48.85,2.35",
            "sbs://radar.local:30003?receiver=45.1,5.2,300",
            str(tmp_path / "recordings/today.jsonl"),
            "http://radar.local/tar1090/data/aircraft.json",
        ],
    }
    assert config.line("port") == 5 and config.line("source", 2) == 18


def test_unknown_keys_are_named_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """zones = ["demo"]
lost_contact = 30

[[source]]
url = "beast://a"
receiver = { lat = 1, lon = 2, altitude = 3 }
colour = "blue"
""",
    )
    found = problems(path)
    assert found == [
        "line 2: unknown key 'lost_contact' (did you mean 'lost-contact'?); known: "
        + ", ".join(option_keys(watch_command())),
        "line 6: unknown key 'altitude' in a receiver; known: lat, lon, height_m",
        "line 7: unknown key 'colour' in a source; known: url, receiver",
    ]
    with pytest.raises(ConfigError, match="3 problem"):
        read_watch_config(path, watch_command(), {})


def test_wrong_types_name_the_key_the_line_and_the_expected_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """zones = "demo"
port = "8080"
web = 1
speed = true
webhook = ["http://127.0.0.1/hook", 3]
source = [42]
receiver = { lat = 100, lon = 2 }
""",
    )
    assert problems(path) == [
        "line 1: zones: expected a list, e.g. zones = [...]",
        "line 2: port: expected an integer, got str '8080'",
        "line 3: web: expected true or false, got int 1",
        "line 4: speed: expected a number, got bool True",
        "line 5: webhook[1]: expected a string, got int 3",
        "line 6: source[0]: expected a URL, a file or a table",
        "line 7: receiver: receiver '100.0,2.0': latitude or longitude out of range",
    ]


def test_environment_variables_fill_strings_and_an_unset_one_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'zones = ["demo"]\n\nwebhook = ["https://hooks.example/${HOOK_PATH}?token=${HOOK_TOKEN}"]\n'
        'source = ["beast://${RADAR_HOST}:30005"]\n',
    )
    environ = {"HOOK_PATH": "skyfence", "HOOK_TOKEN": "t0k3n", "RADAR_HOST": "radar.local"}
    config = read_watch_config(path, watch_command(), environ)
    assert config.defaults["webhook"] == ["https://hooks.example/skyfence?token=t0k3n"]
    assert config.defaults["source"] == ["beast://radar.local:30005"]
    assert problems(path, {"HOOK_PATH": "skyfence"}) == [
        "line 3: webhook[0]: environment variable HOOK_TOKEN is not set",
        "line 4: source[0]: environment variable RADAR_HOST is not set",
    ]


def test_a_recording_cannot_carry_a_receiver_and_a_feed_not_twice(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """[[source]]
url = "today.jsonl"
receiver = { lat = 1, lon = 2 }

[[source]]
url = "beast://a?receiver=1,2"
receiver = { lat = 1, lon = 2 }

[[source]]
receiver = { lat = 1, lon = 2 }
""",
    )
    found = problems(path)
    assert len(found) == 3
    assert found[0].startswith("line 1: source[0]: a recording's receiver is the top-level")
    assert found[1] == "line 5: source[1]: receiver given twice (in the url and table)"
    assert found[2] == 'line 9: source[2]: a source needs url = "..." (a string)'


def test_a_file_that_is_not_toml_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'zones = ["demo"]\nport = \n')
    assert problems(path) == ["not valid TOML: Invalid value (at line 2, column 8)"]
    missing = tmp_path / "nowhere.toml"
    [problem] = problems(missing)
    assert problem.startswith("cannot read it: ") and "nowhere.toml" in problem


def test_a_top_level_key_written_below_a_source_table_is_pointed_out(tmp_path: Path) -> None:
    """TOML puts every key below `[[source]]` in that table: the commonest slip."""
    path = write(tmp_path, '[[source]]\nurl = "beast://a"\n\nstore = "events.sqlite"\n')
    assert problems(path) == [
        "line 4: unknown key 'store' in a source; known: url, receiver; top-level keys go "
        "above the first [[source]]"
    ]


def test_a_plain_click_command_has_its_keys_and_types_too() -> None:
    """typer before 0.29 built click's own options: their types are read the same."""
    import click

    @click.command()
    @click.option("--port", type=int, default=8787)
    @click.option("--lost-contact", type=float, default=60.0)
    @click.option("--store", type=click.Path())
    @click.option("--zones", "-z", multiple=True)
    @click.option("--web/--no-web", default=False)
    def watch(**_: object) -> None:
        pass

    keys = option_keys(watch)
    assert {k: (o.kind, o.repeated) for k, o in keys.items()} == {
        "port": (int, False),
        "lost-contact": (float, False),
        "store": (Path, False),
        "zones": (str, True),
        "web": (bool, False),
    }


def test_arrays_nested_past_the_recursion_limit_are_a_problem_not_a_traceback(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, 'zones = ["demo"]\nsquawks = ' + "[" * 100_000 + "]" * 100_000 + "\n")
    assert problems(path) == ["not valid TOML: arrays or tables nested too deeply"]
