"""The WebRTC call at the terminal: :mod:`.peers` holds one peer connection per staff member in
the session, :mod:`.received` counts (and plays) what they send, and :mod:`.ice` chooses which
local addresses are offered as ICE host candidates.
"""
