"""What personal data orders stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import GOOGLE_MAPS, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Orders: contact name, email, phone, property address, access notes",
        subjects="the agent's contact person for the shoot",
        purpose="booking and carrying out the photo shoot, invoices",
        legal_basis="Art. 6(1)(b) contract",
        retention="with the organisation; the contact is anonymised when its user is deleted",
        processors=(GOOGLE_MAPS,),
    ),
    PersonalData(
        category="Appointments: the assigned photographer's user id, name and email",
        subjects="platform photographers",
        purpose="telling client and photographer when and where the shoot is",
        legal_basis="Art. 6(1)(b) contract",
        retention="with the order",
    ),
)
