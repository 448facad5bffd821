"""The last-line redaction: configured secrets and server paths never leave stackplan."""

from __future__ import annotations

import logging

from planner.redact import REDACTED, Redactor, default_redactor, install_log_redaction, short_secrets


def test_secrets_and_paths_are_replaced_in_text_and_values():
    r = Redactor(["ghp_abcdef123", ""], {"/srv/state": "<state>", "/srv/repo": "<repo>", "/root": "~"})
    text = (
        "token ghp_abcdef123 in /srv/state/checkouts/" + "a" * 40 + "/recipes/x/meta.yaml:3,"
        " clone /srv/repo/.git, home /root/.cache, not /rootfs nor x-ray"
    )
    assert r.text(text) == (
        f"token {REDACTED} in recipes/x/meta.yaml:3, clone <repo>/.git, home ~/.cache, not /rootfs nor x-ray"
    )
    value = {"root": "/srv/state/checkouts/" + "b" * 40, "nodes": [{"error": "/srv/repo/x ghp_abcdef123"}]}
    assert r.value(value, keep=("root",)) == {
        "root": value["root"],
        "nodes": [{"error": f"<repo>/x {REDACTED}"}],
    }


def test_a_short_secret_is_redacted_too_never_left_in_clear():
    """No length lets a configured secret through: a 3-letter one blanks ordinary text where it
    occurs (serve refuses to start with one, tests/test_webhook.py), but never shows."""
    r = Redactor(["abc", "tok", "abc-long-secret"])
    assert r.text("abc abcd abc-long-secret tok, attokens") == (
        f"{REDACTED} {REDACTED}d {REDACTED} {REDACTED}, at{REDACTED}ens"
    )
    # a secret that occurs in the marker does not re-match what the redaction inserted
    assert Redactor(["act", "red"]).text("red act") == f"{REDACTED} {REDACTED}"
    env = {"GITHUB_TOKEN": "ab1", "STACKPLAN_WEBHOOK_SECRET": "long-enough", "SLACK_WEBHOOK_URL": ""}
    assert default_redactor(env).text("ab1 long-enough") == f"{REDACTED} {REDACTED}"
    assert short_secrets(env) == ["GITHUB_TOKEN"]


def test_default_redactor_reads_the_configured_secrets():
    env = {"GITHUB_TOKEN": "ghp_tok_1234", "SLACK_WEBHOOK_URL": "https://hooks.example/T/B/c"}
    env["HOME"] = "/h/me"
    r = default_redactor(env)
    assert r.text("a ghp_tok_1234 b https://hooks.example/T/B/c /h/me/x") == f"a {REDACTED} b {REDACTED} ~/x"


def test_log_records_are_redacted_whatever_the_logger(monkeypatch, caplog):
    monkeypatch.setenv("STACKPLAN_WEBHOOK_SECRET", "hook-secret-value")
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("got %s", "hook-secret-value")
        try:
            raise ValueError("hook-secret-value")
        except ValueError:
            logging.getLogger("stackplan.x").exception("failed")
    assert "hook-secret-value" not in caplog.text
    assert REDACTED in caplog.text
