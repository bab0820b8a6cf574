"""Every API error as {"code", "message"} (plus "fields" for invalid input); never a bare 500 page."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# The code is for programs and never translated; the message is for people, in the request's language (lazy:
# this table is built at import time).
_CODES = {
    exceptions.ParseError: ("invalid", _("リクエストの形式が正しくありません。")),
    exceptions.NotAuthenticated: ("not_authenticated", _("ログインが必要です。")),
    exceptions.AuthenticationFailed: ("not_authenticated", _("ログインの期限が切れたか無効です。")),
    exceptions.PermissionDenied: ("forbidden", _("この操作はできません。")),
    exceptions.NotFound: ("not_found", _("見つかりません。")),
    exceptions.MethodNotAllowed: ("method_not_allowed", _("このメソッドは使えません。")),
    exceptions.UnsupportedMediaType: ("invalid", _("JSON で送ってください。")),
    exceptions.Throttled: ("too_many_attempts", _("しばらく待ってから再度お試しください。")),
}


def error_answer(code: str, message: str, http_status: int, **more: Any) -> JsonResponse:
    """An API error answered by middleware, before DRF's views (a path this pool does not serve, a
    municipality without its schema, a NUL byte, the bulkhead, a suspension, the waiting room): the same
    {"code", "message"} body, with what else it says, its text in UTF-8 as DRF's renderer writes it (not as
    \\u escapes)."""
    return JsonResponse(
        {"code": code, "message": message, **more},
        status=http_status,
        json_dumps_params={"ensure_ascii": False},
    )


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
            "message": str(_("入力内容に誤りがあります。")),
            "fields": exc.detail,
        }
        return response
    for kind, (code, message) in _CODES.items():
        if isinstance(exc, kind):
            response.data = {"code": code, "message": str(message)}
            if isinstance(exc, exceptions.UnsupportedMediaType):
                response.status_code = (
                    status.HTTP_400_BAD_REQUEST
                )  # malformed input is a 400, whatever its kind
            return response
    response.data = {"code": "error", "message": str(getattr(exc, "detail", exc))}
    return response
