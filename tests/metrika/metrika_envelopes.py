"""Error answers in the shapes the Metrika API documents (see shared/reference/metrika-api.md)."""

from __future__ import annotations

import json


def envelope(status: int, error_type: str, message: str) -> bytes:
    """The documented error envelope, byte for byte as the API sends it."""
    return json.dumps(
        {"errors": [{"error_type": error_type, "message": message}], "code": status, "message": message}
    ).encode()


INVALID_TOKEN = envelope(403, "invalid_token", "Invalid oauth_token")
UNAUTHORIZED = envelope(401, "unauthorized", "Authorization is required")
ACCESS_DENIED = envelope(403, "access_denied", "Access is denied")
NOT_FOUND = envelope(404, "not_found", "Entity not found")
INVALID_PARAMETER = envelope(400, "invalid_parameter", "Wrong parameter: 'metrics', value: 'ym:s:nope'")
TOO_COMPLICATED = envelope(400, "query_error", "Query is too complicated. Please reduce the date interval or sampling.")
BACKEND_ERROR = envelope(503, "backend_error", "Backend error")
TIMEOUT = envelope(504, "timeout", "Timeout")
QUOTA_BY_IP = envelope(429, "quota_requests_by_ip", "Quota exceeded: requests per second from one IP")
QUOTA_PARALLEL = envelope(429, "quota_parallel_requests", "Quota exceeded: parallel requests")
QUOTA_BY_UID = envelope(429, "quota_requests_by_uid", "Quota exceeded: requests per day")
QUOTA_BY_COUNTER = envelope(429, "quota_requests_by_counter_id", "Quota exceeded for the counter")
HTML_500 = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
