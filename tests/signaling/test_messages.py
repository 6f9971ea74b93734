"""The wire protocol: every message round-trips, nested payloads are checked as strictly as flat
fields, the 0.1 frames still read (until 0.3), and nothing a peer sends crashes the parser."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import signaling as sig

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"

EXAMPLES: list[sig.Message] = [
    sig.Hello(role="staff", peer_id="suzuki"),
    sig.Hello(
        role="terminal",
        peer_id="kita-01",
        purposes=(sig.Purpose("moving", "引っ越し", "Moving"), sig.Purpose("tax", "税", "Tax")),
    ),
    sig.ErrorReply(code="bad_json", message="not JSON", ref_type=None),
    sig.SessionStart(purpose="moving"),
    sig.SessionStart(purpose="moving", priority="elderly", needs_language="en", needs_hearing=True),
    sig.SessionWaiting(session_id="s-1", ticket="A-012", position=3, estimated_wait_s=540),
    sig.QueuePosition(session_id="s-1", position=2, estimated_wait_s=300),
    sig.SessionStart(purpose="moving", resume="s-1"),
    sig.SessionConnected(session_id="s-1"),
    sig.DeviceStatus(camera="failed", microphone="ok"),
    sig.TerminalStart(
        terminal_id="kita-01", purpose="moving", priority="elderly", needs_hearing=True
    ),
    sig.TerminalCancel(terminal_id="kita-01"),
    sig.SessionRequest(purpose="moving", needs_language="en"),
    sig.DeviceStatus(camera="ok", microphone="idle", terminal_id="kita-01"),
    sig.SpecialistSetState(state="available"),
    sig.SpecialistStatus(state="busy", session_id="s-1"),
    sig.SessionOffered(
        session_id="s-1",
        ticket="A-012",
        terminal_id="kita-01",
        branch_id="kita",
        purpose="moving",
        skill="juumin",
        priority="normal",
        deadline_s=20,
    ),
    sig.SessionWithdrawn(session_id="s-1", reason="timeout"),
    sig.SessionAccept(session_id="s-1"),
    sig.SessionDecline(session_id="s-1"),
    sig.SessionAssigned(
        session_id="s-1",
        terminal_id="kita-01",
        purpose="moving",
        ticket="A-012",
        state="connected",
        primary="suzuki",
        others=("tanaka",),
    ),
    sig.SessionHold(session_id="s-1", on=False),
    sig.SessionRating(session_id="s-1", score=4),
    sig.SessionProcedures(
        session_id="s-1", life_event="tennyu", procedures=("tennyu_todoke", "kokuho_shikaku")
    ),
    sig.DocumentCapture(session_id="s-1", group="g-1"),
    sig.DocumentStatus(session_id="s-1", step="error", error="no_document"),
    sig.DocumentAdded(
        session_id="s-1", document_id="d-ab12", group="g-1", page=2, width=2480, height=3508
    ),
    sig.DocumentMark(session_id="s-1", document_id="d-ab12", x=100, y=200, w=3000, h=800),
    sig.FormEdit(session_id="s-1", field="shared.name_kana", value="バンゴウ ハナコ", base=3),
    sig.FormEdit(session_id="s-1", field="form.tennyu_todoke.move_date", value=None, base=0),
    sig.FormEdit(session_id="s-1", field="form.juuminhyou_koufu.copies", value=2, base=1),
    sig.FormEdit(session_id="s-1", field="form.jidou_teate.agree", value=True, base=1),
    sig.FormEdit(
        session_id="s-1",
        field="shared.household",
        value=({"name": "番号 花子", "name_kana": "バンゴウ ハナコ", "relationship": "子"},),
        base=4,
    ),
    sig.FormSync(session_id="s-1"),
    sig.FormState(
        session_id="s-1",
        version=7,
        draft={"values": {"shared.name": {"value": "山田", "source": "card", "ver": 2}}},
    ),
    sig.FormReview(session_id="s-1", procedure="tennyu_todoke"),
    sig.FormShow(
        session_id="s-1",
        procedure="tennyu_todoke",
        view=sig.FormView(
            title=sig.Names("転入届", "Moving-in notification"),
            index=1,
            count=3,
            fields=(sig.ReviewField(sig.Names("氏名", "Full name"), "山田 花子", from_card=True),),
        ),
    ),
    sig.FormConfirm(session_id="s-1", procedure="tennyu_todoke", confirmed=False),
    sig.FormSign(session_id="s-1"),
    sig.FormSignature(
        session_id="s-1",
        width=1200,
        height=400,
        strokes=((sig.Point(1, 2, 0), sig.Point(3.5, 4, 16)), (sig.Point(10, 10),)),
    ),
    sig.CardRequest(session_id="s-1", with_number=True),
    sig.CardCancel(session_id="s-1"),
    sig.CardStatus(session_id="s-1", step="pin", tries_left=2, error="wrong_pin"),
    sig.CardResult(
        session_id="s-1",
        name="山田 𠮷子",
        address="東京都千代田区",
        birth_date="1980-04-01",
        sex="female",
        my_number="123456789018",
        flagged=("address",),
    ),
    sig.CardData(
        session_id="s-1",
        name="山田 花子",
        birth_date="1980-04-01",
        has_my_number=True,
        my_number_last4="9018",
        flagged=("address",),
        read_by="suzuki",
    ),
    sig.CardReveal(session_id="s-1"),
    sig.CardRevealed(session_id="s-1", my_number="123456789018"),
    sig.SessionTransfer(session_id="s-1", to_skill="zei"),
    sig.SessionInvite(session_id="s-1", user="tanaka"),
    sig.SessionLeave(session_id="s-1"),
    sig.SessionFinish(session_id="s-1"),
    sig.SessionParticipants(session_id="s-1", primary="tanaka", others=()),
    sig.SessionHeld(session_id="s-1", on=True),
    sig.SdpOffer(session_id="s-1", sdp=SDP, peer_id="suzuki"),
    sig.SdpAnswer(session_id="s-1", sdp=SDP),
    sig.IceCandidate(
        session_id="s-1",
        candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host",
        sdp_mid="0",
        sdp_mline_index=0,
    ),
    sig.IceCandidate(session_id="s-1", candidate=""),
    sig.PeerLeft(session_id="s-1", peer_id="suzuki"),
    sig.SessionEnd(session_id="s-1", reason="completed"),
    sig.SessionEnded(session_id="s-1", reason="abandoned"),
    sig.SupervisorSnapshot(snapshot={"today": {"served": 3, "avg_wait_s": 1.5}, "alerts": []}),
    sig.SupervisorSetState(user="suzuki", state="away"),
    sig.SupervisorSetSkills(user="suzuki", skills=("juumin", "zei")),
    sig.SupervisorSetSkills(user="tanaka", skills=()),
    sig.SupervisorMoveTicket(session_id="s-1", to_skill="zei"),
]


def test_every_message_type_has_an_example() -> None:
    assert {type(m) for m in EXAMPLES} == set(sig.message_types().values())


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.type)
def test_round_trip(message: sig.Message) -> None:
    text = sig.encode(message)
    assert json.loads(text)["type"] == message.type
    assert sig.parse_message(text) == message
    assert sig.parse_message(text.encode()) == message


def _code(text: str | bytes) -> str:
    with pytest.raises(sig.ProtocolError) as info:
        sig.parse_message(text)
    return info.value.code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ("[1, 2]", "not_an_object"),
        ('"hello"', "not_an_object"),
        ("{}", "unknown_type"),
        ('{"type": "nope"}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "sdp.offer", "session_id": "s-1"}', "missing_field"),
        ('{"type": "sdp.offer", "session_id": "s-1", "sdp": "hello"}', "bad_field"),
        ('{"type": "sdp.offer", "session_id": 5, "sdp": "v=0"}', "bad_field"),
        ('{"type": "sdp.offer", "session_id": "../../etc", "sdp": "v=0"}', "bad_field"),
        ('{"type": "sdp.offer", "session_id": null, "sdp": "v=0"}', "bad_field"),
        (
            '{"type": "session.waiting", "session_id": "s", "ticket": "A-1", "position": true}',
            "bad_field",
        ),
        (
            '{"type": "session.waiting", "session_id": "s", "ticket": "A-1", "position": -1}',
            "bad_field",
        ),
        ('{"type": "session.hold", "session_id": "s", "on": "yes"}', "bad_field"),
        (
            '{"type": "session.participants", "session_id": "s", "primary": "a", "others": "b"}',
            "bad_field",
        ),
        (
            '{"type": "session.participants", "session_id": "s", "primary": "a", "others": [1]}',
            "bad_field",
        ),
        ('{"type": "session.end", "session_id": "s", "reason": "bored"}', "bad_field"),
        ('{"type": "session.leave", "session_id": "s", "extra": 1}', "unknown_field"),
    ],
)
def test_bad_messages_get_a_code(text: str, code: str) -> None:
    assert _code(text) == code


def test_oversized_message_is_refused_before_parsing() -> None:
    huge = json.dumps({"type": "sdp.offer", "session_id": "s", "sdp": "v=0" + "x" * 70_000})
    assert _code(huge) == "too_large"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 60_000,
        '{"type": "session.start", "purpose": ' + "[" * 30_000 + "]" * 30_000 + "}",
    ],
)
def test_json_nested_too_deeply_is_bad_json_not_a_crash(text: str) -> None:
    assert _code(text) == "bad_json"


def test_error_is_a_signaling_error_with_a_stable_code() -> None:
    with pytest.raises(sig.SignalingError) as info:
        sig.parse_message("nope")
    assert info.value.code == "bad_json"


def _nested(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(children) | st.dictionaries(st.text(), children)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    _nested,
    max_leaves=20,
)


@given(st.text())
def test_any_text_parses_or_raises_protocol_error(text: str) -> None:
    try:
        sig.parse_message(text)
    except sig.ProtocolError:
        pass


@given(
    st.sampled_from(sorted(sig.message_types())), st.dictionaries(st.text(max_size=20), json_values)
)
def test_any_object_with_a_known_type_parses_or_raises_protocol_error(
    tag: str, fields: dict[str, object]
) -> None:
    try:
        message = sig.parse_message(json.dumps({**fields, "type": tag}))
    except sig.ProtocolError:
        return
    assert message.type == tag


# -- nested payloads ------------------------------------------------------------------------------


def _frame(tag: str, **fields: object) -> str:
    return json.dumps({"type": tag, **fields})


HELLO = {"role": "terminal", "peer_id": "kita-01"}
PURPOSE = {"id": "moving", "ja": "引っ越し", "en": "Moving"}
VIEW = {"title": {"ja": "転入届", "en": "Moving in"}, "index": 1, "count": 1, "fields": []}
SIGN = {"session_id": "s-1", "width": 100, "height": 50}


def _draft(value: object) -> str:
    return _frame("form.state", session_id="s-1", version=1, draft=value)


def _deep(depth: int) -> object:
    value: object = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # an unknown field inside a nested payload, at every level
        (_frame("hello", **HELLO, purposes=[{**PURPOSE, "icon": "x"}]), "unknown_field"),
        (
            _frame("form.show", session_id="s", procedure="p", view={**VIEW, "x": 1}),
            "unknown_field",
        ),
        (
            _frame(
                "form.show",
                session_id="s",
                procedure="p",
                view={**VIEW, "title": {"ja": "a", "en": "b", "fr": "c"}},
            ),
            "unknown_field",
        ),
        (_frame("hello", **HELLO, purposes=[{"id": "moving", "ja": "引っ越し"}]), "missing_field"),
        # the wrong type inside a list
        (_frame("hello", **HELLO, purposes=[PURPOSE, "tax"]), "bad_field"),
        (_frame("hello", **HELLO, purposes=[{**PURPOSE, "ja": 7}]), "bad_field"),
        (_frame("hello", **HELLO, purposes=[{**PURPOSE, "ja": ""}]), "bad_field"),
        (_frame("form.signature", **SIGN, strokes=[[[1, "2"]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[[1, True]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[{"x": 1, "y": 2}]]), "bad_signature"),
        (_frame("form.edit", session_id="s", field="shared.name", value=[1], base=0), "bad_value"),
        (
            _frame(
                "form.edit", session_id="s", field="shared.household", value=[{"Name": "x"}], base=0
            ),
            "bad_value",
        ),
        (
            _frame(
                "form.edit", session_id="s", field="shared.household", value=[{"a": [1]}], base=0
            ),
            "bad_value",
        ),
        (
            _frame("form.edit", session_id="s", field="shared.name", value={"a": 1}, base=0),
            "bad_value",
        ),
        (_frame("form.edit", session_id="s", field="shared.name", value=1.5, base=0), "bad_value"),
        (
            _frame("form.edit", session_id="s", field="shared.name", value=2**60, base=0),
            "bad_value",
        ),
        (_frame("form.edit", session_id="s", field="shared.name", base=0), "missing_field"),
        # too many items
        (_frame("hello", **HELLO, purposes=[PURPOSE] * 33), "bad_field"),
        (_frame("form.signature", **SIGN, strokes=[[[1, 1]]] * 201), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[[1, 1]] * 2500] * 5), "too_large"),
        (
            _frame("form.edit", session_id="s", field="shared.h", value=[{}] * 21, base=0),
            "bad_value",
        ),
        (_draft({"values": list(range(10_001))}), "bad_field"),
        (_frame("supervisor.snapshot", snapshot={"waiting": [0] * 20_001}), "bad_field"),
        # too deep, too long, not an object, not finite
        (_draft(_deep(9)), "bad_field"),
        (_draft({"a": "x" * 8001}), "bad_field"),
        (_draft({"x" * 8001: 1}), "bad_field"),
        (_draft([]), "bad_field"),
        (_draft("{}"), "bad_field"),  # hub output never came as JSON text from an old hub
        (_draft({"a": 2**60}), "bad_field"),
        ('{"type":"form.state","session_id":"s","version":1,"draft":{"a":NaN}}', "bad_field"),
        (
            '{"type":"form.signature","session_id":"s","width":9,"height":9,"strokes":[[[NaN,1]]]}',
            "bad_signature",
        ),
        (_frame("form.show", session_id="s", procedure="p", view="{}"), "bad_field"),
        # the signature's own rule: inside its box, not empty
        (_frame("form.signature", **SIGN, strokes=[[[101, 1]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[[1, 51, 0]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[[-1, 1]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[[1, 1, 0, 0]]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[[]]), "bad_signature"),
        (_frame("form.signature", **SIGN, strokes=[]), "bad_signature"),
        (_frame("form.signature", **{**SIGN, "width": 0}, strokes=[[[0, 0]]]), "bad_field"),
        # a lone surrogate is not text
        ('{"type":"session.start","purpose":"a","priority":"\\ud800"}', "bad_field"),
        ('{"type":"ice.candidate","session_id":"s","candidate":"\\udfff"}', "bad_field"),
        (_draft({"a": "\ud800"}), "bad_field"),  # json.dumps writes it as an escape
    ],
)
def test_bad_nested_payloads_get_a_code(text: str, code: str) -> None:
    assert _code(text) == code


def test_a_signature_holds_at_most_its_points_in_all() -> None:
    strokes = [[[1, 1]] * 100] * 101  # 10,100 points, each stroke within its own limit
    signature = sig.FormSignature(
        session_id="s-1",
        width=10,
        height=10,
        strokes=tuple(tuple(sig.Point(x, y) for x, y in s) for s in strokes),
    )
    with pytest.raises(sig.ProtocolError) as info:
        sig.decode(sig.Signature, {"width": 10, "height": 10, "strokes": strokes})
    assert info.value.code == "bad_signature" and "10000 points" in str(info.value)
    assert signature.problem() is not None


def test_the_error_names_the_message_type_and_the_place() -> None:
    with pytest.raises(sig.ProtocolError) as info:
        sig.parse_message(_frame("form.signature", **SIGN, strokes=[[[1, 1], [1, "x"]]]))
    assert info.value.message_type == "form.signature"
    assert "strokes[0][1][1]" in str(info.value)
    with pytest.raises(sig.ProtocolError) as info:
        sig.parse_message("{")
    assert info.value.message_type is None


def test_decode_reads_a_payload_by_the_same_rule() -> None:
    body = {"width": 1200, "height": 400, "strokes": [[[10, 20, 5], [30, 40, 21]]]}
    signature = sig.decode(sig.Signature, body)
    assert signature == sig.Signature(1200, 400, ((sig.Point(10, 20, 5), sig.Point(30, 40, 21)),))
    assert sig.to_json(signature) == body
    with pytest.raises(sig.ProtocolError) as info:
        sig.decode(sig.Signature, {**body, "strokes": [[[1300, 20]]]})
    assert info.value.code == "bad_signature"
    with pytest.raises(sig.ProtocolError) as info:
        sig.decode(sig.Signature, {**body, "session_id": "s"})
    assert info.value.code == "unknown_field"


def test_encode_with_check_refuses_what_a_receiver_would() -> None:
    long_name = sig.Hello(role="terminal", peer_id="t", purposes=(sig.Purpose("a", "x" * 65, "y"),))
    with pytest.raises(sig.ProtocolError) as info:
        sig.encode(long_name, check=True)
    assert info.value.code == "bad_field"
    assert sig.encode(EXAMPLES[1], check=True) == sig.encode(EXAMPLES[1])


def test_points_leave_out_an_absent_time() -> None:
    message = sig.FormSignature(
        session_id="s", width=9, height=9, strokes=((sig.Point(1, 2), sig.Point(3, 4, 5)),)
    )
    assert json.loads(sig.encode(message))["strokes"] == [[[1, 2], [3, 4, 5]]]


# -- compatibility with the 0.1 frames (remove in 0.3) --------------------------------------------


def test_a_01_terminals_strokes_as_json_text_are_read_into_points() -> None:
    old = _frame("form.signature", **SIGN, strokes=json.dumps([[[1, 2, 0], [3, 4, 16]]]))
    message = sig.parse_message(old)
    assert isinstance(message, sig.FormSignature)
    assert message.strokes == ((sig.Point(1, 2, 0), sig.Point(3, 4, 16)),)
    # … and by the same rule as the new shape
    assert _code(_frame("form.signature", **SIGN, strokes="[[[500, 2]]]")) == "bad_signature"
    assert _code(_frame("form.signature", **SIGN, strokes="not json")) == "bad_signature"
    assert _code(_frame("form.signature", **SIGN, strokes="[" * 5000)) == "bad_signature"


@pytest.mark.parametrize(
    ("sent", "value"),
    [
        # the 0.1 console: JSON.stringify(value)
        ('"山田 花子"', "山田 花子"),
        ("true", True),
        ("false", False),
        ("null", None),
        ('[{"name": "山田"}]', ({"name": "山田"},)),
        # text as the 0.2 console sends it: left as it is
        ("山田 花子", "山田 花子"),
        ("20240401", "20240401"),  # a JSON number stays text: digits are typed into forms
        ("3", "3"),
        ("R6.4.1", "R6.4.1"),
        ("", ""),
    ],
)
def test_a_01_consoles_value_as_json_text_is_decoded_once(sent: str, value: object) -> None:
    message = sig.parse_message(
        _frame("form.edit", session_id="s", field="shared.name", value=sent, base=0)
    )
    assert isinstance(message, sig.FormEdit) and message.value == value


def test_a_json_text_that_is_not_a_value_is_bad_value() -> None:
    old = _frame("form.edit", session_id="s", field="shared.name", value='{"a": {"b": 1}}', base=0)
    assert _code(old) == "bad_value"


# -- property: every valid message round-trips --------------------------------------------------


def _legacy_looking(text: str) -> bool:
    """Text a 0.1 console could have sent as ``JSON.stringify`` of a non-number: read as that
    until 0.3 (the one ambiguity of the compatibility rule; see docs/protocol.md)."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return False
    return not isinstance(decoded, int | float) or isinstance(decoded, bool)


_text = st.text(max_size=12)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text
_json_values = st.recursive(
    _json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=10,
)
_OVERRIDES: dict[Any, st.SearchStrategy[Any]] = {
    # inside any box: the signature's own rule holds
    sig.Point: st.builds(
        sig.Point,
        x=st.integers(0, 1) | st.floats(0, 1),
        y=st.integers(0, 1),
        t=st.none() | st.integers(0, 2**53),
    ),
}


def _strategy(hint: Any, meta: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if "json" in meta:
        return st.dictionaries(_text, _json_values, max_size=4)
    if hint in _OVERRIDES:
        return _OVERRIDES[hint]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, type(int | None)):
        return st.one_of(*(_strategy(a, meta) for a in args))
    if hint is type(None):
        return st.none()
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(meta.get("min", -(2**53)), meta.get("max", 2**53))
    if hint is float:
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False)
    if hint is str:
        if "choices" in meta:
            return st.sampled_from(sorted(meta["choices"]))
        max_len = min(meta.get("max_len", 64), 40)
        if "pattern" in meta:
            return st.from_regex(meta["pattern"], fullmatch=True).filter(
                lambda t: len(t) <= meta["max_len"]
            )
        text = st.text(min_size=meta.get("min_len", 0), max_size=max_len)
        prefix = meta.get("prefix", "")
        return text.map(lambda t: prefix + t) if prefix else text
    if typing.get_origin(hint) is tuple:
        inner = meta.get("item", meta)
        items = st.lists(
            _strategy(args[0], inner),
            min_size=meta.get("min_items", 0),
            max_size=min(meta.get("max_items", 16), 3),
        )
        return items.map(tuple)
    if typing.get_origin(hint) is Mapping:
        return st.dictionaries(
            st.from_regex(meta["key_pattern"], fullmatch=True),
            _strategy(args[1], meta.get("item", {})),
            max_size=3,
        )
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return st.builds(
            hint, **{f.name: _strategy(hints[f.name], f.metadata) for f in dataclasses.fields(hint)}
        )
    raise TypeError(hint)


def _message(cls: type[sig.Message]) -> st.SearchStrategy[sig.Message]:
    built = _strategy(cls, {})
    if cls is sig.FormEdit:
        built = built.filter(lambda m: not (isinstance(m.value, str) and _legacy_looking(m.value)))
    return built


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(sig.message_types().values(), key=lambda c: c.type)).flatmap(_message)
)
def test_any_valid_message_round_trips(message: sig.Message) -> None:
    assert sig.parse_message(sig.encode(message)) == message


def test_the_one_ambiguity_of_the_compatibility_rule() -> None:
    """Until 0.3, text that is itself JSON of a non-number (``true``, ``null``, ``"x"``) is read
    as a 0.1 console's encoding. No form value a person types looks like that but by accident."""
    for text, read in (("true", True), ("null", None), ('"x"', "x")):
        message = sig.FormEdit(session_id="s", field="shared.name", value=text, base=0)
        parsed = sig.parse_message(sig.encode(message))
        assert isinstance(parsed, sig.FormEdit) and parsed.value == read
    assert re.fullmatch(r"\d+", "20240401") and not _legacy_looking("20240401")
