"""The Madoguchi wire protocol: typed, validated signaling messages.

Pure: no sockets, no event loop. Every process (hub, terminal, tests) parses what it receives with
:func:`parse_message` and builds what it sends from the dataclasses here.
"""

from signaling.messages import (
    END_REASONS,
    MAX_MESSAGE_BYTES,
    ErrorReply,
    Hello,
    IceCandidate,
    Message,
    ProtocolError,
    QueueEmpty,
    QueueNext,
    SdpAnswer,
    SdpOffer,
    SessionAssigned,
    SessionConnected,
    SessionEnd,
    SessionEnded,
    SessionStart,
    SessionWaiting,
    SignalingError,
    encode,
    message_types,
    parse_message,
)

__all__ = [
    "END_REASONS",
    "MAX_MESSAGE_BYTES",
    "ErrorReply",
    "Hello",
    "IceCandidate",
    "Message",
    "ProtocolError",
    "QueueEmpty",
    "QueueNext",
    "SdpAnswer",
    "SdpOffer",
    "SessionAssigned",
    "SessionConnected",
    "SessionEnd",
    "SessionEnded",
    "SessionStart",
    "SessionWaiting",
    "SignalingError",
    "encode",
    "message_types",
    "parse_message",
]
