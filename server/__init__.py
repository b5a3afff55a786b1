"""The thin web layer over explainlab: FastAPI app, JSON API, server-rendered pages (Jinja2 + htmx)."""

from server.main import create_app

__all__ = ["create_app"]
