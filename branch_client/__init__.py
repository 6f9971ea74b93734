"""Madoguchi branch terminal: the agent at a branch office's kiosk.

:mod:`.terminal` composes the parts: :mod:`.link` (the hub connection), :mod:`.phases` (the pure
table of the session's phases), :mod:`.call` (the WebRTC call, one peer connection per staff
member), :mod:`.devices` (camera, microphone, speaker, document camera), :mod:`.card` (the My
Number card) and :mod:`.documents` (a page from the document camera to the hub, through the pure
:mod:`.scan` pipeline); :mod:`.kiosk` serves the resident's page. :mod:`.config`,
:mod:`.enrollment` and :mod:`.cli` start it (``madoguchi branch``). It never imports the hub.
"""
