"""Access tokens for a lab shown to others (peers.md §4 item 11: no interactive XAI or attack UI has access control).

A token file is text, one ``name token`` pair a line; blank lines and lines starting with ``#`` are skipped. A name is
1-64 letters, digits or ``._@-`` and names a person or a demo; a token is 20-256 URL-safe characters
(``explainlab access-token NAME --file F`` appends one with 192 random bits). Names and tokens are unique. Errors name
the line, never the token. The file holds secrets: it is created readable by its owner only.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from explainlab.errors import ExplainlabError

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,256}")
TOKEN_BYTES = 24  # 192 bits, 32 characters


class TokenFileError(ExplainlabError):
    """A token file that is missing, unreadable or malformed; the message names the file and the line."""


def parse_tokens(text: str, source: str = "token file") -> dict[str, str]:
    """``{token: name}`` from a token file's text."""
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        parts = line.split()
        if len(parts) != 2:
            raise TokenFileError(f"{where}: expected 'name token' (two words), found {len(parts)} words")
        name, token = parts
        if not NAME.fullmatch(name):
            raise TokenFileError(f"{where}: a name is 1-64 letters, digits or . _ @ -")
        if not TOKEN.fullmatch(token):
            raise TokenFileError(
                f"{where}: a token is 20-256 characters of A-Z a-z 0-9 _ - "
                "(make one with: explainlab access-token NAME --file FILE)"
            )
        if name in tokens.values():
            raise TokenFileError(f"{where}: the name {name!r} is already used above")
        if token in tokens:
            raise TokenFileError(f"{where}: this token is already used above")
        tokens[token] = name
    return tokens


def read_tokens(path: Path) -> dict[str, str]:
    """``{token: name}`` from a token file; at least one token."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TokenFileError(f"token file {path}: cannot be read ({error.__class__.__name__})") from None
    tokens = parse_tokens(text, f"token file {path}")
    if not tokens:
        raise TokenFileError(f"token file {path}: no tokens (add one with: explainlab access-token NAME --file {path})")
    return tokens


def add_token(path: Path, name: str) -> str:
    """Append a new random token for ``name`` to the file (created owner-only if missing); return the token."""
    if not NAME.fullmatch(name):
        raise TokenFileError(f"name {name!r}: a name is 1-64 letters, digits or . _ @ -")
    path = Path(path)
    existing = parse_tokens(path.read_text(encoding="utf-8"), f"token file {path}") if path.exists() else {}
    if name in existing.values():
        raise TokenFileError(f"token file {path}: {name!r} already has a token (remove its line to revoke it)")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            out.write("\n")
        out.write(f"{name} {token}\n")
    return token
