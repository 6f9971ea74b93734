"""A software My Number card for vsmartcard's vpcd: the demo's and the tests' card.

vpcd (Debian ``vsmartcard-vpcd``) adds virtual readers to pcscd and waits for a card on a TCP
port: ``Virtual PCD 00 00`` on 35963 (``CHANNELID 0x8C7B`` in /etc/reader.conf.d/vpcd), and
``Virtual PCD 00 01`` on the next port, 35964. Connecting is inserting the card; closing the
socket is pulling it out. Every message either way is a 2-byte big-endian length and a payload;
a 1-byte payload from vpcd is a control (0 power off, 1 power on, 2 reset, 4 send the ATR, which
the card answers), a longer one a command APDU, answered with a response APDU.

:class:`MyNumberApplet` is the card itself, pure: APDU in, response out (SELECT by AID or EF id,
the tries query, VERIFY, READ BINARY). :class:`SoftwareCard` is the socket around it, on its own
thread. vpcd accepts connections from the network without authentication: it must never be
installed on a production terminal.

Run ``python -m branch_client.card.software_card --help`` for the demo.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import signal
import socket
import struct
import threading
from collections.abc import Mapping
from types import TracebackType

from branch_client.card import mynumber, tlv
from branch_client.card.mynumber import Sex

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963
"""vpcd's first slot, ``Virtual PCD 00 00``; slot n listens on ``VPCD_PORT + n``."""
VPCD_READER_PREFIX = "Virtual PCD 00 0"


def vpcd_reader_name(port: int) -> str:
    """The pcscd reader name of the vpcd slot on ``port`` (Debian's configuration)."""
    slot = port - VPCD_PORT
    if not 0 <= slot <= 9:
        raise ValueError(f"port {port} is not a vpcd slot of Debian's configuration")
    return f"{VPCD_READER_PREFIX}{slot}"


def _atr(historical: bytes) -> bytes:
    """An ATR offering T=0 and T=1, with ``historical`` bytes and its check byte."""
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return bytes([0x3B]) + body + bytes([tck])


DEFAULT_ATR = _atr(b"MADOGUCH")

DEMO_NAME = "番号　花子"
DEMO_ADDRESS = "北市中央町一丁目2番3号"
DEMO_BIRTH_DATE = datetime.date(1990, 4, 1)
DEMO_SEX = Sex.FEMALE
DEMO_MY_NUMBER = "123456789018"
DEMO_PIN = "1234"

# -- files -----------------------------------------------------------------------------------


def basic_four_file(
    name: str | bytes,
    address: str | bytes,
    birth_date: datetime.date | bytes,
    sex: Sex | bytes,
) -> bytes:
    """EF ``0002``: ``FF20`` holding the DF21 offsets and DF22..DF25, with the shortest BER
    lengths. Bytes stand for themselves (for damaged-data tests); anything else is encoded."""
    fields = [
        tlv.encode(mynumber.TAG_NAME, name.encode() if isinstance(name, str) else name),
        tlv.encode(mynumber.TAG_ADDRESS, address.encode() if isinstance(address, str) else address),
        tlv.encode(
            mynumber.TAG_BIRTH,
            birth_date if isinstance(birth_date, bytes) else _yyyymmdd(birth_date),
        ),
        tlv.encode(mynumber.TAG_SEX, sex if isinstance(sex, bytes) else sex.iso5218.encode()),
    ]
    offsets_size = len(tlv.encode(mynumber.TAG_OFFSETS, bytes(8)))
    content_size = offsets_size + sum(len(f) for f in fields)
    outer_header = len(tlv.encode(mynumber.TAG_BASIC_FOUR, bytes(content_size))) - content_size
    offsets = b""
    position = outer_header + offsets_size
    for field in fields:
        offsets += position.to_bytes(2, "big")
        position += len(field)
    content = tlv.encode(mynumber.TAG_OFFSETS, offsets) + b"".join(fields)
    # The EF is larger than its data object; the reader must read only what the header says.
    return tlv.encode(mynumber.TAG_BASIC_FOUR, content) + b"\xff" * 16


def _yyyymmdd(day: datetime.date) -> bytes:
    return f"{day.year:04}{day.month:02}{day.day:02}".encode("ascii")


def my_number_file(number: str | bytes) -> bytes:
    """EF ``0001``: ``FF 10 0C`` + the 12 digits + 2 trailing bytes (17 bytes)."""
    digits = number.encode("ascii") if isinstance(number, str) else number
    return tlv.encode(mynumber.TAG_MY_NUMBER, digits) + b"\x00\x00"


# -- the card ----------------------------------------------------------------------------------

SW_OK = b"\x90\x00"
SW_END_OF_FILE = b"\x62\x82"
SW_WRONG_LENGTH = b"\x67\x00"
SW_INCOMPATIBLE_FILE = b"\x69\x81"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x83"
SW_NO_CURRENT_EF = b"\x69\x86"
SW_WRONG_DATA = b"\x6a\x80"
SW_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"

_PROTECTED = frozenset({mynumber.EF_MY_NUMBER, mynumber.EF_BASIC_FOUR})


class MyNumberApplet:
    """The 券面事項入力補助AP of one card, and the card's power state.

    Files are selected by AID (the AP) and then by EF id inside it. EF ``0001`` and ``0002`` are
    readable after a successful VERIFY of the PIN in EF ``0011``; the verified state ends on power
    off and reset. Three wrong PINs block the card; only a right one resets the count.
    """

    def __init__(
        self,
        files: Mapping[int, bytes],
        pin: str,
        *,
        tries_left: int = mynumber.MAX_TRIES,
        is_mynumber: bool = True,
    ) -> None:
        self.files = dict(files)
        self.files.setdefault(mynumber.EF_PIN, b"")
        self._pin = pin.encode("ascii")
        self.tries_left = tries_left
        self.is_mynumber = is_mynumber
        self.ap_selected = False
        self.current_ef: int | None = None
        self.verified = False

    def reset(self) -> None:
        """Power off, power on or reset: nothing selected, nothing verified."""
        self.ap_selected = False
        self.current_ef = None
        self.verified = False

    def process(self, apdu: bytes) -> bytes:
        """The response APDU (data and status word) to a command APDU."""
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[:4]
        parsed = _split_body(apdu[4:])
        if parsed is None:
            return SW_WRONG_LENGTH
        data, le = parsed
        if cla != 0x00:
            return SW_CLA_NOT_SUPPORTED
        if ins == 0xA4:
            return self._select(p1, data)
        if ins == 0x20:
            return self._verify(p1, p2, data)
        if ins == 0xB0:
            return self._read_binary(p1, p2, le)
        return SW_INS_NOT_SUPPORTED

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:  # by DF name (AID)
            if self.is_mynumber and data == mynumber.AID:
                self.ap_selected, self.current_ef = True, None
                return SW_OK
            return SW_NOT_FOUND
        if p1 in (0x00, 0x02):  # by file id, under the current DF
            if len(data) != 2:
                return SW_WRONG_LENGTH
            ef = int.from_bytes(data, "big")
            if not self.ap_selected or ef not in self.files:
                return SW_NOT_FOUND
            self.current_ef = ef
            return SW_OK
        return SW_WRONG_P1P2

    def _verify(self, p1: int, p2: int, data: bytes) -> bytes:
        if (p1, p2) != (0x00, 0x80):
            return SW_WRONG_P1P2
        if self.current_ef != mynumber.EF_PIN:
            return b"\x6a\x88"  # referenced data not found: the PIN EF is not selected
        if self.tries_left <= 0:
            return SW_BLOCKED
        if not data:  # the tries query: spends nothing
            return SW_OK if self.verified else bytes([0x63, 0xC0 | self.tries_left])
        if len(data) != len(self._pin):
            return SW_WRONG_LENGTH
        if data == self._pin:
            self.tries_left = mynumber.MAX_TRIES
            self.verified = True
            return SW_OK
        self.tries_left -= 1
        self.verified = False
        return bytes([0x63, 0xC0 | self.tries_left])

    def _read_binary(self, p1: int, p2: int, le: int | None) -> bytes:
        if p1 & 0x80:  # short EF id addressing: not offered by this AP
            return SW_WRONG_P1P2
        if self.current_ef is None:
            return SW_NO_CURRENT_EF
        if self.current_ef == mynumber.EF_PIN:
            return SW_INCOMPATIBLE_FILE
        if self.current_ef in _PROTECTED and not self.verified:
            return SW_SECURITY
        content = self.files[self.current_ef]
        offset = (p1 << 8) | p2
        if offset > len(content):
            return SW_WRONG_P1P2
        want = 256 if le is None or le == 0 else le
        chunk = content[offset : offset + want]
        return chunk + (SW_OK if len(chunk) == want else SW_END_OF_FILE)


def _split_body(body: bytes) -> tuple[bytes, int | None] | None:
    """(data, Le) of a short APDU's body after the header; ``None`` if malformed."""
    if not body:
        return b"", None
    if len(body) == 1:
        return b"", body[0]
    lc = body[0]
    if lc == 0:  # an extended-length APDU: not supported
        return None
    if len(body) == 1 + lc:
        return body[1:], None
    if len(body) == 2 + lc:
        return body[1 : 1 + lc], body[-1]
    return None


# -- the socket --------------------------------------------------------------------------------


class SoftwareCard:
    """A My Number card inserted into a vpcd reader while started.

    ``start()`` connects to vpcd (the card is inserted), a thread answers vpcd, ``stop()`` closes
    the socket (the card is pulled). ``received`` lists every command APDU that reached the card.
    ``remove_after_apdus=N`` answers N command APDUs and pulls the card when the next one comes.
    Name and address may be bytes, birth date and sex bytes, and ``files`` replaces whole EFs,
    to test damaged cards. ``is_mynumber=False`` is some other card: SELECT of the AID fails.
    """

    def __init__(
        self,
        *,
        name: str | bytes = DEMO_NAME,
        address: str | bytes = DEMO_ADDRESS,
        birth_date: datetime.date | bytes = DEMO_BIRTH_DATE,
        sex: Sex | bytes = DEMO_SEX,
        my_number: str | bytes = DEMO_MY_NUMBER,
        pin: str = DEMO_PIN,
        tries_left: int = mynumber.MAX_TRIES,
        is_mynumber: bool = True,
        remove_after_apdus: int | None = None,
        files: Mapping[int, bytes] | None = None,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        atr: bytes = DEFAULT_ATR,
    ) -> None:
        contents = {
            mynumber.EF_MY_NUMBER: my_number_file(my_number),
            mynumber.EF_BASIC_FOUR: basic_four_file(name, address, birth_date, sex),
        }
        contents.update(files or {})
        self.applet = MyNumberApplet(contents, pin, tries_left=tries_left, is_mynumber=is_mynumber)
        self.host, self.port, self.atr = host, port, atr
        self.remove_after_apdus = remove_after_apdus
        self._received: list[bytes] = []
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._removed = threading.Event()

    @property
    def reader_name(self) -> str:
        return vpcd_reader_name(self.port)

    @property
    def received(self) -> list[bytes]:
        """Every command APDU that reached the card, in order (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def tries_left(self) -> int:
        with self._lock:
            return self.applet.tries_left

    @property
    def removed(self) -> threading.Event:
        """Set once the card is out of the reader: stopped, pulled, or vpcd went away."""
        return self._removed

    def start(self, timeout: float = 5.0) -> None:
        """Insert the card: connect to vpcd (``OSError`` if it is not listening)."""
        if self._thread is not None:
            raise RuntimeError("the software card is already started")
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        # vpcd writes a length and a payload separately; without these, Nagle's algorithm and
        # delayed ACKs add 40 ms to every APDU.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._removed.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"software-card-{self.port}", daemon=True
        )
        self._thread.start()
        log.info("software card inserted (vpcd %s:%d)", self.host, self.port)

    def stop(self) -> None:
        """Pull the card out."""
        self._close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> SoftwareCard:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _close(self) -> None:
        with self._close_lock:  # both stop() and the card's thread may close
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            log.info("software card pulled out (vpcd %s:%d)", self.host, self.port)
        self._removed.set()

    def _serve(self) -> None:
        sock = self._sock
        try:
            while sock is not None:
                payload = _receive(sock)
                if payload is None:
                    break
                answer = self._answer(payload)
                if answer is _PULL:
                    break
                if answer is not None:
                    sock.sendall(struct.pack(">H", len(answer)) + answer)
        except OSError:
            pass  # stopped, or vpcd went away
        finally:
            self._close()

    def _answer(self, payload: bytes) -> bytes | None:
        with self._lock:
            if len(payload) == 1:
                control = payload[0]
                if control in (0, 1, 2):  # power off, power on, reset
                    self.applet.reset()
                    return None
                if control == 4:
                    return self.atr
                log.warning("software card: unknown vpcd control %d", control)
                return None
            self._received.append(payload)
            limit = self.remove_after_apdus
            if limit is not None and len(self._received) > limit:
                return _PULL
            return self.applet.process(payload)


_PULL = b"pull"  # a sentinel, compared by identity


def _receive(sock: socket.socket) -> bytes | None:
    """One message from vpcd, or ``None`` when it closed the connection."""
    header = _receive_exactly(sock, 2)
    if header is None:
        return None
    (size,) = struct.unpack(">H", header)
    return _receive_exactly(sock, size)


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        # Acknowledge at once (see ``start``); Linux clears this flag after each receive.
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# -- demo entry point ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m branch_client.card.software_card",
        description="Insert a software My Number card into a vpcd reader until interrupted. "
        "Needs pcscd with Debian's vsmartcard-vpcd; demo and test use only.",
    )
    parser.add_argument("--host", default=VPCD_HOST, help=f"vpcd host (default {VPCD_HOST})")
    parser.add_argument(
        "--port", type=int, default=VPCD_PORT, help=f"vpcd slot port (default {VPCD_PORT})"
    )
    parser.add_argument("--name", default=DEMO_NAME, help="holder's name")
    parser.add_argument("--address", default=DEMO_ADDRESS, help="holder's address")
    parser.add_argument(
        "--birth-date",
        type=datetime.date.fromisoformat,
        default=DEMO_BIRTH_DATE,
        help="YYYY-MM-DD",
    )
    parser.add_argument(
        "--sex", choices=[s.value for s in Sex], default=DEMO_SEX.value, help="holder's sex"
    )
    parser.add_argument("--my-number", default=DEMO_MY_NUMBER, help="12 digits")
    parser.add_argument("--pin", default=DEMO_PIN, help="the card's 4-digit PIN (a demo value)")
    parser.add_argument(
        "--tries-left", type=int, default=mynumber.MAX_TRIES, help="0 makes a blocked card"
    )
    parser.add_argument(
        "--not-mynumber", action="store_true", help="some other card: no 券面事項入力補助AP"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    card = SoftwareCard(
        name=args.name,
        address=args.address,
        birth_date=args.birth_date,
        sex=Sex(args.sex),
        my_number=args.my_number,
        pin=args.pin,
        tries_left=args.tries_left,
        is_mynumber=not args.not_mynumber,
        host=args.host,
        port=args.port,
    )
    try:
        card.start()
    except OSError as exc:
        print(f"software card: cannot reach vpcd on {args.host}:{args.port}: {exc}")
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and not card.removed.is_set():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        card.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
