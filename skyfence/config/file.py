"""`skyfence watch --config FILE`: a TOML file whose keys are the command's own options.

The keys are read from the command typer builds, not from a list kept here: an option added to
`watch` has its key the day it is added. A key is the option's long name without its dashes
(`--lost-contact 90` is `lost-contact = 90`, `--web` is `web = true`), a repeatable option takes
a list, and `[[source]]` tables give a source with its receiver's position. The values become
the command's defaults (click's `default_map`), so a flag on the command line wins over the file.

Every problem is collected before failing, each naming its key and line: a file fixed one error
per run is a file abandoned. `${NAME}` in a string is the environment variable NAME, so a
webhook token or a broker password need not be written in the file; an unset one is an error.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyfence.config.toml_lines import KeyLines, KeyPath
from skyfence.errors import InputError

SOURCE_KEY = "source"  # the one key with a table form: [[source]] url = ..., receiver = ...
SOURCE_TABLE_KEYS = ("url", "receiver")
RECEIVER_KEY = "receiver"  # also a table: receiver = {lat = ..., lon = ..., height_m = ...}
RECEIVER_KEYS = ("lat", "lon", "height_m")
FEED_SCHEMES = ("beast://", "avr://", "sbs://")  # the feeds whose URL carries ?receiver=
MIN_SECRET_CHARS = 4  # shorter values (a port, a flag) are written back in messages as they are
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def by_line(problems: list[str]) -> list[str]:
    """Problems in the file's order (`line N: ...`), as the user reads it; those of no line
    last."""

    def line(problem: str) -> int:
        found = re.match(r"line (\d+):", problem)
        return int(found.group(1)) if found else 1 << 30

    return sorted(problems, key=line)


class ConfigError(InputError):
    """A config file that cannot be used: every problem found, one per line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s):\n{listed}")


@dataclass(frozen=True, slots=True)
class OptionKey:
    """One option of the command as a config key: its parameter name and the values it takes."""

    key: str  # "lost-contact"
    name: str  # "lost_contact", the parameter's name (the default_map's key)
    kind: type | None  # bool, int, float, str or Path; None: any scalar, checked by the command
    repeated: bool  # a list in the file


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """A config file read and checked against the command's options."""

    path: Path
    defaults: dict[str, Any]  # parameter name -> value, for the command's `default_map`
    keys: dict[str, str] = field(default_factory=dict)  # parameter name -> its key in the file
    key_lines: KeyLines = field(default_factory=lambda: KeyLines(""))
    secrets: dict[str, str] = field(default_factory=dict)  # a variable's value -> "${NAME}"

    def redact(self, text: str) -> str:
        """`text` with every value taken from the environment written back as `${NAME}`: a
        message about a URL does not print the token in it."""
        for value in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(value, self.secrets[value])
        return text

    def line(self, name: str, index: int | None = None) -> int | None:
        """The line of a parameter's key in the file (of its `index`th item for a list)."""
        key = self.keys.get(name)
        if key is None:
            return None
        return self.key_lines.line((key,) if index is None else (key, index))


def option_keys(command: Any, exclude: tuple[str, ...] = ("config",)) -> dict[str, OptionKey]:
    """The config keys of a click command as typer builds it (`typer.main.get_command`): one
    per option, named after its long flag."""
    keys: dict[str, OptionKey] = {}
    for param in command.params:
        longs = [o for o in param.opts if o.startswith("--")]
        if param.param_type_name != "option" or not longs or param.name in exclude:
            continue
        if not param.expose_value:  # --install-completion and the like: actions, not settings
            continue
        kind = _CLICK_TYPES.get(getattr(param.type, "name", ""))
        if param.is_flag:
            kind = bool
        key = max(longs, key=len)[2:]
        keys[key] = OptionKey(key, param.name, kind, bool(param.multiple))
    return keys


# the names of click's types, as typer's own copy of click (0.26-0.28) or click itself gives them
_CLICK_TYPES: dict[str, type] = {
    "int": int,
    "integer": int,
    "int range": int,
    "integer range": int,
    "float": float,
    "float range": float,
    "str": str,
    "text": str,
    "boolean": bool,
    "path": Path,
}


def read_watch_config(
    path: Path, command: Any, environ: Mapping[str, str] | None = None
) -> WatchConfig:
    """The file's values as defaults for `command`, or a ConfigError listing every problem."""
    config, problems = parse_watch_config(path, command, environ)
    if problems:
        raise ConfigError(path, problems)
    return config


def parse_watch_config(
    path: Path, command: Any, environ: Mapping[str, str] | None = None
) -> tuple[WatchConfig, list[str]]:
    """The values that are right, and what is wrong with the others (`config check` goes on
    checking the right ones, so that one run lists everything)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return WatchConfig(path, {}), [f"cannot read it: {exc}"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message has the line and column
        return WatchConfig(path, {}), [f"not valid TOML: {exc}"]
    except RecursionError:  # arrays nested past Python's limit: a hostile file, not a traceback
        return WatchConfig(path, {}), ["not valid TOML: arrays or tables nested too deeply"]
    lines = KeyLines(text)
    reader = _Reader(path, lines, os.environ if environ is None else environ)
    defaults, keys = reader.read(data, option_keys(command))
    config = WatchConfig(path, defaults, keys, lines, reader.secrets)
    return config, by_line([config.redact(p) for p in reader.problems])


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


class _Reader:
    """One pass over the parsed file, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, lines: KeyLines, environ: Mapping[str, str]) -> None:
        self.path = path
        self.base = path.parent
        self.lines = lines
        self.environ = environ
        self.secrets: dict[str, str] = {}
        self.problems: list[str] = []

    def problem(self, where: KeyPath, message: str) -> None:
        line = self.lines.line(where)
        self.problems.append(f"line {line}: {message}" if line else message)

    def read(
        self, data: dict[str, Any], keys: dict[str, OptionKey]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """(parameter name -> value, parameter name -> key) of the keys that are right."""
        defaults: dict[str, Any] = {}
        names: dict[str, str] = {}
        for key, raw in data.items():
            option = keys.get(key)
            if option is None:
                close = difflib.get_close_matches(key, list(keys), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problem((key,), f"unknown key {key!r}{hint}; known: {', '.join(keys)}")
                continue
            value = self.substitute((key,), raw)
            checked: Any
            if key == SOURCE_KEY and option.repeated:
                checked = self.sources(value, keys)
            elif key == RECEIVER_KEY and isinstance(value, dict):
                checked = self.receiver((key,), value)
            else:
                checked = self.value((key,), option, value)
            if checked is not None:
                defaults[option.name] = checked
                names[option.name] = key
        return defaults, names

    def substitute(self, where: KeyPath, value: Any) -> Any:
        """`${NAME}` replaced by the environment variable in every string, at any depth."""
        if isinstance(value, str):

            def variable(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in self.environ:
                    self.problem(where, f"{_dotted(where)}: environment variable {name} is not set")
                    return ""
                value = self.environ[name]
                if len(value) >= MIN_SECRET_CHARS:
                    self.secrets[value] = match.group(0)
                return value

            return _ENV.sub(variable, value)
        if isinstance(value, list):
            return [self.substitute((*where, i), v) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.substitute((*where, k), v) for k, v in value.items()}
        return value

    def value(self, where: KeyPath, option: OptionKey, value: Any) -> Any:
        """The value as the command takes it, or None after recording what is wrong."""
        if option.repeated:
            if not isinstance(value, list):
                self.problem(where, f"{where[0]}: expected a list, e.g. {where[0]} = [...]")
                return None
            items = [self.scalar((*where, i), option, v) for i, v in enumerate(value)]
            return [i for i in items if i is not None]  # the others are problems already
        return self.scalar(where, option, value)

    def scalar(self, where: KeyPath, option: OptionKey, value: Any) -> Any:
        kind = option.kind
        if kind is None:  # the command's own conversion checks it
            if isinstance(value, str | int | float | bool):
                return value
            self.problem(where, f"{_dotted(where)}: expected a single value")
            return None
        ok = (
            isinstance(value, str)
            if kind is str or issubclass(kind, Path)
            else (isinstance(value, int | float) and not isinstance(value, bool))
            if kind is float
            else (isinstance(value, int) and not isinstance(value, bool))
            if kind is int
            else isinstance(value, bool)
        )
        if not ok:
            expected = _TYPE_NAMES.get(kind, "a path")
            got = type(value).__name__
            self.problem(where, f"{_dotted(where)}: expected {expected}, got {got} {value!r}")
            return None
        if kind is float:
            return float(value)
        if kind is not str and issubclass(kind, Path):
            return str(self.base / Path(value).expanduser())  # relative to the file's folder
        if option.key == "zones":
            return self.zone(value)
        return value

    def zone(self, entry: str) -> str:
        """A zone file relative to the config's folder; a bundled set's name as it is."""
        from skyfence.zones.bundled import bundled_path

        if bundled_path(entry) is not None:
            return entry
        return str(self.base / Path(entry).expanduser())

    def sources(self, value: Any, keys: Mapping[str, OptionKey]) -> list[str] | None:
        """`source = ["beast://..."]` or `[[source]]` tables, mixed as wished: each source's
        text as `--source` takes it, a feed's receiver in its URL."""
        where: KeyPath = (SOURCE_KEY,)
        if not isinstance(value, list):
            self.problem(where, "source: expected a list, e.g. source = [...] or [[source]]")
            return None
        texts: list[str | None] = []
        for i, item in enumerate(value):
            here = (*where, i)
            if isinstance(item, str):
                texts.append(self.source_text(here, item, None))
            elif isinstance(item, dict):
                texts.append(self.source_table(here, item, keys))
            else:
                self.problem(here, f"{_dotted(here)}: expected a URL, a file or a table")
                texts.append(None)
        return [t for t in texts if t is not None]  # the others are problems already

    def source_table(
        self, where: KeyPath, table: dict[str, Any], keys: Mapping[str, OptionKey]
    ) -> str | None:
        for key in table:
            if key not in SOURCE_TABLE_KEYS:
                known = ", ".join(SOURCE_TABLE_KEYS)
                # TOML puts every key below [[source]] in that table
                hint = "; top-level keys go above the first [[source]]" if key in keys else ""
                message = f"unknown key {key!r} in a source; known: {known}{hint}"
                self.problem((*where, key), message)
        url = table.get("url")
        if not isinstance(url, str):
            self.problem(where, f'{_dotted(where)}: a source needs url = "..." (a string)')
            return None
        receiver = None
        if "receiver" in table:
            receiver = self.receiver((*where, "receiver"), table["receiver"])
            if receiver is None:
                return None
        return self.source_text(where, url, receiver)

    def receiver(self, where: KeyPath, value: Any) -> str | None:
        """`{lat = ..., lon = ..., height_m = ...}` or "LAT,LON[,HEIGHT_M]", checked."""
        from skyfence.sources.receiver import parse_receiver

        if isinstance(value, dict):
            for key in value:
                if key not in RECEIVER_KEYS:
                    known = ", ".join(RECEIVER_KEYS)
                    message = f"unknown key {key!r} in a receiver; known: {known}"
                    self.problem((*where, key), message)
            numbers: list[Any] = [value[k] for k in RECEIVER_KEYS if k in value]
            if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
                self.problem(where, f"{_dotted(where)}: lat, lon and height_m are numbers")
                return None
            if "lat" not in value or "lon" not in value:
                self.problem(where, f"{_dotted(where)}: needs lat and lon (height_m optional)")
                return None
            text = ",".join(str(float(n)) for n in numbers)
        elif isinstance(value, str):
            text = value
        else:
            self.problem(where, f"{_dotted(where)}: expected {{lat = ..., lon = ...}}")
            return None
        try:
            parse_receiver(text)
        except ValueError as exc:
            self.problem(where, f"{_dotted(where)}: {exc}")
            return None
        return text

    def source_text(self, where: KeyPath, url: str, receiver: str | None) -> str | None:
        if "://" not in url:  # a recording: relative to the file's folder
            if receiver is not None:
                self.problem(
                    where,
                    f"{_dotted(where)}: a recording's receiver is the top-level receiver key "
                    "(only beast://, avr:// and sbs:// feeds carry their own)",
                )
                return None
            return str(self.base / Path(url).expanduser())
        if receiver is None:
            return url
        if not url.startswith(FEED_SCHEMES):
            self.problem(
                where, f"{_dotted(where)}: only beast://, avr:// and sbs:// feeds take a receiver"
            )
            return None
        if "?" in url:
            self.problem(where, f"{_dotted(where)}: receiver given twice (in the url and table)")
            return None
        return f"{url}?receiver={receiver}"


def _dotted(path: KeyPath) -> str:
    """`source[1].receiver`, as a user finds it in the file."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
