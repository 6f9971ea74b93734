"""The card reader's one error, with a stable code for machines and a message for people.

Messages never carry a PIN, a My Number, a name or an address: they say what went wrong with the
reader or the card, and the kiosk maps the code to its own Japanese and English text.
"""

from __future__ import annotations

from typing import Literal, get_args

CardErrorCode = Literal[
    "wrong_pin",
    "invalid_pin",
    "card_blocked",
    "no_card",
    "not_mynumber_card",
    "reader_unavailable",
    "card_removed",
    "several_readers",
    "card_error",
]
"""What went wrong:

- ``wrong_pin``: the card refused the PIN; ``tries_left`` (1 or 2) says how many remain.
- ``invalid_pin``: not 4 ASCII digits; refused before the card was touched (no try spent).
- ``card_blocked``: no tries left (also after the last wrong PIN). Only the municipality's card
  counter can unblock it: the resident must go there.
- ``no_card``: no card in the reader (or in any reader).
- ``not_mynumber_card``: a card that has no 券面事項入力補助AP.
- ``reader_unavailable``: pcscd is not running, the reader is gone, or there is no reader.
- ``card_removed``: the card was pulled out (or lost power) during the operation.
- ``several_readers``: more than one reader holds a card and no reader name was given.
- ``card_error``: the card answered something this reader does not understand.
"""

CARD_ERROR_CODES: frozenset[str] = frozenset(get_args(CardErrorCode))


class CardError(Exception):
    """Reading the card failed. ``code`` is stable (see :data:`CardErrorCode`); ``tries_left`` is
    set for ``wrong_pin`` and ``card_blocked``."""

    def __init__(self, code: CardErrorCode, message: str, *, tries_left: int | None = None) -> None:
        super().__init__(message)
        self.code: CardErrorCode = code
        self.tries_left = tries_left

    @property
    def message(self) -> str:
        return str(self.args[0])

    def to_json(self) -> dict[str, object]:
        """``{"error": code, "message": …}`` plus ``"tries_left"`` when known."""
        data: dict[str, object] = {"error": self.code, "message": self.message}
        if self.tries_left is not None:
            data["tries_left"] = self.tries_left
        return data

    def __repr__(self) -> str:
        extra = f", tries_left={self.tries_left}" if self.tries_left is not None else ""
        return f"CardError({self.code!r}, {self.message!r}{extra})"
