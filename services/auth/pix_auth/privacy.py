"""What personal data auth stores, why, how long, and who else receives it: this
service's part of the record of processing (GDPR Art. 30), served at GET /privacy/processing."""

from pix_runtime.personal_data import PersonalData

PERSONAL_DATA: tuple[PersonalData, ...] = (
    PersonalData(
        category="Accounts: name, email address, password hash (argon2id), role, locale",
        subjects="users (agents, owners, photographers, staff)",
        purpose="sign-in, roles and tenancy, account mails",
        legal_basis="Art. 6(1)(b) contract",
        retention="until the account or its organisation is deleted",
    ),
    PersonalData(
        category="Sessions and trusted devices: hashed tokens, IP address, user agent, times",
        subjects="users",
        purpose="keeping users signed in, security (rate limits, log out everywhere)",
        legal_basis="Art. 6(1)(b) contract, 6(1)(f) security",
        retention="until expiry (sliding, absolute cap) or logout",
    ),
)
