"""What personal data listings stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import GOOGLE_MAPS, OPENAI_COMPATIBLE, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Properties: address, facts, texts; exposé sends and inquiries by lead id",
        subjects="property owners (address), leads (by id only)",
        purpose="marketing the property, exposés, matching",
        legal_basis="Art. 6(1)(b) contract",
        retention="with the organisation",
        processors=(OPENAI_COMPATIBLE, GOOGLE_MAPS),
    ),
)
