"""Recorded human speech from Debian packages (installed by ``scripts/setup.sh test``)."""

from __future__ import annotations

from pathlib import Path

import pytest

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
ASTERISK = Path("/usr/share/asterisk/sounds/en")
LIBRIVOX = POCKETSPHINX / "librivox"
LONG = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
"""7.1 s, 16 kHz: "and mister john dashwood had then leisure to consider how much there might be
prudently in his power to do for them"."""
LONG_TEXT = (
    "and mister john dashwood had then leisure to consider how much there might be prudently "
    "in his power to do for them"
)
SHORT = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
"""3.0 s, 16 kHz: "he was not an ill disposed young man"."""
PHONE = ASTERISK / "agent-loggedoff.wav"
"""8 kHz telephone prompt: "Agent Logged off."."""
MARRIED = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0920.wav"
"""5.6 s, 16 kHz: "had he married a more amiable woman he might have been made still more
respectable than he was"."""
MENU = ASTERISK / "conf-usermenu.wav"
"""8 kHz telephone prompt, four phrases with pauses the VAD cuts at: "Please press 1 to mute or
unmute yourself, 4 or 6 to decrease or increase the conference volume, 7 or 9 to decrease or
increase your volume, or 8 to exit."."""
MENU_TEXT = (
    "please press one to mute or unmute yourself four or six to decrease or increase the "
    "conference volume seven or nine to decrease or increase your volume or eight to exit"
)
PHONE_2 = ASTERISK / "call-waiting.wav"
"""8 kHz telephone prompt: "Call waiting."."""


def speech(path: Path) -> str:
    """The path as a string, failing clearly when the Debian package is missing."""
    if not path.is_file():
        package = "pocketsphinx-testdata" if POCKETSPHINX in path.parents else "asterisk-core-sounds-en-wav"
        pytest.fail(f"recorded speech {path} is missing: apt install {package} (scripts/setup.sh test)")
    return str(path)
