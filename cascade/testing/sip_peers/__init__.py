"""Real SIP peers to drive the phone bridge with, for tests and ``benchmarks/sip.py`` only.

* :mod:`~cascade.testing.sip_peers.ports` -- free loopback ports for SIP and RTP.
* :mod:`~cascade.testing.sip_peers.pcap` -- the caller's voice and key presses as an RTP pcap.
* :mod:`~cascade.testing.sip_peers.recorder` -- an RTP recorder (the caller's ear).
* :mod:`~cascade.testing.sip_peers.sipp` -- SIPp scenarios (call, cancel, hold, transfer, ...).
* :mod:`~cascade.testing.sip_peers.baresip` -- a baresip configuration that dials the bridge.
* :mod:`~cascade.testing.sip_peers.line` -- a line that returns a peer's RTP delayed and attenuated
  (the bot's echo from a phone without echo cancellation), with a caller's voice mixed in.

The bridge itself never imports this package. Everything binds to loopback (or whatever address
the caller passes).
"""
