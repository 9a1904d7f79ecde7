"""Media handling: download a finished MP4, probe it, thumbnail it, fit it to an upload
limit, and shape a user's image for upload.

``download_video``/``save_stream`` are async; everything else is blocking and meant for
``asyncio.to_thread``.
"""

from bot.media.download import download_video, save_stream
from bot.media.images import inspect_image, prepare_image
from bot.media.probe import make_thumbnail, probe_video
from bot.media.transcode import fit_to_size

__all__ = [
    "download_video",
    "fit_to_size",
    "inspect_image",
    "make_thumbnail",
    "prepare_image",
    "probe_video",
    "save_stream",
]
