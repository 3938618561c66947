"""The commands on the scheduler's database: ``contact``, ``redrive``, ``erase``, ``explain --db``.

Each opens the database with `regua.cli._common._database`, which creates and migrates
nothing; ``contact`` and ``explain --db`` only read it, ``redrive`` and ``erase`` change it
with ``--apply`` only.
"""

from __future__ import annotations

import argparse
import functools
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TextIO

from regua.cli._common import (
    _CADENCE_HELP,
    _DATABASE_HELP,
    _SCHEMA_HELP,
    Commands,
    _choose,
    _database,
    _instant,
    _non_negative_int,
    _plural,
    _positive_int,
    _reading,
    _redacted,
    _utc,
    _utc_instant,
)
from regua.errors import CommandError
from regua.loading import load_cadences

if TYPE_CHECKING:
    from regua.erasure import ErasureReport
    from regua.records import Delivery

__all__ = ["add_contact", "add_erase", "add_redrive"]

_CHANGED_DATABASE_HELP = (
    "the URL of the database the scheduler runs on (sqlite:///regua.db, "
    "postgresql://...); changed only with --apply"
)


def add_contact(commands: Commands) -> None:
    """Add ``regua contact``: one contact of the database, for support."""
    contact = commands.add_parser(
        "contact",
        help="show one contact of the scheduler's database: sent, pending, events, errors",
        description=(
            "Read one contact from the database the scheduler runs on, without changing it, "
            "and print what support needs when the customer calls: the contact (consents, "
            "preferences, the channels it has an address on), every message sent or closed "
            "with its message id, what is due or waiting under each cadence in PATH and "
            "until when, the latest events, and the errors recorded while evaluating it. "
            "Addresses, attribute values and event data are personal data: they are shown "
            "only with --show-personal."
        ),
    )
    contact.add_argument("cadence", metavar="PATH", help=_CADENCE_HELP + " (all are used)")
    contact.add_argument("contact", metavar="ID", help="the contact's id")
    contact.add_argument("--db", metavar="URL", required=True, help=_DATABASE_HELP)
    contact.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    contact.add_argument(
        "--at",
        metavar="INSTANT",
        type=_instant,
        help="the instant to plan at, ISO 8601 (default: now); without an offset, in UTC",
    )
    contact.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print the report (default: table)",
    )
    contact.add_argument(
        "--show-personal",
        action="store_true",
        help="also print addresses, attribute values and event data (personal data)",
    )
    contact.add_argument(
        "--events",
        metavar="N",
        type=_non_negative_int,
        default=20,
        help="how many of the latest events and recorded errors to list (default: 20)",
    )
    contact.set_defaults(run=_contact_command)


def _contact_command(args: argparse.Namespace, out: TextIO) -> int:
    from regua.inspection import inspect_contact
    from regua.ports import UnknownContactError

    cadences = load_cadences(args.cadence)
    now = _utc_instant(args.at)
    with _database(args.db, args.schema) as repository:
        try:
            report = _reading(
                args.db,
                lambda: inspect_contact(
                    repository, cadences, args.contact, now, recent=args.events
                ),
            )
        except UnknownContactError as exc:
            raise CommandError(f"{_redacted(args.db)}: {exc}") from None
    if args.format == "json":
        out.write(report.to_json(personal=args.show_personal) + "\n")
    else:
        out.write(report.table(personal=args.show_personal))
    return 0


def add_redrive(commands: Commands) -> None:
    """Add ``regua redrive``: list dead letters, reopen them with ``--apply``."""
    redrive = commands.add_parser(
        "redrive",
        help="list dead letters, and reopen them once their cause is fixed (--apply)",
        description=(
            "List the dead letters (occurrences every channel failed for) of the database "
            "the scheduler runs on, the latest first: all of them, those of a cadence, a "
            "step, since an instant, or the occurrence KEYs given. With --apply, reopen "
            "them: their failed outcomes are removed (and printed: what failed and why "
            "stays on record) and the next tick plans them again, with the same keys; one "
            "past its expiry is closed as expired, never sent late. Without --apply "
            "nothing is changed."
        ),
    )
    redrive.add_argument(
        "keys", metavar="KEY", nargs="*", help="occurrence keys to reopen (default: every match)"
    )
    redrive.add_argument(
        "--db",
        metavar="URL",
        required=True,
        help=_CHANGED_DATABASE_HELP,
    )
    redrive.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    redrive.add_argument("--cadence", metavar="NAME", help="only this cadence's dead letters")
    redrive.add_argument("--step", metavar="NAME", help="only this step's dead letters")
    redrive.add_argument(
        "--since",
        metavar="INSTANT",
        type=_instant,
        help="only those that failed at or after this ISO 8601 instant (without an offset: UTC)",
    )
    redrive.add_argument(
        "--limit",
        metavar="N",
        type=_positive_int,
        default=1000,
        help="look at the latest N dead letters at most (default: 1000)",
    )
    redrive.add_argument(
        "--apply", action="store_true", help="reopen them (without it: only list them)"
    )
    redrive.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print them (default: table)",
    )
    redrive.set_defaults(run=_redrive)


def _redrive(args: argparse.Namespace, out: TextIO) -> int:
    from regua.erasure import is_pseudonymous_key

    keys: list[str] = list(dict.fromkeys(args.keys))
    since = None if args.since is None else _utc_instant(args.since)
    with _database(args.db, args.schema) as repository:
        failed = _reading(args.db, lambda: repository.failed_deliveries(args.limit))
        chosen = [
            d
            for d in failed
            if (not keys or d.occurrence_key in keys)
            and args.cadence in (None, d.cadence)
            and args.step in (None, d.step)
            and (since is None or d.at >= since)
            and not is_pseudonymous_key(d.occurrence_key)  # an erased contact's: left alone
        ]
        if args.apply and chosen:
            removed = _reading(
                args.db, lambda: repository.redrive([d.occurrence_key for d in chosen])
            )
        else:
            removed = []
    found = {d.occurrence_key for d in chosen}
    missing = [key for key in keys if key not in found]
    listed = removed if args.apply else chosen
    if args.format == "json":
        document = {
            "applied": bool(args.apply),
            "dead_letters": [_dead_letter(d) for d in listed],
            "not_dead_letters": missing,
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not listed:
        out.write("no dead letters match\n")
    else:
        verb = "reopened" if args.apply else "would reopen (run again with --apply)"
        out.write(f"{_plural(len(listed), 'dead letter')} {verb}:\n\n")
        rows = [
            [_utc(d.at), f"{d.cadence}/{d.step}", d.contact_id, d.reason or "", d.occurrence_key]
            for d in listed
        ]
        from regua.forecasting.text import render_table

        out.write(render_table(["failed at", "step", "contact", "reason", "key"], rows) + "\n")
    if missing:
        out.write(
            f"\nnot among the latest {args.limit:,} dead letters (sent, closed otherwise, or "
            f"unknown; left alone): {', '.join(missing)}\n"
        )
    return 0


def _dead_letter(delivery: Delivery) -> dict[str, object]:
    return {
        "occurrence_key": delivery.occurrence_key,
        "cadence": delivery.cadence,
        "step": delivery.step,
        "contact_id": delivery.contact_id,
        "failed_at": _utc(delivery.at),
        "reason": delivery.reason,
        "variant": delivery.variant,
    }


_KEY_ENV = "REGUA_PSEUDONYM_KEY"


def add_erase(commands: Commands) -> None:
    """Add ``regua erase``: erase contacts (the right to erasure) with ``--apply``."""
    erase = commands.add_parser(
        "erase",
        help="erase contacts: the right to erasure (LGPD art. 18, GDPR art. 17; --apply)",
        description=(
            "Erase each contact ID from the database the scheduler runs on, one transaction "
            "each: the contact (data, addresses, consents), its events with their data, its "
            "claims, the errors recorded for it and its folded history. Its deliveries go "
            "too with --keep nothing; with --keep pseudonymous (the default) they are kept "
            "under the contact's pseudonym, with pseudonymous keys and redacted reasons, so "
            "that reports still count them. Without --apply, print what would be removed "
            "and change nothing."
        ),
    )
    erase.add_argument("contacts", metavar="ID", nargs="+", help="the ids of the contacts")
    erase.add_argument(
        "--db",
        metavar="URL",
        required=True,
        help=_CHANGED_DATABASE_HELP,
    )
    erase.add_argument("--schema", metavar="NAME", help=_SCHEMA_HELP)
    erase.add_argument(
        "--keep",
        choices=("pseudonymous", "nothing"),
        default="pseudonymous",
        help=(
            "what to keep of the deliveries: their pseudonymous form, which reports count "
            "(default), or nothing"
        ),
    )
    erase.add_argument(
        "--key-env",
        metavar="VAR",
        default=_KEY_ENV,
        help=(
            "the environment variable holding the pseudonym key (the scheduler's log_key), "
            f"for --keep pseudonymous (default: {_KEY_ENV})"
        ),
    )
    erase.add_argument(
        "--apply", action="store_true", help="erase them (without it: only count what would go)"
    )
    erase.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how to print what is (or would be) erased (default: table)",
    )
    erase.set_defaults(run=_erase)


def _erase(args: argparse.Namespace, out: TextIO) -> int:
    import os

    key: str | None = None
    if args.keep == "pseudonymous":
        key = os.environ.get(args.key_env)
        if not key:
            raise CommandError(
                f"--keep pseudonymous needs the pseudonym key (the scheduler's log_key) in "
                f"the environment variable {args.key_env}: set it, name another with "
                "--key-env, or keep nothing with --keep nothing"
            )
    ids: list[str] = list(dict.fromkeys(args.contacts))
    with _database(args.db, args.schema) as repository:

        def erase(contact_id: str) -> ErasureReport:
            return repository.erase_contact(
                contact_id, keep=args.keep, key=key, dry_run=not args.apply
            )

        reports = [_reading(args.db, functools.partial(erase, cid)) for cid in ids]
    now = datetime.now(timezone.utc)
    held = [r for r in reports if r.held_until is not None and r.held_until > now]
    if args.format == "json":
        document = {
            "applied": bool(args.apply),
            "keep": args.keep,
            "contacts": [
                {
                    "contact_id": r.contact_id,
                    "found": r.found,
                    "events": r.events,
                    "deliveries": r.deliveries,
                    "claims": r.claims,
                    "errors": r.errors,
                    "folds": r.folds,
                    "kept_as": r.pseudonym if r.deliveries else None,
                    "held_until": None if r.held_until is None else _utc(r.held_until),
                }
                for r in reports
            ],
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return 0
    stored = [
        r for r in reports if any((r.found, r.events, r.deliveries, r.claims, r.errors, r.folds))
    ]
    if stored:
        verb = "erased" if args.apply else "would be erased (run again with --apply)"
        out.write(f"{_plural(len(stored), 'contact')} {verb}:\n\n")
        rows = [
            [
                r.contact_id,
                r.events,
                r.deliveries,
                r.claims,
                r.errors,
                r.folds,
                r.pseudonym if r.pseudonym and r.deliveries else "",
            ]
            for r in stored
        ]
        header = ["contact", "events", "deliveries", "claims", "errors", "folds", "kept as"]
        from regua.forecasting.text import render_table

        out.write(render_table(header, rows) + "\n")
    missing = [r.contact_id for r in reports if r not in stored]
    if missing:
        out.write(("\n" if stored else "") + f"nothing stored for: {', '.join(missing)}\n")
    for r in held:
        assert r.held_until is not None
        out.write(
            f"\n{r.contact_id}: a worker holds it until {_utc(r.held_until)} and may record "
            "what it was doing under its id until then: run this again after that\n"
        )
    return 0


def _explain_database(args: argparse.Namespace, out: TextIO) -> int:
    from regua.planning.explain import explain

    cadences = load_cadences(args.cadence)
    cadence = _choose(cadences, args.cadence_name, args.cadence, default_first=True)
    try:
        cadence.step(args.step)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from None
    now = _utc_instant(args.at)
    with _database(args.db, args.schema) as repository:
        found = _reading(args.db, lambda: repository.load_snapshots([args.contact]))
    snapshot = found.get(args.contact)
    if snapshot is None:
        raise CommandError(f"{_redacted(args.db)}: no contact {args.contact!r} in the repository")
    print(explain(cadence, snapshot, args.step, now, cadences=cadences), file=out)
    return 0
