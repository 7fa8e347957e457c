from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_file import watch_command, write

from skyfence.config.check import check_watch_config
from skyfence.config.file import ConfigError, option_keys

EXAMPLE = Path(__file__).parents[2] / "docs" / "skyfence.toml"


def test_a_broken_file_lists_every_problem_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """zones = ["demo", "missing.geojson"]
receiver = "43.6"
port = "80"
webhook = ["ftp://hooks.example.org/x"]
sorce = ["beast://a"]

[[source]]
url = "beast://radar.local:99999"

[[source]]
url = "missing.jsonl"

[[source]]
url = "beast://radar.local"
receiver = { lat = 43.6, lon = 1.4, height_m = 20000 }
""",
    )
    with pytest.raises(ConfigError) as raised:
        check_watch_config(path, watch_command())
    missing_zones = tmp_path / "missing.geojson"
    problems = raised.value.problems
    unknown = "line 5: unknown key 'sorce' (did you mean 'source'?); known: zones, source, store, "
    assert problems[4].startswith(unknown) and "lost-contact, " in problems[4]
    problems[4] = unknown  # the rest lists every flag of watch, which grows
    assert problems == [  # in the file's order
        f"line 1: {missing_zones}: cannot read zone file: No such file or directory (and it is "
        "not a bundled zone set: demo, ukraine)",
        "line 2: receiver '43.6': expected LAT,LON or LAT,LON,HEIGHT_M, e.g. 43.63,1.37,150",
        "line 3: port: expected an integer, got str '80'",
        "line 4: webhook URL 'ftp://hooks.example.org/x': expected http(s)://HOST[:PORT]/PATH",
        unknown,
        "line 7: invalid feed URI 'beast://radar.local:99999': Port out of range 0-65535",
        f"line 10: {tmp_path / 'missing.jsonl'}: no such recording",
        "line 15: source[2].receiver: receiver '43.6,1.4,20000.0': antenna height 20000.0 m "
        "is not on Earth",
    ]
    assert str(raised.value).startswith(f"{path}: 8 problem(s):\n  line 1: ")


def test_a_good_file_is_summarised_without_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "t0k3n")
    recording = tmp_path / "rec.jsonl"
    recording.write_text("", encoding="utf-8")
    path = write(
        tmp_path,
        'zones = ["demo", "ukraine"]\nsource = ["rec.jsonl", "beast://127.0.0.1"]\n'
        'webhook = ["http://127.0.0.1:9/hook?token=${HOOK_TOKEN}"]\n',
    )
    checked = check_watch_config(path, watch_command())
    assert checked.config.defaults["webhook"] == ["http://127.0.0.1:9/hook?token=t0k3n"]
    assert re.fullmatch(
        r"\d+ zones from 2 files or sets, 2 sources; also set: webhook", checked.summary
    )
    assert "t0k3n" not in checked.summary


def test_the_documented_example_is_valid_and_has_every_key_of_watch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SKYFENCE_WEBHOOK_TOKEN", "t0k3n")
    checked = check_watch_config(EXAMPLE, watch_command())
    assert checked.zones > 0 and len(checked.config.defaults["source"]) == 2
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in option_keys(watch_command()):  # set or shown commented out, with its meaning
        if key != "source":
            assert re.search(rf"^(# )?{re.escape(key)} = ", text, re.MULTILINE), key


def test_a_problem_shows_the_variable_not_the_secret_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "t0k3n-s3cret")
    monkeypatch.setenv("HOOK_PORT", "99999")
    path = write(
        tmp_path,
        'zones = ["demo"]\nwebhook = ["ftp://hooks.example.org/x?token=${HOOK_TOKEN}"]\n'
        'source = ["beast://radar.local:${HOOK_PORT}"]\n',
    )
    with pytest.raises(ConfigError) as raised:
        check_watch_config(path, watch_command())
    assert raised.value.problems == [
        "line 2: webhook URL 'ftp://hooks.example.org/x?token=${HOOK_TOKEN}': expected "
        "http(s)://HOST[:PORT]/PATH",
        "line 3: invalid feed URI 'beast://radar.local:${HOOK_PORT}': Port out of range 0-65535",
    ]
    assert "s3cret" not in str(raised.value)


def test_numbers_watch_refuses_at_start_are_found_with_their_line(tmp_path: Path) -> None:
    """`config check` said OK to these; `watch --config` then refused them (or, for a NaN
    look-ahead, hung): each is named with its line, the good ones are not."""
    path = write(
        tmp_path,
        """zones = ["demo"]
speed = nan
lost-contact = -5
lookahead = 36000
unhealthy-after = 30
port = 70000
metrics-port = 9108
""",
    )
    with pytest.raises(ConfigError) as raised:
        check_watch_config(path, watch_command())
    assert raised.value.problems == [
        "line 2: speed must be a finite number >= 0, got nan",
        "line 3: lost-contact must be a finite number > 0, got -5.0",
        "line 4: lookahead must be at most 3600, got 36000.0",
        "line 6: port must be a port number 0-65535, got 70000",
    ]


def test_a_lost_contact_time_of_zero_is_found_with_its_line(tmp_path: Path) -> None:
    """`lost-contact = 0` passed, and declared the AFR flight lost between every two fixes."""
    path = write(tmp_path, 'zones = ["demo"]\nlost-contact = 0\n')
    with pytest.raises(ConfigError) as raised:
        check_watch_config(path, watch_command())
    assert raised.value.problems == ["line 2: lost-contact must be a finite number > 0, got 0.0"]
