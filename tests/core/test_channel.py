"""The stage-to-stage channel: order, back-pressure, closing, and no frame lost to cancellation."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from cascade.channel import create_channel
from cascade.frames import TextToSpeak

pytestmark = pytest.mark.anyio


def frame(i: int) -> TextToSpeak:
    return TextToSpeak(pts=float(i), text=str(i))


async def test_frames_arrive_in_order_and_the_receiver_ends_after_every_sender_closed() -> None:
    send, receive = create_channel(4)
    other = send.clone()
    await send.send(frame(0))
    await other.send(frame(1))
    send.close()
    await other.send(frame(2))  # one sender still open
    other.close()
    assert [f.text async for f in receive] == ["0", "1", "2"]
    with pytest.raises(anyio.EndOfStream):
        await receive.receive()


async def test_a_full_channel_blocks_the_sender_until_a_frame_is_taken() -> None:
    send, receive = create_channel(2)
    await send.send(frame(0))
    send.send_nowait(frame(1))
    with pytest.raises(anyio.WouldBlock):
        send.send_nowait(frame(2))
    sent = anyio.Event()

    async def sender() -> None:
        await send.send(frame(2))
        sent.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert not sent.is_set()
        assert (await receive.receive()).text == "0"
        await sent.wait()
    assert [receive.receive_nowait().text for _ in range(2)] == ["1", "2"]
    with pytest.raises(anyio.WouldBlock):
        receive.receive_nowait()


async def test_closed_ends_raise_clear_errors() -> None:
    send, receive = create_channel(1)
    receive.close()
    with pytest.raises(anyio.BrokenResourceError):
        await send.send(frame(0))
    send.close()
    with pytest.raises(anyio.ClosedResourceError):
        await send.send(frame(0))
    with pytest.raises(anyio.ClosedResourceError):
        await receive.receive()


async def test_a_sender_waiting_for_room_fails_when_the_receiver_closes() -> None:
    send, receive = create_channel(1)
    await send.send(frame(0))
    errors: list[BaseException] = []

    async def sender() -> None:
        try:
            await send.send(frame(1))
        except anyio.BrokenResourceError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        receive.close()
    assert len(errors) == 1


async def test_a_receiver_cancelled_after_being_woken_loses_no_frame() -> None:
    send, receive = create_channel(4)
    waiting = asyncio.ensure_future(receive.receive())
    await anyio.wait_all_tasks_blocked()
    await send.send(frame(7))  # wakes the receiver ...
    waiting.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert receive.receive_nowait().text == "7"


async def test_a_cancelled_waiting_sender_passes_the_room_on_to_the_next() -> None:
    send, receive = create_channel(1)
    await send.send(frame(0))
    first = asyncio.ensure_future(send.send(frame(1)))
    await anyio.wait_all_tasks_blocked()
    second = asyncio.ensure_future(send.send(frame(2)))
    await anyio.wait_all_tasks_blocked()
    receive.receive_nowait()  # room for one: the first waiting sender is woken ...
    first.cancel()  # ... and cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    with anyio.fail_after(1):
        await second
    assert receive.receive_nowait().text == "2"
