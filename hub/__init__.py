"""Madoguchi hub: the head-office server (aiohttp). All shared state lives in Redis."""
