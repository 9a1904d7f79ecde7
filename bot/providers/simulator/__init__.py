"""A local relay speaking the three upstream wire formats, for the demo and the tests.

- ``server``: ``Simulator`` (lifetime, auth, recording, public file links, configs)
- ``videos``, ``unified``, ``chat`` + ``chat_stream``: one module per wire format
- ``faults``: the ``Fault`` vocabulary, injections and ``[sim:<fault>]`` prompt markers
- ``jobs``: job records and their time-driven state; ``media``: real MP4s via ``synth``
- ``wire``: ids and error answers as relays spell them; ``recording``: what clients sent
"""

from bot.providers.simulator.faults import Fault
from bot.providers.simulator.jobs import FilePart, Phase, SimJob
from bot.providers.simulator.recording import RecordedRequest
from bot.providers.simulator.server import Simulator

__all__ = ["Fault", "FilePart", "Phase", "RecordedRequest", "SimJob", "Simulator"]
