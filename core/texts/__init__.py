"""Every text a user or admin reads, per language. Look texts up with `text(lang, key, **values)`."""

from __future__ import annotations

from core.texts import en, fa

LANGUAGES = {"fa": fa.TEXTS, "en": en.TEXTS}


def language_for(language_code: str | None, default: str = "fa") -> str:
    """Persian unless the user's Telegram speaks English (or another language we have)."""
    code = (language_code or "").lower().split("-")[0]
    return code if code in LANGUAGES else default


def text(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (Persian when missing), with `values` filled in; numbers among
    them are written in the reader's digits."""
    table = LANGUAGES.get(lang, fa.TEXTS)
    template = table.get(key) or fa.TEXTS[key]
    if not values:
        return template
    shown = {
        k: digits(lang, v) if isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in values.items()
    }
    return template.format(**shown)


_PERSIAN_DIGITS = str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")


def digits(lang: str, value: object) -> str:
    """A number as the reader writes it: Persian digits (and decimal separator) in fa."""
    shown = str(value)
    return shown.translate(_PERSIAN_DIGITS) if lang == "fa" else shown
