"""The resident's kiosk page, served by the terminal on localhost.

:mod:`.server` is the page's HTTP API; :mod:`.local_media` turns the terminal's video into
Motion-JPEG for it and measures the microphone; ``static/`` holds the page itself. This
``__init__`` imports nothing, so the terminal can use the kiosk's modules without the server.
"""
