"""The card reader: the :class:`CardReader` interface and :class:`PcscCardReader` over PC/SC.

This is the only module that imports ``smartcard`` (pyscard), and only when a PC/SC call is made,
so the interface imports on a machine without pyscard. Each call is blocking and opens its own
PC/SC context and card connection, so calls are independent and thread-safe; the terminal runs
them off the event loop::

    tries = await asyncio.to_thread(card_reader.tries_left, None)
    info = await asyncio.to_thread(functools.partial(card_reader.read, pin, with_number=False))

(or use :class:`AsyncCardReader`, which does exactly that).

A read is one PC/SC transaction: SELECT the 券面事項入力補助AP, SELECT the PIN EF, ask the
tries left (``00 20 00 80``, which spends none), VERIFY (never when the card is blocked), read
EF ``0002`` (header first, then ≤255-byte chunks) and, when asked, EF ``0001``. The connection is
closed with a card reset, so the verified state does not outlive the call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Protocol, runtime_checkable

from branch_client.card import mynumber, tlv
from branch_client.card.errors import CardError
from branch_client.card.mynumber import CardInfo

log = logging.getLogger(__name__)

PIN_LENGTH = 4
REMOVAL_SETTLE_SECONDS = 1.0
"""How long to wait for pcscd to settle on a reader's state: when a connect finds the card
unpowered or unresponsive (as right after a removal or an insertion), and when a command gets an
empty answer (vpcd's way of saying the card went away mid-call)."""


@runtime_checkable
class CardReader(Protocol):
    """What the terminal needs from a card reader. Every method blocks; each call stands alone.

    ``reader`` names a reader; ``None`` chooses the one reader that holds a card.
    Failures raise :class:`CardError`.
    """

    def readers(self) -> list[str]:
        """The names of the attached readers, card or not."""
        ...

    def tries_left(self, reader: str | None = None) -> int:
        """The PIN tries left (0 when blocked), without spending one."""
        ...

    def read(self, pin: str, *, with_number: bool = False, reader: str | None = None) -> CardInfo:
        """Verify ``pin`` and read the basic four (and the My Number when ``with_number``)."""
        ...


class AsyncCardReader:
    """A :class:`CardReader` for the event loop: each call runs on a worker thread."""

    def __init__(self, reader: CardReader) -> None:
        self.reader = reader

    async def readers(self) -> list[str]:
        return await asyncio.to_thread(self.reader.readers)

    async def tries_left(self, reader: str | None = None) -> int:
        return await asyncio.to_thread(self.reader.tries_left, reader)

    async def read(
        self, pin: str, *, with_number: bool = False, reader: str | None = None
    ) -> CardInfo:
        call = functools.partial(self.reader.read, pin, with_number=with_number, reader=reader)
        return await asyncio.to_thread(call)


def check_pin_format(pin: str) -> None:
    """``invalid_pin`` unless ``pin`` is exactly 4 ASCII digits (``"１２３４"`` is not)."""
    if len(pin) != PIN_LENGTH or not all("0" <= c <= "9" for c in pin):
        raise CardError("invalid_pin", "the PIN must be 4 digits (0-9)")


# -- status words ------------------------------------------------------------------------------

SW_OK = 0x9000


def _tries_from_sw(sw: int) -> int | None:
    """Tries left told by a VERIFY status word (``63 Cx``; ``69 83``/``69 84`` blocked)."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    if sw in (0x6983, 0x6984):
        return 0
    return None


def _blocked() -> CardError:
    return CardError(
        "card_blocked",
        "the card's PIN is blocked; it can be unblocked only at the municipality's card counter",
        tries_left=0,
    )


def _removed() -> CardError:
    return CardError("card_removed", "the card was removed during the operation")


# -- PC/SC -------------------------------------------------------------------------------------


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError:
        raise CardError(
            "reader_unavailable", "pyscard is not installed (madoguchi[devices])"
        ) from None
    return scard


def _service_codes(s: Any) -> frozenset[int]:
    """Results meaning pcscd or the reader is gone."""
    return frozenset(
        {
            s.SCARD_E_NO_SERVICE,
            s.SCARD_E_SERVICE_STOPPED,
            s.SCARD_E_NO_READERS_AVAILABLE,
            s.SCARD_E_READER_UNAVAILABLE,
            s.SCARD_E_UNKNOWN_READER,
            s.SCARD_E_INVALID_HANDLE,
            s.SCARD_F_COMM_ERROR,
        }
    )


def _removed_codes(s: Any) -> frozenset[int]:
    """Results meaning the card went away (or lost power) under an open connection."""
    return frozenset({s.SCARD_W_REMOVED_CARD, s.SCARD_E_NO_SMARTCARD, s.SCARD_W_UNPOWERED_CARD})


def _maybe_removed_codes(s: Any) -> frozenset[int]:
    """Results that a removal may cause, and other trouble too: the reader's state decides."""
    return frozenset(
        {
            s.SCARD_W_UNRESPONSIVE_CARD,
            s.SCARD_W_RESET_CARD,
            s.SCARD_E_NOT_TRANSACTED,
            s.SCARD_E_COMM_DATA_LOST,
        }
    )


class _Pcsc:
    """One PC/SC context, used by one call on one thread."""

    def __init__(self) -> None:
        self.s = _scard()
        hr, self.context = self.s.SCardEstablishContext(self.s.SCARD_SCOPE_USER)
        if hr != self.s.SCARD_S_SUCCESS:
            raise self.service_error(hr, "cannot reach pcscd")

    def close(self) -> None:
        self.s.SCardReleaseContext(self.context)

    def __enter__(self) -> _Pcsc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def message(self, hr: int) -> str:
        return str(self.s.SCardGetErrorMessage(hr))

    def service_error(self, hr: int, what: str) -> CardError:
        return CardError("reader_unavailable", f"{what}: {self.message(hr)}")

    def readers(self) -> list[str]:
        hr, names = self.s.SCardListReaders(self.context, [])
        if hr == self.s.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hr != self.s.SCARD_S_SUCCESS:
            raise self.service_error(hr, "cannot list the readers")
        return [str(n) for n in names]

    def states(self, names: list[str], timeout_ms: int = 0) -> dict[str, int]:
        """Each reader's event state (``SCARD_STATE_*`` bits)."""
        if not names:
            return {}
        s = self.s
        hr, result = s.SCardGetStatusChange(
            self.context, timeout_ms, [(n, s.SCARD_STATE_UNAWARE) for n in names]
        )
        if hr != s.SCARD_S_SUCCESS:
            raise self.service_error(hr, "cannot read the readers' state")
        return {str(name): int(state) for name, state, _atr in result}

    def has_card(self, state: int) -> bool:
        s = self.s
        return bool(state & s.SCARD_STATE_PRESENT) and not state & (
            s.SCARD_STATE_MUTE | s.SCARD_STATE_UNAVAILABLE
        )

    def wait_for(self, name: str, present: bool, timeout: float) -> bool:
        """Wait until ``name`` holds a card (or none); whether it did within ``timeout``."""
        s = self.s
        deadline = time.monotonic() + timeout
        known = s.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            hr, result = s.SCardGetStatusChange(self.context, remaining_ms, [(name, known)])
            if hr == s.SCARD_E_TIMEOUT:
                return False
            if hr != s.SCARD_S_SUCCESS:
                raise self.service_error(hr, f"cannot watch reader {name!r}")
            _name, state, _atr = result[0]
            if state & s.SCARD_STATE_UNKNOWN:
                raise CardError("reader_unavailable", f"no reader named {name!r}")
            if self.has_card(state) == present:
                return True
            if time.monotonic() >= deadline:
                return False
            known = state & ~s.SCARD_STATE_CHANGED


class _Connection:
    """A connection to the card in one reader, inside a PC/SC transaction."""

    def __init__(self, pcsc: _Pcsc, reader: str) -> None:
        self.pcsc, self.reader, self.s = pcsc, reader, pcsc.s
        self.card: Any = None
        self.protocol = 0
        self._connect()

    def _connect(self) -> None:
        s = self.s
        for attempt in range(2):
            hr, card, protocol = s.SCardConnect(
                self.pcsc.context,
                self.reader,
                s.SCARD_SHARE_SHARED,
                s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
            )
            if hr == s.SCARD_S_SUCCESS:
                self.card, self.protocol = card, protocol
                break
            if hr in _service_codes(s):
                raise self.pcsc.service_error(hr, f"reader {self.reader!r} is unavailable")
            if hr == s.SCARD_E_NO_SMARTCARD:
                raise CardError("no_card", f"no card in reader {self.reader!r}")
            gone = _removed_codes(s) | _maybe_removed_codes(s)
            if hr in gone and attempt == 0:
                # Right after a removal (or an insertion) pcscd may still report the old card:
                # wait for its state to settle, then try once more.
                if not self.pcsc.wait_for(self.reader, True, REMOVAL_SETTLE_SECONDS):
                    raise CardError("no_card", f"no card in reader {self.reader!r}")
                continue
            if hr in gone:
                raise CardError("card_removed", f"the card in {self.reader!r} does not answer")
            raise CardError("card_error", f"cannot connect to the card: {self.pcsc.message(hr)}")
        hr = s.SCardBeginTransaction(self.card)
        if hr != s.SCARD_S_SUCCESS:
            self.close()
            raise self._transport_error(hr)

    def close(self) -> None:
        if self.card is None:
            return
        s = self.s
        s.SCardEndTransaction(self.card, s.SCARD_LEAVE_CARD)
        # A reset ends the PIN-verified state, so no other program inherits it.
        s.SCardDisconnect(self.card, s.SCARD_RESET_CARD)
        self.card = None

    def _transport_error(self, hr: int) -> CardError:
        s = self.s
        if hr in _removed_codes(s):
            return _removed()
        if hr in _service_codes(s):
            return self.pcsc.service_error(hr, f"reader {self.reader!r} is unavailable")
        if hr in _maybe_removed_codes(s) and self._card_went_away():
            return _removed()
        return CardError("card_error", f"the card did not answer: {self.pcsc.message(hr)}")

    def _card_went_away(self) -> bool:
        """Whether pcscd sees the reader empty within a poll or two."""
        try:
            return self.pcsc.wait_for(self.reader, False, REMOVAL_SETTLE_SECONDS)
        except CardError:
            return False

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """``(data, status word)``, following ``61 xx`` (more data) and ``6C xx`` (wrong Le)."""
        data, sw = self._transmit_once(apdu)
        if sw & 0xFF00 == 0x6C00 and len(apdu) == 5:
            data, sw = self._transmit_once(apdu[:4] + bytes([sw & 0xFF]))
        while sw & 0xFF00 == 0x6100:
            more, sw = self._transmit_once(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            data += more
        return data, sw

    def _transmit_once(self, apdu: bytes) -> tuple[bytes, int]:
        s = self.s
        pci = s.SCARD_PCI_T1 if self.protocol == s.SCARD_PROTOCOL_T1 else s.SCARD_PCI_T0
        hr, response = s.SCardTransmit(self.card, pci, list(apdu))
        if hr != s.SCARD_S_SUCCESS:
            raise self._transport_error(hr)
        if len(response) < 2:
            # vpcd (and some drivers) answer an empty response when the card went away mid-call;
            # pcscd notices the removal on its next poll.
            if self._card_went_away():
                raise _removed()
            raise CardError("card_error", "the card answered without a status word")
        raw = bytes(response)
        return raw[:-2], int.from_bytes(raw[-2:], "big")


# -- the reader --------------------------------------------------------------------------------


def list_readers() -> list[str]:
    """The names of the PC/SC readers; ``reader_unavailable`` when pcscd is not running."""
    with _Pcsc() as pcsc:
        return pcsc.readers()


def readers_with_card() -> dict[str, bool]:
    """Every reader's name, and whether it holds a (powered, answering) card."""
    with _Pcsc() as pcsc:
        return {n: pcsc.has_card(st) for n, st in pcsc.states(pcsc.readers()).items()}


def wait_for_card(reader: str, present: bool = True, timeout: float = 5.0) -> bool:
    """Wait until ``reader`` holds a card (``present``) or none; whether it did in time."""
    with _Pcsc() as pcsc:
        return pcsc.wait_for(reader, present, timeout)


def _select(conn: _Connection, p1: int, data: bytes) -> int:
    _data, sw = conn.transmit(bytes([0x00, 0xA4, p1, 0x0C, len(data)]) + data)
    return sw


def _select_ef(conn: _Connection, ef: int) -> None:
    sw = _select(conn, 0x02, ef.to_bytes(2, "big"))
    if sw != SW_OK:
        raise CardError("card_error", f"the card has no EF {ef:04X} (status {sw:04X})")


def _read_binary(conn: _Connection, offset: int, size: int) -> bytes:
    data, sw = conn.transmit(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, size]))
    if sw == 0x6982:
        raise CardError("card_error", "the card refused the read: PIN not verified")
    if sw not in (SW_OK, 0x6282):  # 62 82: end of file reached before Le bytes
        raise CardError("card_error", f"the card refused the read (status {sw:04X})")
    return data


class PcscCardReader:
    """A :class:`CardReader` over pcscd (pyscard): contact or contactless readers alike."""

    def readers(self) -> list[str]:
        return list_readers()

    def choose_reader(self, reader: str | None = None) -> str:
        """The reader to use: ``reader`` if attached; else the only reader holding a card."""
        with _Pcsc() as pcsc:
            return self._choose(pcsc, reader)

    def tries_left(self, reader: str | None = None) -> int:
        with _Pcsc() as pcsc:
            conn = _Connection(pcsc, self._choose(pcsc, reader))
            try:
                return self._select_pin(conn)
            finally:
                conn.close()

    def read(self, pin: str, *, with_number: bool = False, reader: str | None = None) -> CardInfo:
        check_pin_format(pin)
        with _Pcsc() as pcsc:
            name = self._choose(pcsc, reader)
            conn = _Connection(pcsc, name)
            try:
                tries = self._select_pin(conn)
                if tries == 0:
                    raise _blocked()
                self._verify(conn, pin)
                _select_ef(conn, mynumber.EF_BASIC_FOUR)
                basic = mynumber.parse_basic_four(self._read_data_object(conn))
                number_file = None
                if with_number:
                    _select_ef(conn, mynumber.EF_MY_NUMBER)
                    number_file = _read_binary(conn, 0, mynumber.MY_NUMBER_READ_SIZE)
            finally:
                conn.close()
        info = mynumber.card_info(basic, number_file)
        log.info(
            "card read from %s (with number: %s); flagged: %s",
            name,
            with_number,
            ", ".join(info.flagged) or "none",
        )
        return info

    # -- steps --

    @staticmethod
    def _choose(pcsc: _Pcsc, reader: str | None) -> str:
        names = pcsc.readers()
        if reader is not None:
            if reader not in names:
                raise CardError("reader_unavailable", f"no reader named {reader!r}")
            return reader
        if not names:
            raise CardError("reader_unavailable", "no card reader is attached")
        holding = [n for n, state in pcsc.states(names).items() if pcsc.has_card(state)]
        if not holding:
            raise CardError("no_card", "no card in any reader")
        if len(holding) > 1:
            raise CardError(
                "several_readers", f"{len(holding)} readers hold a card; name one of them"
            )
        return holding[0]

    @staticmethod
    def _select_pin(conn: _Connection) -> int:
        """Select the AP and its PIN EF; the tries left (0 when blocked)."""
        sw = _select(conn, 0x04, mynumber.AID)
        if sw != SW_OK:
            raise CardError("not_mynumber_card", "this card is not a My Number card")
        _select_ef(conn, mynumber.EF_PIN)
        _data, sw = conn.transmit(bytes([0x00, 0x20, 0x00, 0x80]))
        if sw == SW_OK:  # verified already in this card session: the count is full again
            return mynumber.MAX_TRIES
        tries = _tries_from_sw(sw)
        if tries is None:
            raise CardError("card_error", f"the card did not tell the tries left (status {sw:04X})")
        return tries

    @staticmethod
    def _verify(conn: _Connection, pin: str) -> None:
        _data, sw = conn.transmit(bytes([0x00, 0x20, 0x00, 0x80, PIN_LENGTH]) + pin.encode())
        if sw == SW_OK:
            return
        tries = _tries_from_sw(sw)
        if tries == 0:
            raise _blocked()
        if tries is not None:
            raise CardError("wrong_pin", f"wrong PIN; {tries} tries left", tries_left=tries)
        raise CardError("card_error", f"the card refused the PIN check (status {sw:04X})")

    @staticmethod
    def _read_data_object(conn: _Connection) -> bytes:
        """The data object at the start of the current EF: its header, then the rest."""
        data = _read_binary(conn, 0, mynumber.HEADER_READ_SIZE)
        try:
            total = mynumber.header_length(data)
        except tlv.TlvError:
            return data  # damaged: the parser flags what it cannot find
        while len(data) < total:
            chunk = _read_binary(conn, len(data), min(mynumber.MAX_CHUNK, total - len(data)))
            if not chunk:
                break  # the file ends early: the parser flags what is cut off
            data += chunk
        return data


def open_card_reader(spec: str) -> AsyncCardReader | None:
    """The reader ``--card-reader`` names: ``none`` is no reader; ``auto`` or a reader's name is
    PC/SC (pyscard is loaded at the first call)."""
    return None if spec == "none" else AsyncCardReader(PcscCardReader())


def reader_named(spec: str) -> str | None:
    """The reader's name in ``spec``; ``None`` for ``auto`` (the one holding a card) and
    ``none``."""
    return None if spec in ("auto", "none") else spec
