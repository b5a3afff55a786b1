"""Demo access: the token file's format (explainlab/access_tokens.py) and the server's token list (server/access.py):
errors name the line and never the token, new tokens are owner-only, edits revoke without a restart, a bad edit
keeps the last good tokens, and sign-in redirects stay on this site."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from explainlab.access_tokens import TokenFileError, add_token, parse_tokens, read_tokens
from server.access import AccessList, RedactLinkTokens, safe_next

GOOD = "a" * 20


def test_parse_skips_comments_and_maps_tokens_to_names() -> None:
    text = f"# demo for the board\n\nalice {GOOD}\n  bob.smith@example-1   {'B' * 32}  \n"
    assert parse_tokens(text) == {GOOD: "alice", "B" * 32: "bob.smith@example-1"}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("alice", "two words"),
        (f"alice {GOOD} extra", "two words"),
        (f"al/ice {GOOD}", "a name is"),
        ("alice short", "a token is 20-256"),
        ("alice " + "a" * 19 + "!", "a token is 20-256"),
    ],
)
def test_a_malformed_line_is_named_and_its_token_not_repeated(line: str, says: str) -> None:
    with pytest.raises(TokenFileError, match=says) as caught:
        parse_tokens(f"# header\n{line}\n", "tokens.txt")
    assert "tokens.txt, line 2" in str(caught.value)
    assert "short" not in str(caught.value) and GOOD not in str(caught.value)


def test_names_and_tokens_are_unique() -> None:
    with pytest.raises(TokenFileError, match="line 2: the name 'alice' is already used"):
        parse_tokens(f"alice {GOOD}\nalice {'b' * 20}\n")
    with pytest.raises(TokenFileError, match="line 2: this token is already used"):
        parse_tokens(f"alice {GOOD}\nbob {GOOD}\n")


def test_a_missing_or_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot be read"):
        read_tokens(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    with pytest.raises(TokenFileError, match="no tokens"):
        read_tokens(tmp_path / "empty.txt")


def test_add_token_appends_owner_only_random_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    first = add_token(path, "alice")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    path.write_text(path.read_text().rstrip("\n"))  # a hand edit without the last newline
    second = add_token(path, "bob")
    assert first != second and len(first) == len(second) == 32
    assert read_tokens(path) == {first: "alice", second: "bob"}
    with pytest.raises(TokenFileError, match="'alice' already has a token"):
        add_token(path, "alice")
    with pytest.raises(TokenFileError, match="a name is"):
        add_token(path, "no spaces")


def _rewrite(path: Path, text: str) -> None:
    """Write and move the modification time on, as an edit a second later would."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_access_list_follows_edits_and_keeps_good_tokens_over_a_bad_edit(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text(f"alice {GOOD}\nbob {'b' * 20}\n")
    access = AccessList(path)
    assert access.user(GOOD) == "alice" and access.user("b" * 20) == "bob"
    assert access.user(None) is None and access.user("") is None and access.user(GOOD[:-1]) is None
    _rewrite(path, f"bob {'b' * 20}\n")  # alice revoked
    assert access.user(GOOD) is None and access.user("b" * 20) == "bob"
    _rewrite(path, "bob\n")  # a broken edit: the last good list stays
    assert access.user("b" * 20) == "bob"
    path.unlink()  # the file gone: nobody
    assert access.user("b" * 20) is None


def test_a_bad_file_stops_the_server_at_start(tmp_path: Path) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text("alice tooshort\n")
    with pytest.raises(TokenFileError, match="line 1"):
        AccessList(path)


@pytest.mark.parametrize(
    ("target", "goes"),
    [("/models?x=1", "/models?x=1"), ("", "/"), (None, "/"), ("//evil.example", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/")],
)  # fmt: skip
def test_sign_in_goes_back_only_to_this_site(target: str | None, goes: str) -> None:
    assert safe_next(target) == goes


def test_a_shared_links_token_is_kept_out_of_the_access_log() -> None:
    args = ("127.0.0.1:5000", "GET", f"/runs/ab?x=1&token={GOOD}&y=2", "1.1", 303)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)
    assert RedactLinkTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /runs/ab?x=1&token=<redacted>&y=2 HTTP/1.1" 303'
