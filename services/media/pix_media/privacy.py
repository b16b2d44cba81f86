"""What personal data media stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Uploaded originals with their metadata (EXIF, GPS), faces in photos",
        subjects="photographers, people visible in photos",
        purpose="making anonymised renditions (metadata stripped, faces blurred)",
        legal_basis="Art. 6(1)(b) contract",
        retention="originals 90 days after delivery (renditions stay); all at erasure",
    ),
)
