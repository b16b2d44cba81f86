"""What personal data leads stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import OPENAI_COMPATIBLE, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Leads: name, email, phone, message, wishes, timeline, original messages",
        subjects="people who inquire about a property (not users)",
        purpose="answering inquiries, follow-ups, matching with properties",
        legal_basis="Art. 6(1)(b) pre-contractual steps, 6(1)(f) follow-ups",
        retention="raw messages 30 days; LOST leads anonymised after 12 months; "
        "export, erasure and objection on request",
        processors=(OPENAI_COMPATIBLE,),
    ),
)
