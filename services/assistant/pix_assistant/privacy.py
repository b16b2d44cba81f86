"""What personal data assistant stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import OPENAI_COMPATIBLE, PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Conversations with the assistant, its tool calls, AI usage log",
        subjects="users; leads named in conversations",
        purpose="answering the user's requests with the platform's tools",
        legal_basis="Art. 6(1)(b) contract",
        retention="with the organisation",
        processors=(OPENAI_COMPATIBLE,),
    ),
)
