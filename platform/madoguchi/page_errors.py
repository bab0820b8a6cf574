"""Whether a page shows errors, for its <title> (issue 15, WCAG 3.3.1): one home for every base template.

The title is rendered in <head>, before the body that shows the error summary, so the base template cannot
learn from its body that the submission failed. This tag looks at what the view put in the context instead:
a validated form (or formset) with errors, one of the names pages use for a refusal message, or an
error message (django.contrib.messages) left by a refused action. It is a
template builtin (settings.TEMPLATES), so base.html needs no {% load %}.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.contrib.messages import constants as message_levels
from django.forms import BaseForm, BaseFormSet
from django.template.context import Context
from django.utils.translation import gettext as _

register = template.Library()

# Context names under which views hand a page a refusal or a problem to show in its error summary.
ERROR_NAMES = ("problem", "refusal", "csv_problem", "missing", "page_error")


def _form_failed(value: object) -> bool:
    # Only a form already validated by the view counts: reading `.errors` of a bound form nobody validated
    # would validate it here and call a page with an untouched second form an error page.
    if isinstance(value, BaseForm):
        return value.is_bound and bool(getattr(value, "_errors", None))  # None until the view validated it
    if isinstance(value, BaseFormSet):
        validated = getattr(value, "_errors", None) is not None
        return value.is_bound and validated and value.total_error_count() > 0
    return False


def page_has_errors(context: Context | dict[str, Any]) -> bool:
    flat = context.flatten() if isinstance(context, Context) else context
    if any(flat.get(name) for name in ERROR_NAMES):
        return True
    if getattr(flat.get("selection"), "problems", None):  # the notice letters' card list
        return True
    # A refused action answered by a redirect shows its error as a message (the storage may be read twice in
    # one request: it keeps what it loaded, so the page still lists it).
    stored = flat.get("messages")
    if isinstance(stored, Iterable) and any(getattr(m, "level", 0) >= message_levels.ERROR for m in stored):
        return True
    return any(_form_failed(value) for value in flat.values())


@register.simple_tag(takes_context=True)
def error_title_prefix(context: Context) -> str:
    """「エラー: 」 before the page's title when the page shows errors (a screen reader says it first)."""
    return _("エラー: ") if page_has_errors(context) else ""
