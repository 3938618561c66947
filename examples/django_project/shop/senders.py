"""How regua's messages go out: e-mail through Django's e-mail backend."""

from regua.integrations.django import DjangoEmailSender
from regua.ports import Sender

TEMPLATES = {
    "order_confirmation": (
        "Pedido $order_id confirmado",
        "Olá $first_name, recebemos o seu pedido $order_id (R$ $total).",
    ),
    "review_request": (
        "Como foi o pedido $order_id?",
        "Olá $first_name, conte-nos o que achou do seu pedido $order_id.",
    ),
}


def senders() -> dict[str, Sender]:
    """One sender per channel, built once per process (settings.REGUA["SENDERS"])."""
    return {"email": DjangoEmailSender(templates=TEMPLATES)}
