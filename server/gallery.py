"""The sample gallery shipped in static/gallery (made by scripts/make_gallery.py from the datasets' test splits)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from server.errors import ApiError

GALLERY_ID = re.compile(r"^[a-z0-9_]+-[0-9]+$")


class Gallery:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._items: dict[str, dict[str, Any]] | None = None

    def items(self) -> list[dict[str, Any]]:
        if self._items is None:
            index = self.root / "index.json"
            data = json.loads(index.read_text()) if index.is_file() else {"items": []}
            self._items = {item["id"]: item for item in data.get("items", [])}
        return list(self._items.values())

    def item(self, gallery_id: str) -> dict[str, Any]:
        self.items()
        assert self._items is not None
        if not GALLERY_ID.match(gallery_id) or gallery_id not in self._items:
            some = ", ".join(list(self._items)[:6])
            raise ApiError(
                422,
                "unknown_gallery_id",
                f"gallery: unknown id {gallery_id[:40]!r}; e.g. {some} (GET /gallery)",
                "gallery",
            )
        return self._items[gallery_id]

    def read(self, gallery_id: str) -> bytes:
        return (self.root / self.item(gallery_id)["file"]).read_bytes()

    def url(self, item: dict[str, Any]) -> str:
        return f"/static/gallery/{item['file']}"
