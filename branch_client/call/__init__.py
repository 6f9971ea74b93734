"""The WebRTC call at the terminal: one peer connection per staff member in the session.

:mod:`.ice` chooses which local addresses are offered as ICE host candidates.
"""
