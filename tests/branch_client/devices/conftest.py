"""The device tests' PulseAudio: one private server for the session (see :mod:`tests.pulse`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pulse import PulseServer, private_pulse


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    yield from private_pulse(tmp_path_factory.mktemp("pulse"))
