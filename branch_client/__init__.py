"""Madoguchi branch terminal: devices, the WebRTC peer, and the resident's kiosk page."""
