"""The choice of a counter and a day that the transfer-list and counter screens both start from."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.lib.dates import plausible_day
from booking.lib.typed_fields import TypedDateField
from booking.models import Place


class PlaceDayForm(forms.Form):
    """A counter and a day; a day outside 2000–2099 is a typing error, never a list (nor date overflow)."""

    place = forms.ModelChoiceField(label=gettext_lazy("窓口"), queryset=Place.objects.all())
    day = TypedDateField(label=gettext_lazy("日付"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_day(self) -> dt.date:
        day: dt.date = self.cleaned_data["day"]
        if not plausible_day(day):
            raise forms.ValidationError(_("2000年から2099年までの日付を入力してください。"))
        return day
