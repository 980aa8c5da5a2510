"""SIP/RTP transport and phone bridge: our own small asyncio SIP user agent.

* :class:`PhoneBridge` -- answer calls, one pipeline session per call (``cascade phone``).
* :class:`SipUserAgent` / :class:`SipCall` -- signalling (UDP/TCP, INVITE/ACK/BYE/CANCEL/OPTIONS,
  re-INVITE hold, INFO DTMF, REFER, REGISTER with digest auth).
* :class:`SipTransport` -- a call as a cascade transport (jitter buffer, G.711, paced RTP).
* :class:`CallControl` -- hang up or transfer a call (what the LLM's call-control tools do).

Names are imported lazily so that ``cascade --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cascade.transports.sip.bridge import CallInfo, CallRecord, PhoneBridge, PipelineFactory
    from cascade.transports.sip.call import CallError, SipCall
    from cascade.transports.sip.control import CallControl
    from cascade.transports.sip.options import BridgeOptions, RegisterOptions, SipOptions
    from cascade.transports.sip.transaction import SipTimeout
    from cascade.transports.sip.transport import SipSink, SipSource, SipTransport
    from cascade.transports.sip.ua import SipUserAgent

_WHERE = {
    "CallInfo": "bridge",
    "CallRecord": "bridge",
    "PhoneBridge": "bridge",
    "PipelineFactory": "bridge",
    "CallError": "call",
    "SipCall": "call",
    "BridgeOptions": "options",
    "RegisterOptions": "options",
    "SipOptions": "options",
    "CallControl": "control",
    "SipSink": "transport",
    "SipSource": "transport",
    "SipTransport": "transport",
    "SipTimeout": "transaction",
    "SipUserAgent": "ua",
}

__all__ = [
    "BridgeOptions",
    "CallControl",
    "CallError",
    "CallInfo",
    "CallRecord",
    "PhoneBridge",
    "PipelineFactory",
    "RegisterOptions",
    "SipCall",
    "SipOptions",
    "SipSink",
    "SipSource",
    "SipTimeout",
    "SipTransport",
    "SipUserAgent",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
