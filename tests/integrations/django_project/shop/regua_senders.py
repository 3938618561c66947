"""The shop's senders: e-mail through Django's e-mail backend."""

from __future__ import annotations

from regua.integrations.django import DjangoEmailSender
from regua.ports import Sender

TEMPLATES = {
    "order_confirmation": (
        "Order $order_id confirmed",
        "Hello $first_name, we have your order $order_id ($total).",
        "<p>Hello $first_name, we have your order <b>$order_id</b>.</p>",
    )
}


def senders() -> dict[str, Sender]:
    return {"email": DjangoEmailSender(from_email="Loja <loja@shop.example>", templates=TEMPLATES)}
