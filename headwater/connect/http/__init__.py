"""HTTP APIs: one client per API with its auth, retries, rate and concurrency limits."""

from headwater.connect.http.client import HttpClient
from headwater.connect.http.responses import json_body

__all__ = ["HttpClient", "json_body"]
