"""What personal data notify stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import MAILGUN_EU, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Mail log: recipient address, name, subject and content; bounces",
        subjects="users, order contacts, leads",
        purpose="sending transactional mail, proving delivery, not mailing bounced addresses",
        legal_basis="Art. 6(1)(b) contract, 6(1)(f) deliverability",
        retention="90 days (mail log); erased by keyed digest when a user is deleted",
        processors=(MAILGUN_EU,),
    ),
    PersonalData(
        category="Notification preferences: the kinds of email a user switched off, their address",
        subjects="users",
        purpose="sending only the notification emails a user wants",
        legal_basis="Art. 6(1)(b) contract",
        retention="until switched on again, the user is deleted or the organisation erased",
        processors=(),
    ),
)
