"""What personal data export stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Bundles of captions and anonymised photos; sealed CRM credentials",
        subjects="the organisation's staff (CRM accounts)",
        purpose="delivering the gallery to the agent's CRM",
        legal_basis="Art. 6(1)(b) contract",
        retention="with the organisation; credentials until revoked",
    ),
)
