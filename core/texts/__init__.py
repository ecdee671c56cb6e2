"""Every text a user or admin reads, per language. Look texts up with `text(lang, key, **values)`.

`LANGUAGES` is the one list of languages the bot speaks (settings, /lang and /settings take it
from here). fa.py and en.py hold the same keys with the same placeholders (a test compares them);
a key that is not there is an error, never a silent fallback to another language. Keys are
literals in the code or values of a table (an error class's text key in downloader/errors.py), so
that a test can see every key the code uses.

Numbers, sizes, durations and dates are written for the reader with CLDR's data (Babel): grouping
and decimal signs of the language, and its own digits (Persian digits in fa).
"""

from __future__ import annotations

import datetime
from functools import cache

from core.texts import en, fa

# Babel (CLDR's data, 4 MB) is imported by the functions that write numbers and dates, when first
# called: every process imports these texts, most never write a number.

LANGUAGES: dict[str, dict[str, str]] = {"fa": fa.TEXTS, "en": en.TEXTS}
# The digits of CLDR's numbering systems (Babel knows each language's system, not its digits).
_DIGITS = {"latn": "0123456789", "arabext": "۰۱۲۳۴۵۶۷۸۹", "arab": "٠١٢٣٤٥٦٧٨٩"}
KB, MB, GB = 1000, 1000**2, 1000**3


def language_for(language_code: str | None, default: str = "fa") -> str:
    """The user's Telegram language when we speak it, else `default` (DEFAULT_LANGUAGE)."""
    code = (language_code or "").lower().split("-")[0]
    return code if code in LANGUAGES else default


def text(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` with `values` filled in; numbers among them in the reader's digits
    (whole numbers as they are, for they are often ids: pids, job numbers; fractions with CLDR's
    signs, see `number`). KeyError for a language or key that does not exist."""
    try:
        template = LANGUAGES[lang][key]
    except KeyError:
        raise KeyError(f"no text {key!r} in language {lang!r}") from None
    if not values:
        return template
    return template.format(**{k: _shown(lang, v) for k, v in values.items()})


def _shown(lang: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return digits(lang, value) if isinstance(value, int) else number(lang, value)


@cache
def _translation(lang: str) -> dict[int, int]:
    from babel import Locale, numbers

    system = Locale.parse(lang).default_numbering_system
    point = numbers.get_decimal_symbol(lang, numbering_system="default")
    return str.maketrans("0123456789.", _DIGITS.get(system, _DIGITS["latn"]) + point)


def digits(lang: str, value: object) -> str:
    """`value` as text with the language's digits and decimal sign ("12.5" -> "۱۲٫۵" in fa): for
    numbers already formatted, times, ranges."""
    return str(value).translate(_translation(lang))


def number(lang: str, value: float, decimals: int = 1) -> str:
    """1234.56 -> "1,234.6" in en, "۱٬۲۳۴٫۶" in fa: CLDR's signs, the language's digits."""
    from babel import numbers

    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    shown = numbers.format_decimal(value, format=pattern, locale=lang, numbering_system="default")
    return shown.translate(_translation(lang))


def size(lang: str, size_bytes: float) -> str:
    """A file's size in MB or GB (decimal units, as the size texts say), e.g. "12.3 MB"."""
    unit, value = ("digital-gigabyte", size_bytes / GB) if size_bytes >= GB else ("digital-megabyte", size_bytes / MB)
    return digits(lang, _unit(lang, value, unit))


def _unit(lang: str, value: float, unit: str) -> str:
    from babel import numbers, units

    shown = numbers.format_decimal(value, format="#,##0.#", locale=lang, numbering_system="default")
    pattern = units.format_unit(1, unit, length="short", locale=lang)  # "1 MB": the pattern around the number
    one = numbers.format_decimal(1, locale=lang, numbering_system="default")
    return pattern.replace(one, shown, 1)


def duration(lang: str, seconds: float) -> str:
    """A length of time in the largest fitting unit, e.g. "3 minutes", "۴ ماه"."""
    from babel import dates

    delta = datetime.timedelta(seconds=seconds)
    return digits(lang, dates.format_timedelta(delta, locale=lang, threshold=1.0))


def date(lang: str, day: datetime.date) -> str:
    """A date as the language writes it: "August 19, 2026", "۱۹ اوت ۲۰۲۶"."""
    from babel import dates

    return digits(lang, dates.format_date(day, format="long", locale=lang))
