"""Every error class skyfence defines sits under one root, and the refusals users meet are raised
as such (a program embedding skyfence catches `SkyfenceError` and nothing escapes it)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import skyfence
from skyfence.errors import InputError, SkyfenceError
from skyfence.sources.live import parse_source_uri
from skyfence.sources.receiver import parse_receiver


def _package_modules() -> list[str]:
    skip = ("skyfence.__main__", "skyfence.scale.spark", "skyfence.cli")
    return [
        info.name
        for info in pkgutil.walk_packages(skyfence.__path__, "skyfence.")
        if not info.name.startswith(skip)
    ]


def test_every_error_class_of_the_package_derives_from_the_root() -> None:
    defined = []
    for name in _package_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("skyfence"):
                defined.append(cls)
    assert len(defined) >= 7  # the root, InputError, zone/recording/store/lookup/tool/server
    assert [cls for cls in defined if not issubclass(cls, SkyfenceError)] == []


@pytest.mark.parametrize(
    "refused",
    [
        lambda: parse_source_uri("beast://host:0"),
        lambda: parse_source_uri("gopher://host:30005"),
        lambda: parse_receiver("91,0"),
    ],
)
def test_refused_arguments_are_input_errors_and_still_value_errors(refused: object) -> None:
    with pytest.raises(InputError) as caught:
        refused()  # type: ignore[operator]
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)
