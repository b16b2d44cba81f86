from pix_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

from pix_media.faces import FaceScan


class MediaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIX_MEDIA_", extra="ignore")

    service_name: str = "media"
    port: int = 8003
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    upload_url_seconds: int = 3600
    web_edge: int = 2000
    thumb_edge: int = 400
    # Files above this go up in parts of `part_bytes` (S3: every part but the last >= 5 MiB).
    multipart_threshold_bytes: int = 16 * 1024 * 1024
    part_bytes: int = 8 * 1024 * 1024
    # An upload (single or multipart) not completed within this long is abandoned: its parts,
    # bytes and row are removed.
    abandon_upload_seconds: float = 24 * 3600
    # CPU threads for image work in this process (Pillow and LiteRT release the GIL in decode,
    # resize, encode and detection); one photo more than this is in flight, so storage and
    # database waits overlap image work.
    workers: int = 2
    # A processing job running longer than this (a crashed worker, or a database that went
    # away under it) is taken over, at most `max_attempts` attempts in all before the photo is
    # rejected. A 24 MP photo takes well under a second; a minute leaves room for a busy
    # machine without keeping a shoot waiting five (the fault suite measured 5 minutes with
    # 300 s).
    processing_timeout_seconds: float = 60
    max_attempts: int = 3
    # How faces are searched: `scout` (faces from 2 % of the long edge, ~30 ms), the whole
    # frame only (from ~8 %, ~7 ms), overlapping tiles (from ~4 %, ~75 ms), or not at all;
    # see faces.py.
    face_scan: FaceScan = "scout"
    # A processed photo without a caption after this long is announced again.
    caption_timeout_seconds: float = 300
    reconcile_every_seconds: float = 15
    # Delivery (delivery.py): a gallery whose photo set is complete is delivered on its own
    # once it stayed unchanged this long (a burst of uploads finishes first); off, a person
    # delivers it. Changes after a delivery are delivered as updates either way.
    auto_deliver: bool = True
    delivery_quiet_seconds: float = 60
    # Retention: an original (full size, with its metadata) is deleted this many days after its
    # gallery's latest delivery; the anonymised renditions stay. Checked this often.
    original_retention_days: int = 90
    retention_interval_seconds: float = 6 * 3600
    # Deliverables (deliverables.py): floor plans (PDF, PNG, SVG) and videos (MP4), when the
    # order included them. Videos go up in parts like large photos; the metadata-free copy is
    # held in memory once while it is stored, so the bound keeps a worker within the 1 GiB of
    # deploy/k8s/media.yaml (a 2-minute 1080p phone video is ~250 MB).
    max_floor_plan_bytes: int = 30 * 1024 * 1024
    max_floor_plan_pages: int = 20
    max_video_bytes: int = 300 * 1024 * 1024
    max_video_seconds: float = 600
