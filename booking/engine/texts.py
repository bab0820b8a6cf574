"""The municipality's own texts in a language: the English version where the municipality wrote one, else the
Japanese one, marked so that an English page can say `lang="ja"` around it (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as _

from booking.lib.phone import format_phone
from booking.models import Booking, BookingSettings, Service

# The texts that have an English version; the English field is the same name with "_en".
ENGLISH_VERSIONED = (
    "text_top",
    "text_bring",
    "text_done",
    "confirmation_mail_text",
    "reminder_mail_text",
)


def language_of(code: str | None) -> str:
    """The booking language for a Django language code: "en" for any English ("en", "en-us"), else "ja"."""
    return Booking.Language.EN if (code or "").lower().startswith("en") else Booking.Language.JA


def active_language() -> str:
    """The language of the page being answered, as a booking records it."""
    return language_of(translation.get_language())


@dataclass(frozen=True)
class LocalText:
    text: str
    # "ja" when the text is the Japanese one shown in place of a missing English version: the page (or
    # mail) is English and this part is not; "" when the text is in the page's own language.
    lang: str = ""

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text.strip())


def text_in(rules: BookingSettings, name: str, language: str) -> LocalText:
    """The text `name` in `language`: the English version if there is one, otherwise the Japanese one."""
    japanese: str = getattr(rules, name)
    if language_of(language) != Booking.Language.EN:
        return LocalText(japanese)
    english: str = getattr(rules, f"{name}_en", "")
    if english.strip():
        return LocalText(english)
    return LocalText(japanese, "ja" if japanese.strip() else "")


def callcenter_contact(rules: BookingSettings, language: str | None = None) -> str:
    """The call center as every "please phone us" message names it, in `language` (the page's by default):
    "コールセンター（075-123-4567、平日 9:00〜17:00）"; just "コールセンター" while no number is set."""
    language = language or active_language()
    hours = text_in(rules, "callcenter_hours", language).text.strip()
    phone = format_phone(rules.callcenter_phone)
    with translation.override(language):
        contact = ""
        if phone and hours:
            contact = _("（%(phone)s、%(hours)s）") % {"phone": phone, "hours": hours}
        elif phone:
            contact = _("（%(phone)s）") % {"phone": phone}
        # One name with the number after it: in English "the call center (075-…)", mid-sentence
        return _("コールセンター%(contact)s") % {"contact": contact}


def bring_for(rules: BookingSettings, service: Service | None, language: str) -> LocalText:
    """What to bring for `service` in `language`: the service's own text, else the municipality's general
    one (an e-certificate renewal is not told to bring the card-issuance notice letter)."""
    if service is not None and service.bring_text.strip():
        if language_of(language) == Booking.Language.EN:
            if service.bring_text_en.strip():
                return LocalText(service.bring_text_en)
            return LocalText(service.bring_text, "ja")
        return LocalText(service.bring_text)
    return text_in(rules, "text_bring", language)


@dataclass(frozen=True)
class CitizenTexts:
    """What the citizen pages show of the municipality's texts, in the page's language."""

    top: LocalText
    bring: LocalText
    done: LocalText
    callcenter: str = (
        ""  # "コールセンター（075-123-4567、平日 9:00〜17:00）", for the "please phone us" lines
    )


def citizen_texts(rules: BookingSettings, language: str | None = None) -> CitizenTexts:
    language = language or active_language()
    return CitizenTexts(
        top=text_in(rules, "text_top", language),
        bring=text_in(rules, "text_bring", language),
        done=text_in(rules, "text_done", language),
        callcenter=callcenter_contact(rules, language),
    )
