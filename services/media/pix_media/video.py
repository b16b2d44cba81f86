"""Videos (MP4): checked by container, remuxed without metadata, and given a poster frame.

Pure functions, no HTTP, broker or database. PyAV's wheel bundles FFmpeg's libraries, so
nothing depends on an `ffmpeg` binary on the machine (Debian's is not installed here).

- The type is decided by the first bytes: an ISO base media `ftyp` box with an MP4 brand
  (QuickTime's `qt  ` and image brands such as HEIC are refused).
- The container is then opened by FFmpeg's demuxer: it must hold a video stream, its
  duration at most `max_seconds`, and its first frame must decode (that frame is the poster).
- The delivered file is a remux (no re-encoding) of the video and audio streams only, into a
  new MP4 that carries no container or stream metadata: no GPS location, creation time, device
  or encoder tags, and no data tracks (phones keep GPS tracks there). `+faststart` puts the
  index first so a browser plays it while it downloads. The original stays private and is
  deleted with the originals' retention like a photo's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
from PIL import Image

from pix_media.files import FileRejected
from pix_media.imaging import Rendition, _encode_jpeg, _fit

MP4_BRANDS: Final = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"}
)
MEDIA_TYPE: Final = "video/mp4"


@dataclass(frozen=True)
class Video:
    data: bytes
    width: int
    height: int
    duration_seconds: float
    poster_web: Rendition
    poster_thumb: Rendition


def is_mp4(head: bytes) -> bool:
    """An `ftyp` box first whose major or a compatible brand is an MP4 brand."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(size, len(head))] if size >= 16 else head[8:16]
    brands = {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    return bool(brands & MP4_BRANDS) and box[0:4] != b"qt  "


def accepted_video(head: bytes) -> str:
    if not is_mp4(head):
        raise FileRejected("unsupported_type", "a video must be an MP4 file (checked by content)")
    return MEDIA_TYPE


def _poster(frame: av.VideoFrame, web_edge: int, thumb_edge: int) -> tuple[Rendition, Rendition]:
    image: Image.Image = frame.to_image().convert("RGB")  # type: ignore[no-untyped-call]
    web = image.resize(_fit(image.size, web_edge), Image.Resampling.LANCZOS)
    thumb = web.resize(_fit(web.size, thumb_edge), Image.Resampling.LANCZOS)
    return (
        Rendition(data=_encode_jpeg(web, 82), width=web.width, height=web.height),
        Rendition(data=_encode_jpeg(thumb, 80), width=thumb.width, height=thumb.height),
    )


def _remux(
    source: av.container.InputContainer, streams: list[av.stream.Stream], target_path: Path
) -> None:
    # `+faststart` rewrites the file after muxing, so the target is a file, not a buffer.
    with av.open(str(target_path), "w", format="mp4", options={"movflags": "+faststart"}) as target:
        mapping = {}
        for stream in streams:
            copied = target.add_stream_from_template(stream)
            copied.metadata.clear()
            mapping[stream.index] = copied
        target.metadata.clear()
        for packet in source.demux(streams):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            target.mux(packet)


def process_video(path: Path, *, max_seconds: float, web_edge: int, thumb_edge: int) -> Video:
    """Check, remux without metadata, and take the poster; FileRejected otherwise."""
    with path.open("rb") as handle:
        head = handle.read(64)
    accepted_video(head)
    try:
        with av.open(str(path), "r") as container:
            if not (container.format.name and "mp4" in container.format.name.split(",")):
                raise FileRejected("unsupported_type", "the file is not an MP4 container")
            if not container.streams.video:
                raise FileRejected("corrupt_file", "the MP4 holds no video stream")
            video = container.streams.video[0]
            duration = _duration(container, video)
            if duration > max_seconds:
                raise FileRejected(
                    "too_long", f"videos may be at most {int(max_seconds)} seconds long"
                )
            frame = next(container.decode(video), None)
            if frame is None:
                raise FileRejected("corrupt_file", "the video's first frame could not be decoded")
            web, thumb = _poster(frame, web_edge, thumb_edge)
            width, height = frame.width, frame.height
        with av.open(str(path), "r") as container:
            kept: list[av.stream.Stream] = [container.streams.video[0]]
            kept += list(container.streams.audio[:1])
            with tempfile.TemporaryDirectory(prefix="pix-video-") as folder:
                remuxed = Path(folder) / "video.mp4"
                _remux(container, kept, remuxed)
                data = remuxed.read_bytes()
    except FileRejected:
        raise
    except (av.FFmpegError, StopIteration, ValueError) as exc:
        raise FileRejected("corrupt_file", "the video could not be read") from exc
    return Video(data, width, height, duration, web, thumb)


def _duration(container: av.container.InputContainer, video: av.stream.Stream) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * Fraction(video.time_base))
    raise FileRejected("corrupt_file", "the video's duration is unknown")
