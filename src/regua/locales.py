"""Locales: the contact's language and region as a BCP 47 tag (``pt-BR``).

A contact's locale is its ``locale`` attribute (`regua.Contact.locale`), read through
`normalise_locale`, so that every sender and renderer sees the same tag for it.
"""

from __future__ import annotations

import re

__all__ = ["LOCALE_ATTRIBUTE", "normalise_locale"]

LOCALE_ATTRIBUTE = "locale"
"""The contact attribute that holds its locale."""

_SUBTAG = re.compile(r"[A-Za-z0-9]{1,8}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}")


def normalise_locale(value: object) -> str | None:
    """The BCP 47 tag `value` stands for, in its canonical case; None when it is not one.

    >>> normalise_locale("pt_br"), normalise_locale("ZH-hant-tw"), normalise_locale("en")
    ('pt-BR', 'zh-Hant-TW', 'en')
    >>> normalise_locale("pt_BR.UTF-8"), normalise_locale("português"), normalise_locale(None)
    ('pt-BR', None, None)

    Underscores read as hyphens, and a POSIX locale's encoding and modifier (``.UTF-8``,
    ``@euro``) are dropped. The language is lower case, a script title case (``Hant``), a
    region upper case (``BR``), anything else lower case. A value that is not a string, is
    empty, or is not made of a 2 to 8 letter language and 1 to 8 character subtags gives None.
    """
    if not isinstance(value, str):
        return None
    text = re.split(r"[.@]", value.strip(), maxsplit=1)[0]
    subtags = text.replace("_", "-").split("-")
    if not _LANGUAGE.fullmatch(subtags[0]) or not all(_SUBTAG.fullmatch(s) for s in subtags):
        return None
    canonical = [subtags[0].lower()]
    extension = False  # after a singleton (``-u-``, ``-x-``) everything is lower case
    for subtag in subtags[1:]:
        if extension or len(subtag) == 1:
            extension = True
            canonical.append(subtag.lower())
        elif len(subtag) == 2 and subtag.isalpha():
            canonical.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)
