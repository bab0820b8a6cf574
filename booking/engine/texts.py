"""The municipality's own texts in a language: the English version where the municipality wrote one, else the
Japanese one, marked so that an English page can say `lang="ja"` around it (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation

from booking.models import Booking, BookingSettings

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


@dataclass(frozen=True)
class CitizenTexts:
    """What the citizen pages show of the municipality's texts, in the page's language."""

    top: LocalText
    bring: LocalText
    done: LocalText


def citizen_texts(rules: BookingSettings, language: str | None = None) -> CitizenTexts:
    language = language or active_language()
    return CitizenTexts(
        top=text_in(rules, "text_top", language),
        bring=text_in(rules, "text_bring", language),
        done=text_in(rules, "text_done", language),
    )
