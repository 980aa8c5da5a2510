"""The apps behind the command line: ``cascade phone``, ``cascade demo``, ``cascade config``.

Each reads the one :class:`~cascade.agent.config.AgentConfig` (file, ``CASCADE_*`` variables,
flags), checks everything checkable before a model loads, opens its ports, and takes calls only
once the agent is prepared (:class:`~cascade.readiness.Readiness`).
"""
