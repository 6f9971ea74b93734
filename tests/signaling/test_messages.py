"""The wire protocol: every message round-trips, and nothing a peer sends crashes the parser."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import signaling as sig

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"

EXAMPLES: list[sig.Message] = [
    sig.Hello(role="staff", peer_id="suzuki"),
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
    sig.FormEdit(session_id="s-1", field="shared.name_kana", value='"バンゴウ ハナコ"', base=3),
    sig.FormEdit(session_id="s-1", field="form.tennyu_todoke.move_date", value="null", base=0),
    sig.FormSync(session_id="s-1"),
    sig.FormState(session_id="s-1", version=7, draft='{"values": {}}'),
    sig.FormReview(session_id="s-1", procedure="tennyu_todoke"),
    sig.FormShow(session_id="s-1", procedure="tennyu_todoke", view='{"fields": []}'),
    sig.FormConfirm(session_id="s-1", procedure="tennyu_todoke", confirmed=False),
    sig.FormSign(session_id="s-1"),
    sig.FormSignature(session_id="s-1", width=1200, height=400, strokes="[[[1, 2, 0]]]"),
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
    sig.SupervisorSnapshot(snapshot='{"today": {"served": 3}, "alerts": []}'),
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
