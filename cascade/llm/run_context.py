"""RunContext: what a running tool may use of its session.

A tool declares a parameter annotated :class:`RunContext` (any name, anywhere in its signature);
it is left out of the schema the model sees, and the tool runner passes the session's context
when the tool runs:

>>> import anyio
>>> from cascade.llm import RunContext, tool
>>> @tool
... async def remember_name(name: str, ctx: RunContext) -> str:
...     "Remember the caller's name for later in the call."
...     ctx.userdata["name"] = name
...     await ctx.say(f"Nice to meet you, {name}.")
...     return f"Saved. This is a {ctx.info.transport} session."
>>> list(remember_name.schema()["function"]["parameters"]["properties"])
['name']
>>> said = []
>>> async def speak(text):
...     said.append(text)
>>> ctx = RunContext(userdata={}, say=speak)
>>> anyio.run(remember_name.invoke, remember_name.parse({"name": "Ada"}), ctx)
'Saved. This is a local session.'
>>> ctx.userdata, said
({'name': 'Ada'}, ['Nice to meet you, Ada.'])

Only phone calls can be hung up or transferred; elsewhere :meth:`RunContext.hang_up` raises
:class:`CallControlUnavailable`, whose message the model receives as the tool's (failed) result:

>>> anyio.run(ctx.hang_up)
Traceback (most recent call last):
cascade.llm.run_context.CallControlUnavailable: cannot hang up: this is a local session ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from cascade.session_info import SessionInfo

UserdataT = TypeVar("UserdataT")

SayFunction = Callable[[str], Awaitable[None]]


class CallControlUnavailable(RuntimeError):
    """The session cannot be hung up or transferred (it is not a phone call)."""


class RunContext(Generic[UserdataT]):
    """The session a tool runs in: who is calling, per-session data, and the call itself.

    ``RunContext[Booking]`` types :attr:`userdata` for the type checker (the agent's ``userdata``
    factory makes the object); a plain ``RunContext`` has a dict.
    """

    def __init__(
        self,
        *,
        info: SessionInfo | None = None,
        userdata: UserdataT,
        say: SayFunction | None = None,
        call_id: str = "",
    ) -> None:
        """Built by the tool runner for each call (tests build one to call a tool directly)."""
        self.info = info or SessionInfo()
        """Who the session is with: :attr:`~cascade.session_info.SessionInfo.session_id`,
        ``transport``, ``caller`` (the phone number on a call), ``remote``, ``call_id``."""
        self.userdata: UserdataT = userdata
        """Per-session data shared by every tool call of the session (and the session-end hook)."""
        self.call_id = call_id
        """The id of the tool call being run (as in its ``ToolCallRequest``)."""
        self._say = say

    @property
    def session_id(self) -> str:
        """The session's id (the SIP Call-ID on a phone call, the WebRTC session id)."""
        return self.info.session_id

    @property
    def caller(self) -> str | None:
        """The caller's id where known (their number on a phone call)."""
        return self.info.caller

    async def say(self, text: str) -> None:
        """Have the agent say ``text`` now, while the tool goes on (it replaces the filler).

        Returns once the text is queued for speech. It is not added to the conversation: put what
        the model should know in the tool's result. Nothing is said if the caller has
        interrupted the reply meanwhile.
        """
        if self._say is None:
            raise RuntimeError("this RunContext cannot speak: it was built without a say function")
        if text.strip():
            await self._say(text)

    async def hang_up(self, reason: str = "the agent ended the call") -> str:
        """End the call once the bot has finished its sentence; a sentence for the model.

        Raises :class:`CallControlUnavailable` where the session is not a phone call.
        """
        controls = self.info.controls
        if controls is None:
            raise CallControlUnavailable(
                f"cannot hang up: this is a {self.info.transport} session and only phone calls can "
                "be ended by the agent; say goodbye and let the caller end it"
            )
        return await controls.hang_up(reason)

    async def transfer(self, destination: str) -> str:
        """Transfer the caller to ``destination`` (the name of a configured transfer target); a
        sentence for the model saying whether it worked.

        Raises :class:`CallControlUnavailable` where the session is not a phone call.
        """
        controls = self.info.controls
        if controls is None:
            raise CallControlUnavailable(
                f"cannot transfer to {destination!r}: this is a {self.info.transport} session and "
                "only phone calls can be transferred"
            )
        return await controls.transfer(destination)

    def __repr__(self) -> str:
        return f"<RunContext {self.info.transport} session {self.info.session_id}>"


def is_run_context(annotation: Any) -> bool:
    """Whether a parameter annotation asks for the :class:`RunContext` (``RunContext[T]`` too)."""
    origin = getattr(annotation, "__origin__", annotation)
    return isinstance(origin, type) and issubclass(origin, RunContext)
