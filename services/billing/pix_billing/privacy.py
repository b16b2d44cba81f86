"""What personal data billing stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import STRIPE, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Billing data: organisation name, billing address, VAT id, invoices",
        subjects="the organisation's owner",
        purpose="subscriptions and invoices",
        legal_basis="Art. 6(1)(b) contract, 6(1)(c) tax law",
        retention="invoices ten years (§ 147 AO), the rest with the organisation",
        processors=(STRIPE,),
    ),
)
