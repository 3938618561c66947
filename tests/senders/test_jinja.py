"""JinjaRenderer: Jinja2 e-mail templates per locale, with fallback, sandboxed and strict."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from regua import Contact, Message, PermanentFailure, TemporaryFailure
from regua.errors import MissingDependencyError
from regua.locales import normalise_locale
from regua.records import idempotency_key
from regua.senders import JinjaRenderer, SMTPSender

pytest.importorskip("jinja2")

import jinja2

# Every place has a subject that says where it comes from, so the tests see which was chosen.
CART = {
    "pt-BR": (
        "{{ first_name }}, você esqueceu {{ items|length }} item(ns) no carrinho [pt-BR]\n",
        "Oi, {{ first_name }}!\n"
        "\n"
        "Seus itens ainda estão reservados:\n"
        "{% for item in items %}\n"
        "- {{ item.name }}: {{ item.price|brl }}\n"
        "{% endfor %}\n"
        "\n"
        "Use o cupom {{ coupon }} e ganhe 10% de desconto. Frete grátis acima de R$ 199,00.\n",
        "<p>Oi, {{ first_name }}!</p>\n"
        "<ul>\n"
        "{% for item in items %}\n"
        "  <li>{{ item.name }}: {{ item.price|brl }}</li>\n"
        "{% endfor %}\n"
        "</ul>\n"
        "<p>Cupom: <b>{{ coupon }}</b></p>\n",
    ),
    "pt": (
        "{{ first_name }}, deixou artigos no cesto [pt]\n",
        "Olá, {{ first_name }}! Os seus artigos continuam no cesto.\n",
        None,
    ),
    "en": (
        "{{ first_name }}, you left {{ items|length }} item(s) in your cart [en]\n",
        "Hi {{ first_name }}!\n"
        "{% for item in items %}\n"
        "- {{ item.name }}\n"
        "{% endfor %}\n"
        "Use the code {{ coupon }} for 10% off.\n",
        "<p>Hi {{ first_name }}! Use <b>{{ coupon }}</b>.</p>\n",
    ),
    "": (
        "Your cart is waiting [top level]\n",
        "Your cart is waiting.\n",
        None,
    ),
}

ITEMS = [
    {"name": "Tênis de corrida <Pro>", "price": Decimal("349.90")},
    {"name": "Meias esportivas (3 pares)", "price": Decimal("39.90")},
]


def brl(value: Decimal) -> str:
    """R$ 1.234,56: Brazilian real, with a dot for thousands and a comma for cents."""
    whole, cents = f"{value:,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


def write(root: Path, key: str, places: dict[str, tuple[str, str, str | None]]) -> None:
    for locale, (subject, text, html) in places.items():
        folder = root / locale if locale else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{key}.subject.txt").write_text(subject, encoding="utf-8")
        (folder / f"{key}.txt").write_text(text, encoding="utf-8")
        if html is not None:
            (folder / f"{key}.html").write_text(html, encoding="utf-8")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    write(tmp_path, "cart_reminder", CART)
    return tmp_path


def renderer(root: Path | str, **options: object) -> JinjaRenderer:
    render = JinjaRenderer(root, **options)  # type: ignore[arg-type]
    render.environment.filters["brl"] = brl
    return render


def message(
    locale: object = None,
    *,
    template: str = "cart_reminder",
    payload: dict[str, object] | None = None,
    attributes: dict[str, object] | None = None,
    address: str = "ana.souza@example.com.br",
    variant: str | None = None,
) -> Message:
    data: dict[str, object] = {"first_name": "Ana", "name": "Ana Souza"}
    if locale is not None:
        data["locale"] = locale
    data.update(attributes or {})
    occurrence = f"loja:{template}:ana:1"
    return Message(
        channel="email",
        address=address,
        message=template,
        payload={"items": ITEMS, "coupon": "VOLTA10"} if payload is None else payload,
        contact=Contact("ana", attributes=data, addresses={"email": address}),
        cadence="loja",
        step="cart_1",
        occurrence_key=occurrence,
        idempotency_key=idempotency_key(occurrence),
        variant=variant,
    )


# --- choosing the locale -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "chosen"),
    [
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("PT-br", "pt-BR"),
        ("pt_BR.UTF-8", "pt-BR"),
        ("pt-PT", "pt"),  # no pt-PT/: the language alone
        ("pt", "pt"),
        ("es-AR", "en"),  # no Spanish at all: the default locale
        ("en-GB", "en"),
        (None, "en"),  # no locale: the default locale
        ("", "en"),
        ("português", "en"),  # not a language tag: as if there were none
        (42, "en"),
    ],
)
def test_the_contacts_locale_then_shorter_forms_then_the_default(
    templates: Path, locale: object, chosen: str
) -> None:
    rendered = renderer(templates)(message(locale))
    assert rendered.subject.endswith(f"[{chosen}]")


def test_without_a_default_locale_the_top_level_is_the_last_resort(templates: Path) -> None:
    render = renderer(templates, default_locale=None)
    assert render(message("es-AR")).subject == "Your cart is waiting [top level]"
    assert render(message()).subject == "Your cart is waiting [top level]"
    assert render(message("pt-BR")).subject.endswith("[pt-BR]")


def test_a_template_only_at_the_top_level_serves_every_locale(templates: Path) -> None:
    (templates / "shipped.subject.txt").write_text("Pedido {{ order }} enviado", encoding="utf-8")
    (templates / "shipped.txt").write_text("Rastreio: {{ tracking }}\n", encoding="utf-8")
    rendered = renderer(templates)(
        message("pt-BR", template="shipped", payload={"order": "A-1042", "tracking": "BR123"})
    )
    assert rendered.subject == "Pedido A-1042 enviado"
    assert rendered.text == "Rastreio: BR123\n"
    assert rendered.html is None


def test_a_default_locale_with_a_region_falls_back_to_its_language(tmp_path: Path) -> None:
    write(tmp_path, "welcome", {"pt": ("Bem-vindo [pt]", "Olá!\n", None)})
    render = renderer(tmp_path, default_locale="pt_BR")
    assert render.default_locale == "pt-BR"
    assert render.locales(render.locale(message("fr"))) == ["fr", "pt-BR", "pt", ""]
    assert render(message("fr", template="welcome")).subject == "Bem-vindo [pt]"


def test_the_chain_of_locales() -> None:
    render = JinjaRenderer(jinja2.DictLoader({}))
    assert render.locales("pt-BR") == ["pt-BR", "pt", "en", ""]
    assert render.locales("zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh", "en", ""]
    assert render.locales("en-US") == ["en-US", "en", ""]
    assert render.locales(None) == ["en", ""]
    assert render.locales("de-x-formal") == ["de-x-formal", "de", "en", ""]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        (" PT_BR ", "pt-BR"),
        ("pt_BR.UTF-8", "pt-BR"),
        ("ca_ES@valencia", "ca-ES"),
        ("zh_hant_tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sr-LATN-rs", "sr-Latn-RS"),
        ("en-US-x-Twain", "en-US-x-twain"),
        ("EN", "en"),
        ("", None),
        ("C", None),
        ("pt--BR", None),
        ("../etc", None),
        ("pt/BR", None),
        ("português", None),
        (None, None),
        (["pt-BR"], None),
    ],
)
def test_locales_are_normalised(value: object, tag: str | None) -> None:
    assert normalise_locale(value) == tag


def test_another_attribute_can_hold_the_locale(templates: Path) -> None:
    render = renderer(templates, locale_attribute="language")
    rendered = render(message(attributes={"language": "pt_BR", "locale": "en"}))
    assert rendered.subject.endswith("[pt-BR]")


# --- what is rendered --------------------------------------------------------------------------


def test_a_brazilian_contact_gets_the_portuguese_e_mail(templates: Path) -> None:
    rendered = renderer(templates)(message("pt-BR"))
    assert rendered.subject == "Ana, você esqueceu 2 item(ns) no carrinho [pt-BR]"
    assert rendered.text == (
        "Oi, Ana!\n"
        "\n"
        "Seus itens ainda estão reservados:\n"
        "- Tênis de corrida <Pro>: R$ 349,90\n"
        "- Meias esportivas (3 pares): R$ 39,90\n"
        "\n"
        "Use o cupom VOLTA10 e ganhe 10% de desconto. Frete grátis acima de R$ 199,00.\n"
    )
    assert rendered.html == (
        "<p>Oi, Ana!</p>\n"
        "<ul>\n"
        "  <li>Tênis de corrida &lt;Pro&gt;: R$ 349,90</li>\n"
        "  <li>Meias esportivas (3 pares): R$ 39,90</li>\n"
        "</ul>\n"
        "<p>Cupom: <b>VOLTA10</b></p>\n"
    )


def test_values_are_escaped_in_html_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        "note",
        {"": ("{{ title }}", "{{ title }} & {{ body }}\n", "<h1>{{ title }}</h1>{{ body }}\n")},
    )
    payload: dict[str, object] = {
        "title": 'Promoção "Black Friday" <até 70%>',
        "body": "<script>alert('x')</script>",
    }
    rendered = renderer(tmp_path)(message(template="note", payload=payload))
    assert rendered.subject == 'Promoção "Black Friday" <até 70%>'
    assert rendered.text == "Promoção \"Black Friday\" <até 70%> & <script>alert('x')</script>\n"
    assert rendered.html == (
        "<h1>Promoção &#34;Black Friday&#34; &lt;até 70%&gt;</h1>"
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n"
    )


def test_the_subject_stays_on_one_line(tmp_path: Path) -> None:
    write(tmp_path, "welcome", {"": ("Olá {{ first_name }}\n\nBcc: x@example.com\n", ".", None)})
    rendered = renderer(tmp_path)(message(template="welcome", attributes={"first_name": "A\r\nB"}))
    assert rendered.subject == "Olá A B Bcc: x@example.com"


def test_the_variables(tmp_path: Path) -> None:
    text = (
        "{{ contact_id }}|{{ address }}|{{ cadence }}|{{ step }}|{{ locale }}|{{ variant }}|"
        "{{ first_name }}|{{ tier }}|{{ nothing }}|{{ total + 1 }}\n"
    )
    write(tmp_path, "vars", {"": ("s", text, None)})
    render = renderer(tmp_path)
    rendered = render(
        message(
            "pt_br",
            template="vars",
            attributes={"tier": "gold", "nothing": None},
            payload={"first_name": "Aninha", "total": 41},  # the payload wins a clash
            variant="B",
        )
    )
    assert rendered.text == ("ana|ana.souza@example.com.br|loja|cart_1|pt-BR|B|Aninha|gold||42\n")
    # Without a locale, `locale` is the default one; without an experiment, `variant` is None.
    rendered = render(
        message(template="vars", payload={"total": 1}, attributes={"tier": "", "nothing": 0})
    )
    assert rendered.text.split("|")[4:6] == ["en", ""]


def test_a_template_can_pick_its_copy_by_variant(tmp_path: Path) -> None:
    subject = (
        "{% if variant == 'urgency' %}Últimas unidades, {{ first_name }}!"
        "{% else %}Seu carrinho te espera, {{ first_name }}{% endif %}"
    )
    write(tmp_path, "cart", {"pt-BR": (subject, "…\n", None)})
    render = renderer(tmp_path)
    assert render(message("pt-BR", template="cart", variant="urgency")).subject == (
        "Últimas unidades, Ana!"
    )
    assert render(message("pt-BR", template="cart")).subject == "Seu carrinho te espera, Ana"


def test_an_edited_template_is_read_again(templates: Path) -> None:
    render = renderer(templates)
    assert render(message("pt")).text.startswith("Olá, Ana!")
    path = templates / "pt" / "cart_reminder.txt"
    path.write_text("Olá de novo, {{ first_name }}.\n", encoding="utf-8")
    later = path.stat().st_mtime + 10
    os.utime(path, (later, later))
    assert render(message("pt")).text == "Olá de novo, Ana.\n"


def test_a_loader_or_an_environment_can_be_given(templates: Path) -> None:
    loader = jinja2.DictLoader(
        {
            "pt-BR/welcome.subject.txt": "Bem-vinda à Loja Exemplo, {{ first_name }}!",
            "pt-BR/welcome.txt": "Seu cadastro foi confirmado.",
            "welcome.subject.txt": "Welcome, {{ first_name }}!",
            "welcome.txt": "Your account is ready.",
        }
    )
    render = JinjaRenderer(loader, default_locale=None)
    assert render(message("pt-BR", template="welcome")).subject == "Bem-vinda à Loja Exemplo, Ana!"
    assert render(message(template="welcome")).subject == "Welcome, Ana!"

    # An environment is used as it is: here, not strict, so a missing value prints nothing.
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(loader=loader)
    render = JinjaRenderer(environment, strict=True)
    assert render.environment is environment
    assert render(message(template="welcome", attributes={"first_name": None})).subject == (
        "Welcome, None!"
    )
    del environment.loader.mapping["welcome.txt"]  # type: ignore[union-attr]
    with pytest.raises(PermanentFailure, match=r"there is no welcome\.txt"):
        render(message(template="welcome"))


def test_without_strict_a_missing_variable_prints_nothing(templates: Path) -> None:
    render = renderer(templates, strict=False)
    rendered = render(message("pt-BR", payload={"items": []}))
    assert "Use o cupom  e ganhe" in rendered.text


# --- failures ----------------------------------------------------------------------------------


def test_a_missing_variable_is_a_permanent_failure_naming_file_line_and_variable(
    templates: Path,
) -> None:
    with pytest.raises(PermanentFailure) as failure:
        renderer(templates)(message("pt-BR", payload={"items": ITEMS}))
    assert str(failure.value) == (
        "e-mail template pt-BR/cart_reminder.txt, line 8: undefined: 'coupon' is undefined"
    )


def test_a_missing_key_of_an_item_is_named_too(templates: Path) -> None:
    payload: dict[str, object] = {"items": [{"price": Decimal("59.90")}], "coupon": "VOLTA10"}
    with pytest.raises(PermanentFailure) as failure:
        renderer(templates)(message("pt-BR", payload=payload))
    assert str(failure.value) == (
        "e-mail template pt-BR/cart_reminder.txt, line 5: undefined: "
        "'dict object' has no attribute 'name'"
    )


def test_data_quoted_by_an_error_is_redacted(tmp_path: Path) -> None:
    write(tmp_path, "x", {"": ("s", "{{ balances[address] }}", None)})
    with pytest.raises(PermanentFailure) as failure:
        renderer(tmp_path)(message(template="x", payload={"balances": {}}))
    assert "ana.souza" not in str(failure.value)
    assert str(failure.value).startswith(
        "e-mail template x.txt, line 1: undefined: 'dict object' has no attribute "
    )


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__",
        "cycler.__init__.__globals__",
        "range.__globals__",
        "self.__init__.__globals__",
        "items.append(1)",  # the data is read-only
        "items[0].update(name='x')",
    ],
)
def test_the_sandbox_refuses_unsafe_access(tmp_path: Path, expression: str) -> None:
    write(tmp_path, "evil", {"": ("s", f"{{{{ {expression} }}}}\n", None)})
    sent = message(template="evil")
    with pytest.raises(PermanentFailure, match=r"evil\.txt, line 1: refused by the sandbox"):
        renderer(tmp_path)(sent)
    assert sent.payload["items"] == ITEMS
    assert ITEMS[0]["name"] == "Tênis de corrida <Pro>"


def test_a_syntax_error_names_the_file_and_line(templates: Path) -> None:
    (templates / "pt-BR" / "cart_reminder.html").write_text(
        "<p>Oi!</p>\n{% for item in items %}\n<li>{{ item.name }</li>\n", encoding="utf-8"
    )
    with pytest.raises(PermanentFailure) as failure:
        renderer(templates)(message("pt-BR"))
    text = str(failure.value)
    assert text.startswith("e-mail template pt-BR/cart_reminder.html, line 3: syntax error: ")
    # Another locale does not use the broken file.
    assert renderer(templates)(message("en")).subject.endswith("[en]")


def test_an_error_in_an_included_template_names_both(tmp_path: Path) -> None:
    write(tmp_path, "news", {"pt-BR": ("s", "t", '{% include "footer.html" %}\n')})
    (tmp_path / "footer.html").write_text("<p>\n{{ unsubscribe_url }}</p>\n", encoding="utf-8")
    with pytest.raises(PermanentFailure) as failure:
        renderer(tmp_path)(message("pt-BR", template="news"))
    assert str(failure.value) == (
        "e-mail template footer.html, line 2: undefined: 'unsubscribe_url' is undefined "
        "(within pt-BR/news.html)"
    )
    (tmp_path / "footer.html").write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(PermanentFailure, match=r"^e-mail template footer\.html, line 1: syntax"):
        renderer(tmp_path)(message("pt-BR", template="news"))
    (tmp_path / "footer.html").unlink()
    with pytest.raises(PermanentFailure) as failure:
        renderer(tmp_path)(message("pt-BR", template="news"))
    assert str(failure.value) == (
        "e-mail template pt-BR/news.html, line 1: no such template: footer.html"
    )


def test_a_template_missing_everywhere_names_the_key_and_the_locales(templates: Path) -> None:
    with pytest.raises(PermanentFailure) as failure:
        renderer(templates)(message("pt-BR", template="birthday"))
    assert str(failure.value) == (
        "no e-mail template 'birthday' in any locale tried (pt-BR/, pt/, en/, the top level): "
        "each lacks birthday.subject.txt and birthday.txt"
    )


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        (["welcome.txt"], "there is no pt-BR/welcome.subject.txt"),
        (["welcome.subject.txt", "welcome.html"], "there is no pt-BR/welcome.txt"),
        (["welcome.html"], "no pt-BR/welcome.subject.txt and no pt-BR/welcome.txt"),
    ],
)
def test_an_incomplete_locale_is_a_permanent_failure(
    templates: Path, present: list[str], missing: str
) -> None:
    write(templates, "welcome", {"en": ("Welcome", "Hello\n", None)})
    (templates / "pt-BR").mkdir(exist_ok=True)
    for name in present:
        (templates / "pt-BR" / name).write_text("Olá", encoding="utf-8")
    with pytest.raises(PermanentFailure, match=f"'welcome' in pt-BR/ is incomplete: .*{missing}"):
        renderer(templates)(message("pt-BR", template="welcome"))


def test_a_file_that_is_not_utf8_is_a_permanent_failure(templates: Path) -> None:
    (templates / "pt" / "cart_reminder.txt").write_bytes("Olá".encode("latin-1"))
    with pytest.raises(PermanentFailure, match=r"pt/cart_reminder\.txt is not UTF-8"):
        renderer(templates)(message("pt"))


def test_a_template_store_that_cannot_be_read_is_a_temporary_failure() -> None:
    class Unreachable(jinja2.BaseLoader):
        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str | None, None]:
            raise OSError(116, "Stale file handle")

    with pytest.raises(TemporaryFailure) as failure:
        JinjaRenderer(Unreachable())(message("pt-BR"))
    assert str(failure.value) == (
        "cannot read the e-mail template pt-BR/cart_reminder.subject.txt: "
        "[Errno 116] Stale file handle"
    )


def test_bad_construction_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        JinjaRenderer(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="default_locale must be a language tag"):
        JinjaRenderer(tmp_path, default_locale="english (US)")
    assert repr(JinjaRenderer(str(tmp_path), default_locale="EN_us")) == (
        "JinjaRenderer(default_locale='en-US')"
    )


def test_without_jinja2_construction_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setitem(sys.modules, "jinja2.sandbox", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'regua\[jinja\]'"):
        JinjaRenderer(tmp_path)


@pytest.mark.slow
def test_importing_regua_needs_no_jinja2() -> None:
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "import regua, regua.senders.jinja\n"
        "from regua.senders import JinjaRenderer\n"
        "assert regua.senders.jinja.normalise_locale('pt_br') == 'pt-BR'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys, regua.senders; assert 'jinja2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- end to end, through SMTPSender and a real SMTP server ---------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    from tests.senders.test_smtp import Recorder, Server

    with Server(Recorder()) as running:
        yield running


def test_sent_through_smtp_in_each_contacts_language(templates: Path, server: object) -> None:
    from tests.senders.test_smtp import Server

    assert isinstance(server, Server)
    server.handler.received.clear()
    with SMTPSender(
        "127.0.0.1",
        server.port,
        security="plain",
        sender="Loja Exemplo <no-reply@loja.example>",
        renderer=renderer(templates),
        timeout=30.0,
    ) as smtp:
        smtp.send(message("pt-BR"))
        smtp.send(message(address="john.smith@example.com", attributes={"first_name": "John"}))
    portuguese, english = server.handler.messages

    assert portuguese["To"] == "Ana Souza <ana.souza@example.com.br>"
    assert portuguese["Subject"] == "Ana, você esqueceu 2 item(ns) no carrinho [pt-BR]"
    text, html = portuguese.get_body(("plain",)), portuguese.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "- Tênis de corrida <Pro>: R$ 349,90\r\n" in text.get_content()
    assert "Use o cupom VOLTA10 e ganhe 10% de desconto." in text.get_content()
    assert "<li>Tênis de corrida &lt;Pro&gt;: R$ 349,90</li>" in html.get_content()

    assert english["Subject"] == "John, you left 2 item(s) in your cart [en]"
    text = english.get_body(("plain",))
    assert text is not None
    assert text.get_content() == (
        "Hi John!\r\n- Tênis de corrida <Pro>\r\n- Meias esportivas (3 pares)\r\n"
        "Use the code VOLTA10 for 10% off.\r\n"
    )


def test_a_template_failure_reaches_smtp_as_a_permanent_failure(
    templates: Path, server: object
) -> None:
    from tests.senders.test_smtp import Server

    assert isinstance(server, Server)
    server.handler.received.clear()
    render = renderer(templates)
    smtp = SMTPSender("127.0.0.1", server.port, security="plain", renderer=render)
    with smtp, pytest.raises(PermanentFailure, match="'coupon' is undefined"):
        smtp.send(message("pt-BR", payload={"items": ITEMS}))
    assert server.handler.messages == []


def test_neither_the_key_nor_the_locale_can_leave_the_directory(tmp_path: Path) -> None:
    write(tmp_path, "leak", {"": ("secret", "secret\n", None)})
    (tmp_path / "templates").mkdir()
    render = renderer(tmp_path / "templates")
    for key, locale in [("../leak", None), (str(tmp_path / "leak"), None), ("leak", "../..")]:
        with pytest.raises(PermanentFailure, match="no e-mail template"):
            render(message(locale, template=key))
