"""``madoguchi card status`` and ``madoguchi card read``: the terminal's card reader by hand.

``status`` says which reader holds the card and the PIN tries left, spending none. ``read``
verifies the PIN and prints the basic four (and the My Number with ``--with-number``). The PIN
comes from stdin's first line (``--pin-stdin``) or a prompt that does not echo, never from the
command line. With ``--json`` the result is one JSON object on stdout; a failure is
``{"error": code, "message": …}`` (plus ``"tries_left"`` for ``wrong_pin``) on stdout, or one
line on stderr without ``--json``, and the exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TextIO

from branch_client.card.errors import CardError


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``card`` (``status``, ``read``) to the ``madoguchi`` subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--reader",
        metavar="NAME",
        help="PC/SC reader name (default: the one reader holding a card)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")

    card = sub.add_parser("card", help="My Number card reader: tries left, read the card")
    verbs = card.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser(
        "status", parents=[common], help="the reader holding the card and the PIN tries left"
    )
    p.set_defaults(func=run_status)

    p = verbs.add_parser(
        "read", parents=[common], help="verify the PIN and print name, address, birth date, sex"
    )
    p.add_argument("--with-number", action="store_true", help="also read the My Number (個人番号)")
    p.add_argument(
        "--pin-stdin", action="store_true", help="read the 4-digit PIN from stdin's first line"
    )
    p.set_defaults(func=run_read)


def run_status(args: argparse.Namespace) -> int:
    from branch_client.card.reader import PcscCardReader

    reader = PcscCardReader()
    try:
        name = reader.choose_reader(args.reader)
        tries = reader.tries_left(name)
    except CardError as exc:
        return _refuse(exc, args.json)
    if args.json:
        _print_json({"reader": name, "tries_left": tries})
    elif tries == 0:
        print(f"{name}: PIN blocked (unblocked only at the municipality's card counter)")
    else:
        print(f"{name}: {tries} PIN tries left")
    return 0


def run_read(args: argparse.Namespace) -> int:
    from branch_client.card.reader import PcscCardReader

    try:
        pin = read_pin(args.pin_stdin)
        info = PcscCardReader().read(pin, with_number=args.with_number, reader=args.reader)
    except CardError as exc:
        return _refuse(exc, args.json)
    data = info.to_json(args.with_number)
    if args.json:
        _print_json(data)
        return 0
    labels = {
        "name": "name",
        "address": "address",
        "birth_date": "birth date",
        "sex": "sex",
        "my_number": "My Number",
    }
    for key, label in labels.items():
        if key in data:
            value = data[key]
            shown = "(unreadable: enter it from the card face)" if value is None else value
            print(f"{label}: {shown}")
    if info.flagged:
        print(f"flagged for staff: {', '.join(info.flagged)}")
    return 0


def read_pin(from_stdin: bool, stdin: TextIO | None = None) -> str:
    """The PIN: stdin's first line without its line end, or typed at a prompt that does not
    echo. Its format is checked by the reader, before the card is touched."""
    if from_stdin:
        return (stdin or sys.stdin).readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CardError("invalid_pin", "no terminal to ask for the PIN; use --pin-stdin")
    return getpass.getpass("PIN (4 digits): ")


def _refuse(exc: CardError, as_json: bool) -> int:
    if as_json:
        _print_json(exc.to_json())
    else:
        print(f"madoguchi: {exc.message}", file=sys.stderr)
    return 1


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
