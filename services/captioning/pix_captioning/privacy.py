"""What personal data captioning stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import OPENAI_COMPATIBLE, REPLICATE, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Anonymised photos only (no metadata, faces blurred, pseudonymous names)",
        subjects="none identifiable",
        purpose="room type, titles and marketing texts",
        legal_basis="Art. 6(1)(b) contract",
        retention="captions with the gallery; erased with the organisation",
        processors=(REPLICATE, OPENAI_COMPATIBLE),
    ),
)
