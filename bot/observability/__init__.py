"""Seeing what the bot does: structured logs, Prometheus metrics and a health endpoint.

- ``logs``: the log formats (text, logfmt, JSON) and ``configure_logging``, which puts a
  ``redaction.SecretRedactor`` on the root handler so no token or key is ever written;
- ``journal``: ``JobJournal`` wraps the job store and turns every job state change into
  one log line and one ``telemetry.JobChange``;
- ``telemetry``: the ``Telemetry`` port the core reports to, and ``NoTelemetry``;
- ``metrics``: ``Metrics``, the Prometheus implementation of ``Telemetry``;
- ``server``: ``OpsServer`` serving ``/metrics`` and ``/healthz`` for ``sora-bot run``.
"""
