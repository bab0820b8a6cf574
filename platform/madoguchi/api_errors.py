"""Every API error as {"code", "message"} (plus "fields" for invalid input); never a bare 500 page."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

_CODES = {
    exceptions.ParseError: ("invalid", "リクエストの形式が正しくありません / malformed request"),
    exceptions.NotAuthenticated: ("not_authenticated", "ログインが必要です / authentication required"),
    exceptions.AuthenticationFailed: (
        "not_authenticated",
        "ログインの期限が切れたか無効です / invalid or expired token",
    ),
    exceptions.PermissionDenied: ("forbidden", "この操作はできません / not allowed"),
    exceptions.NotFound: ("not_found", "見つかりません / not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "このメソッドは使えません / method not allowed"),
    exceptions.UnsupportedMediaType: ("invalid", "JSON で送ってください / send JSON"),
    exceptions.Throttled: ("too_many_attempts", "しばらく待ってから再度お試しください / too many requests"),
}


class ApiError(exceptions.APIException):
    """An error with a stable code, raised by views."""

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = status.HTTP_400_BAD_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = http_status
        self.error_code = code
        self.headers = headers or {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(
            {"code": exc.error_code, "message": str(exc.detail)}, status=exc.status_code, headers=exc.headers
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "message": "入力内容に誤りがあります / invalid input",
            "fields": exc.detail,
        }
        return response
    for kind, (code, message) in _CODES.items():
        if isinstance(exc, kind):
            response.data = {"code": code, "message": message}
            if isinstance(exc, exceptions.UnsupportedMediaType):
                response.status_code = (
                    status.HTTP_400_BAD_REQUEST
                )  # malformed input is a 400, whatever its kind
            return response
    response.data = {"code": "error", "message": str(getattr(exc, "detail", exc))}
    return response
