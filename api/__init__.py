"""The REST API (Discord API v10 on Quart-Trio): parse → call core → render. No SQL here."""

from api.server import serve_api

__all__ = ["serve_api"]
