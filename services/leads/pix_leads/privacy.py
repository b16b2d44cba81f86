"""What personal data leads stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import OPENAI_COMPATIBLE, PersonalData, Processor

# The agent's own providers: they hold the agent's mailbox and calendar already; we send and
# read through them on the agent's instruction.
AGENTS_MAIL_AND_CALENDAR = Processor(
    name="The agent's own mail and calendar provider (Google, Microsoft, IMAP/CalDAV host)",
    receives="replies and follow-ups to leads, viewing invitations and their answers",
    location="as the agent chose (Google and Microsoft: EU-US Data Privacy Framework)",
    condition="only when an agent connects a mailbox or a calendar",
)

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
    PersonalData(
        category="Agents' connected mailboxes and calendars: address, sealed tokens or "
        "passwords, sync cursors; viewings (time, place, the lead)",
        subjects="the organisation's agents; leads invited to viewings",
        purpose="sending to leads from the agent's own address, reading their answers, "
        "viewings in the agent's calendar",
        legal_basis="Art. 6(1)(b) the agent's contract; 6(1)(f) for the leads' answers",
        retention="credentials until the agent disconnects (then deleted and revoked); only "
        "answers matched to a lead are stored, as part of the lead",
        processors=(AGENTS_MAIL_AND_CALENDAR,),
    ),
)
