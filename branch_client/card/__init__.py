"""The My Number card reader of the branch terminal.

:mod:`.reader` holds the :class:`~.reader.CardReader` interface and the PC/SC adapter (the only
module importing ``smartcard``); :mod:`.mynumber` and :mod:`.tlv` parse what the card holds;
:mod:`.software_card` is the virtual card for vpcd that the demo and the tests use;
:mod:`.pcsc_daemon` starts pcscd where none runs; :mod:`.cli` is ``madoguchi card``.
"""

from __future__ import annotations

from branch_client.card.errors import CardError, CardErrorCode
from branch_client.card.mynumber import CardInfo, Sex

__all__ = ["CardError", "CardErrorCode", "CardInfo", "Sex"]
