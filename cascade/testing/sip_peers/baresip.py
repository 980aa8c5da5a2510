"""baresip as a real softphone caller: a configuration that plays a WAV and records the answer."""

from __future__ import annotations

from pathlib import Path


def baresip_config(directory: str | Path, audio_wav: str | Path, sip_port: int) -> Path:
    """Write a baresip configuration that plays ``audio_wav`` as the microphone and records the call.

    The answer is written by the ``sndfile`` module as ``dump-*-dec.wav`` in ``directory``;
    baresip hangs up when the file ends (pad it with silence to hear the whole answer).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{sip_port}",
        "sip_transports udp",
        f"audio_source aufile,{audio_wav}",
        "audio_player aubridge,nil",
        "audio_alert aubridge,nil",
        "audio_srate 8000",
        "audio_channels 1",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aufile.so",
        "module aubridge.so",
        "module sndfile.so",
        "module_app account.so",
        "module_app menu.so",
        f"snd_path {directory}",
    ]
    (directory / "config").write_text("\n".join(lines) + "\n")
    (directory / "accounts").write_text("<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    return directory


def baresip_command(config_dir: str | Path, target: str, seconds: int) -> list[str]:
    """Command line that dials ``target`` and quits after ``seconds`` at the latest."""
    return [
        "baresip",
        "-4",
        "-n",
        "127.0.0.1",
        "-f",
        str(config_dir),
        "-e",
        f"/dial {target}",
        "-t",
        str(seconds),
    ]
