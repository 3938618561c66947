"""E-mail templates in Jinja2, one set per language: `JinjaRenderer`, a renderer for `SMTPSender`.

It needs the optional extra ``jinja`` (Jinja2): ``pip install 'regua[jinja]'``. Importing
this module works without it (and does not import Jinja2); constructing a `JinjaRenderer`
then raises `MissingDependencyError`.

The layout
----------

One directory per locale, named by its BCP 47 tag, and templates at the top level for
contacts whose language has none::

    templates/
        welcome.subject.txt        the subject (required): one line
        welcome.txt                the plain-text body (required)
        welcome.html               the HTML alternative (optional)
        en/welcome.subject.txt
        en/welcome.txt
        pt/...
        pt-BR/welcome.subject.txt
        pt-BR/welcome.txt
        pt-BR/welcome.html

For the template key ``welcome`` (a step's ``message``) and a contact in ``pt-BR``, the
renderer looks in ``pt-BR/``, then ``pt/``, then the renderer's default locale (``en/``),
then the top level, and uses the first of these that has the template. The subject, the
text and the HTML of one e-mail always come from the same place: a language is never mixed
into another.

The contact's locale is the ``locale`` attribute of the contact (``Contact(...,
attributes={"locale": "pt-BR"})``), a BCP 47 language tag. It is normalised
(`normalise_locale`): ``pt_br``, ``PT-br`` and ``pt_BR.UTF-8`` all read as ``pt-BR``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regua.errors import ConfigurationError, MissingDependencyError
from regua.locales import normalise_locale
from regua.ports import Message, PermanentFailure, TemporaryFailure
from regua.redaction import personal_strings, redact
from regua.senders.smtp import RenderedEmail

if TYPE_CHECKING:  # imported by JinjaRenderer(), so that importing regua stays light
    import jinja2

__all__ = ["JinjaRenderer", "normalise_locale"]

_PARTS = ("subject", "text", "html")


def _truncations(tag: str) -> list[str]:
    """`tag`, then shorter and shorter prefixes of it (RFC 4647 lookup): pt-BR, pt."""
    subtags = tag.split("-")
    found = []
    while subtags:
        found.append("-".join(subtags))
        subtags.pop()
        while subtags and len(subtags[-1]) == 1:  # never end on a singleton: zh-x → zh
            subtags.pop()
    return found


class JinjaRenderer:
    """Renders e-mails from Jinja2 templates, choosing the contact's language with fallback.

    A renderer for `SMTPSender` (``SMTPSender(..., renderer=JinjaRenderer("templates"))``).
    For a message with template key ``welcome`` it reads ``welcome.subject.txt`` (the
    subject), ``welcome.txt`` (the text) and, when present, ``welcome.html`` (the HTML
    alternative), from the first of these places that has them: the directory of the
    contact's locale (``pt-BR/``), of each shorter form of it (``pt/``), of `default_locale`
    (``en/``), then the top level. See the module's documentation for the layout.

    The contact's locale is the attribute named by `locale_attribute` (``locale``), a BCP 47
    tag, normalised by `normalise_locale` (``pt_br`` is ``pt-BR``); a missing or unreadable
    value means `default_locale`.

    The template variables are those of `TemplateRenderer`: the contact's attributes, then
    the message's payload (which wins on a name clash), plus ``contact_id``, ``address``,
    ``cadence`` and ``step``; and ``locale`` (the contact's locale, normalised, or
    `default_locale`) and ``variant`` (the message's experiment variant, or None). Values
    keep their type: a payload's list of items can be looped over, a number formatted.

    The environment, unless the application passes its own:

    - sandboxed (`jinja2.sandbox.ImmutableSandboxedEnvironment`): a template cannot reach
      Python internals (``{{ ''.__class__ }}``) nor change the data it is given, so people
      who are not developers may edit the templates;
    - values are HTML-escaped in ``.html`` templates, never in the subject or the text;
    - with `strict` (the default), a variable the message lacks is an error, not an empty
      gap in a sent e-mail (a template tests an optional one with ``{% if coupon is
      defined %}``); a None prints as nothing;
    - a block tag alone on its line leaves no blank line (``trim_blocks``,
      ``lstrip_blocks``), and a file's final newline is kept;
    - templates are read as UTF-8, and re-read when their file changes.

    Add filters and globals to `environment` (``renderer.environment.filters["brl"] =
    ...``). The subject is kept to one line: its line breaks and runs of spaces become one
    space.

    Failures, all `PermanentFailure` (the message cannot be sent as it is), except a
    template store that cannot be read (`TemporaryFailure`):

    - no place in the chain has the template: the text names the key and the locales tried;
    - a place has some of the files but not the subject or not the text;
    - a syntax error: the text names the template file and the line;
    - a variable the message lacks (with `strict`), an unsafe access refused by the sandbox,
      a missing ``{% include %}``: the text names the template file, the line and the
      variable.

    An exception raised by a filter or global of the application's passes through (the
    scheduler treats it as a temporary failure).

    Args:
        templates: The directory of the templates (a path), or a `jinja2.BaseLoader` to read
            them from (a `jinja2.PackageLoader`, a `jinja2.DictLoader`...), or a whole
            `jinja2.Environment`, used as it is: its own sandboxing, escaping and undefined
            handling apply, and `strict` is ignored.
        default_locale: The locale for contacts without one, and the fallback after the
            contact's own; None to go straight to the top level.
        strict: A variable the message lacks is a `PermanentFailure` (`jinja2.StrictUndefined`);
            with False it prints as nothing.
        locale_attribute: The contact attribute that holds the locale.

    Raises:
        MissingDependencyError: Jinja2 (the extra ``jinja``) is not installed.
        ConfigurationError: `templates` is a path that is not a directory, or `default_locale`
            is not a language tag.

    """

    def __init__(
        self,
        templates: str | os.PathLike[str] | jinja2.BaseLoader | jinja2.Environment,
        *,
        default_locale: str | None = "en",
        strict: bool = True,
        locale_attribute: str = "locale",
    ) -> None:
        try:
            import jinja2
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError:
            raise MissingDependencyError(type(self).__name__, "jinja", "jinja2") from None
        if default_locale is None:
            self.default_locale: str | None = None
        else:
            self.default_locale = normalise_locale(default_locale)
            if self.default_locale is None:
                raise ConfigurationError(
                    f"default_locale must be a language tag, got {default_locale!r}"
                )
        self.locale_attribute = locale_attribute
        self.environment: jinja2.Environment
        self._directory: Path | None = None
        if isinstance(templates, jinja2.Environment):
            self.environment = templates
            return
        if isinstance(templates, jinja2.BaseLoader):
            loader = templates
        else:
            # Absolute, so that error texts can name a file by its path under it; symlinks
            # are not resolved, so that a deployment switching a link is followed.
            directory = Path(os.path.abspath(templates))
            if not directory.is_dir():
                raise ConfigurationError(
                    f"the templates directory {str(directory)!r} does not exist"
                )
            loader = jinja2.FileSystemLoader(directory, encoding="utf-8")
            self._directory = directory
        self.environment = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default=False),
            undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
            finalize=_none_as_nothing,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=True,
        )

    def __repr__(self) -> str:
        return f"JinjaRenderer(default_locale={self.default_locale!r})"

    def __call__(self, message: Message) -> RenderedEmail:
        """Render `message` with the templates named by ``message.message``."""
        locale = self.locale(message)
        found = self._templates(message.message, self.locales(locale))
        values = self.variables(message, locale)
        subject, text, html_part = found
        return RenderedEmail(
            # A subject is one line: a value with a line break must not start a new header.
            subject=" ".join(self._render(subject, values, message).split()),
            text=self._render(text, values, message),
            html=None if html_part is None else self._render(html_part, values, message),
        )

    def locale(self, message: Message) -> str | None:
        """The locale `message` is for: the contact's, normalised, else `default_locale`."""
        value = message.contact.attributes.get(self.locale_attribute)
        return normalise_locale(value) or self.default_locale

    def locales(self, locale: str | None) -> list[str]:
        """The locale directories tried for `locale`, in order; ``""`` is the top level.

        >>> import jinja2
        >>> JinjaRenderer(jinja2.DictLoader({}), default_locale="en").locales("pt-BR")
        ['pt-BR', 'pt', 'en', '']
        """
        chain: list[str] = []
        for tag in (locale, self.default_locale):
            if tag is not None:
                chain.extend(t for t in _truncations(tag) if t not in chain)
        chain.append("")
        return chain

    def missing_templates(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of these template keys cannot be rendered, each with why (`regua check`).

        A key must be complete (subject and text) and compile where a contact without a
        locale finds it (`default_locale`, then the top level); and in every locale directory
        holding any of its files, complete and compiling there too, since contacts of that
        locale get those. Listing the directories needs a loader that can list its
        templates (a directory, a `jinja2.DictLoader`...); with one that cannot, only the
        default chain is checked.
        """
        import jinja2

        try:
            names = self.environment.list_templates()
        except (TypeError, jinja2.TemplateError, OSError):  # a loader that cannot list
            names = []
        places = sorted({name.rsplit("/", 1)[0] for name in names if "/" in name})
        missing: dict[str, str] = {}
        for key in dict.fromkeys(keys):
            files = {_file_name(key, part) for part in _PARTS}
            chains = [self.locales(None)] + [
                [place] for place in places if any(_in(place, f) in names for f in files)
            ]
            for chain in chains:
                try:
                    self._templates(key, chain)
                except (PermanentFailure, TemporaryFailure) as exc:
                    missing[key] = str(exc)
                    break
        return missing

    @staticmethod
    def variables(message: Message, locale: str | None) -> dict[str, Any]:
        """The template variables for `message` written in `locale`."""
        return {
            **message.contact.attributes,
            **message.payload,
            "contact_id": message.contact.id,
            "address": message.address,
            "cadence": message.cadence,
            "step": message.step,
            "locale": locale,
            "variant": message.variant,
        }

    # --- finding the templates -------------------------------------------------------------

    def _templates(
        self, key: str, locales: list[str]
    ) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template | None]:
        """(subject, text, html) from the first locale of `locales` that has any of them."""
        names = {part: _file_name(key, part) for part in _PARTS}
        for locale in locales:
            found = {part: self._load(_in(locale, names[part])) for part in _PARTS}
            if all(template is None for template in found.values()):
                continue
            subject, text, html_part = found["subject"], found["text"], found["html"]
            if subject is None or text is None:
                missing = [_in(locale, names[p]) for p in ("subject", "text") if not found[p]]
                raise PermanentFailure(
                    f"e-mail template {key!r} in {_place(locale)} is incomplete: there is no "
                    f"{' and no '.join(missing)} (the subject and the text are required, the "
                    f"HTML optional)"
                )
            return subject, text, html_part
        tried = ", ".join(_place(locale) for locale in locales)
        raise PermanentFailure(
            f"no e-mail template {key!r} in any locale tried ({tried}): "
            f"each lacks {names['subject']} and {names['text']}"
        )

    def _render(self, template: jinja2.Template, values: dict[str, Any], message: Message) -> str:
        """`template` rendered with `values`; a template error is a `PermanentFailure`."""
        import jinja2

        try:
            return template.render(values)
        except jinja2.TemplateSyntaxError as exc:  # in an included or parent template
            name = exc.name or template.name
            raise PermanentFailure(
                f"e-mail template {name}, line {exc.lineno}: syntax error: {exc.message}"
                f"{_within(name, template)}"
            ) from None
        except jinja2.TemplateError as exc:
            name = template.name
            where = _where(exc)
            if where is not None:
                name = self._name(where[0], template)
            line = "" if where is None else f", line {where[1]}"
            if isinstance(exc, jinja2.exceptions.SecurityError):
                kind = "refused by the sandbox"
            elif isinstance(exc, jinja2.UndefinedError):
                kind = "undefined"
            elif isinstance(exc, jinja2.TemplateNotFound):
                kind = "no such template"
            else:
                kind = "error"
            if isinstance(exc, jinja2.TemplateNotFound):  # its message shows the directory
                reason = str(exc.name)
            else:  # it may quote data (a dictionary key taken from the payload): redact it
                reason = redact(exc.message or type(exc).__name__, known=personal_strings(message))
            raise PermanentFailure(
                f"e-mail template {name}{line}: {kind}: {reason}{_within(name, template)}"
            ) from None

    def _name(self, filename: str, template: jinja2.Template) -> str:
        """The template name of the file `filename` (its path under the directory)."""
        if filename == template.filename and template.name is not None:
            return template.name
        if self._directory is not None:
            try:
                return Path(filename).relative_to(self._directory).as_posix()
            except ValueError:
                pass
        return filename

    def _load(self, name: str) -> jinja2.Template | None:
        """The template `name`, or None when the loader does not have it."""
        import jinja2

        try:
            return self.environment.get_template(name)
        except jinja2.TemplateNotFound:  # before OSError, which it derives from
            return None
        except jinja2.TemplateSyntaxError as exc:
            raise PermanentFailure(
                f"e-mail template {exc.name or name}, line {exc.lineno}: syntax error: "
                f"{exc.message}"
            ) from None
        except UnicodeDecodeError as exc:
            raise PermanentFailure(f"e-mail template {name} is not UTF-8: {exc.reason}") from None
        except OSError as exc:
            raise TemporaryFailure(f"cannot read the e-mail template {name}: {exc}") from None


def _none_as_nothing(value: object) -> object:
    """What ``{{ value }}`` prints: a None prints as nothing, as in `TemplateRenderer`."""
    return "" if value is None else value


def _file_name(key: str, part: str) -> str:
    return {"subject": f"{key}.subject.txt", "text": f"{key}.txt", "html": f"{key}.html"}[part]


def _in(locale: str, name: str) -> str:
    return f"{locale}/{name}" if locale else name


def _place(locale: str) -> str:
    return f"{locale}/" if locale else "the top level"


def _within(name: str | None, template: jinja2.Template) -> str:
    """`` (within pt-BR/welcome.html)`` when the error is in another template than `template`."""
    return "" if name == template.name else f" (within {template.name})"


def _where(exc: BaseException) -> tuple[str, int] | None:
    """The file and line of the innermost template code in `exc`'s traceback, if any.

    Jinja2 rewrites a rendering error's traceback so that each template's frame carries the
    template's file and line.
    """
    found = None
    traceback = exc.__traceback__
    while traceback is not None:
        if "__jinja_exception__" in traceback.tb_frame.f_globals:
            found = (traceback.tb_frame.f_code.co_filename, traceback.tb_lineno)
        traceback = traceback.tb_next
    return found
