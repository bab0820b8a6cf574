"""`{% stop_notices %}`: the stop notice on every page of a municipality's site (base.html, SO-01)."""

from __future__ import annotations

from typing import Any

from django import template

from console.announcements import notices_for_request

register = template.Library()


@register.inclusion_tag("console/_stop_notice.html", takes_context=True)
def stop_notices(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    if request is None:  # a page rendered without a request (a mail, an error page without one)
        return {"notices": []}
    # staff and call-center screens (including the caller's flow under /staff/) keep working in a stop
    return {"notices": notices_for_request(request), "staff": request.path.startswith("/staff/")}
