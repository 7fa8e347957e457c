"""Delivery URLs as logs, metrics and the map show them: no secret, still told apart."""

from __future__ import annotations

from skyfence.alerts.destinations import destination_name


def test_the_secret_in_the_path_query_or_credentials_is_never_shown() -> None:
    discord = "https://discord.com/api/webhooks/123456/AbCdEf-secret?wait=true"
    name = destination_name(discord)
    assert (
        name.startswith("https://discord.com/…") and len(name) == len("https://discord.com/…") + 6
    )
    assert "secret" not in name and "123456" not in name
    with_password = destination_name("http://user:hunter2@[::1]:8080/hook?key=s3cr3t")
    assert with_password.startswith("http://[::1]:8080/…")
    assert "hunter2" not in with_password and "s3cr3t" not in with_password


def test_two_destinations_on_one_host_are_told_apart_and_each_keeps_its_name() -> None:
    a, b = "https://hooks.slack.com/services/T1/B1/x", "https://hooks.slack.com/services/T2/B2/y"
    assert destination_name(a) != destination_name(b)
    assert destination_name(a) == destination_name(a)
    assert destination_name("http://h:99999/x").startswith("…")  # a bad port: the digest only
