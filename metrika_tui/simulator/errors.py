"""The error envelope every non-2xx JSON answer of the real API carries, and the errors we send.

`{"errors":[{"error_type","message"}],"code","message"}`: handlers raise ApiError and the app
turns it into exactly that, so there is one place that knows the shape.
"""

from __future__ import annotations

import json

TOO_COMPLICATED = "Query is too complicated. Please reduce the date interval or sampling."


class ApiError(Exception):
    """An answer in the error envelope. `location` names the parameter at fault, when one is."""

    def __init__(self, status: int, error_type: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.location = location

    def envelope(self) -> dict:
        item = {"error_type": self.error_type, "message": self.message}
        if self.location:
            item["location"] = self.location
        return {"errors": [item], "code": self.status, "message": self.message}

    def body(self) -> bytes:
        return json.dumps(self.envelope(), ensure_ascii=False).encode()


def invalid_parameter(name: str, why: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"Wrong parameter '{name}': {why}", location=name)


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, "missing_parameter", f"Parameter '{name}' is required", location=name)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized: the Authorization header 'OAuth <token>' is missing")


def invalid_token() -> ApiError:
    return ApiError(403, "invalid_token", "Invalid oauth_token")


def access_denied(counter_id: int | str) -> ApiError:
    return ApiError(403, "access_denied", f"Access is denied to counter {counter_id}")


def not_found(path: str) -> ApiError:
    return ApiError(404, "not_found", f"Not found: {path}")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "method_not_allowed", f"Method {method} is not allowed here")


def too_complicated() -> ApiError:
    return ApiError(400, "query_error", TOO_COMPLICATED)


def backend_error() -> ApiError:
    return ApiError(503, "backend_error", "Backend error, please try again later")


def timeout() -> ApiError:
    return ApiError(504, "timeout", "Query execution timeout exceeded")


def quota(error_type: str, message: str) -> ApiError:
    return ApiError(429, error_type, message)


HTML_500 = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
