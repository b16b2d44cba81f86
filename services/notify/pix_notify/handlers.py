from faststream.kafka import KafkaBroker
from pix_contracts import (
    CaptionFailed,
    EmailVerificationRequested,
    GalleryExported,
    LeadMessageRequested,
    OrderPlaced,
    OrderStatusChanged,
    PasswordChanged,
    PasswordResetRequested,
    UserDeleted,
    UserDeletedV2,
    UserRegistered,
)
from pix_contracts.appointments import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentScheduled,
)
from pix_contracts.leads import AgentMailboxBroken
from pix_runtime.broker import subscribe
from pix_runtime.settings import PlatformSettings

from pix_notify.appointment_mail import AppointmentMailer
from pix_notify.lead_mail import LeadMailer, lead_mail_key
from pix_notify.mailbox_mail import MailboxMailer
from pix_notify.service import PostOffice, Templates


def register_handlers(broker: KafkaBroker, office: PostOffice) -> None:
    lead_mailer = LeadMailer(office.deliver, seal_key=lead_mail_key())
    appointment_mailer = AppointmentMailer(Templates().render, office.deliver, sender=office.sender)

    @subscribe(broker, AppointmentScheduled, group="notify.appointments-scheduled")
    async def appointment_scheduled(event: AppointmentScheduled) -> None:
        await appointment_mailer.appointment(event)

    @subscribe(broker, AppointmentChanged, group="notify.appointments-changed")
    async def appointment_changed(event: AppointmentChanged) -> None:
        await appointment_mailer.appointment(event)

    @subscribe(broker, AppointmentCancelled, group="notify.appointments-cancelled")
    async def appointment_cancelled(event: AppointmentCancelled) -> None:
        await appointment_mailer.appointment(event)

    mailbox_mailer = MailboxMailer(
        Templates().render,
        office.deliver,
        seal_key=lead_mail_key(),
        public_url=PlatformSettings().public_url,
    )

    @subscribe(broker, AgentMailboxBroken, group="notify.mailbox-broken")
    async def mailbox_broken(event: AgentMailboxBroken) -> None:
        await mailbox_mailer.mailbox_broken(event)

    @subscribe(broker, LeadMessageRequested, group="notify.lead-messages")
    async def lead_message_requested(event: LeadMessageRequested) -> None:
        await lead_mailer.lead_message_requested(event)

    @subscribe(broker, OrderPlaced, group="notify.orders")
    async def order_placed(event: OrderPlaced) -> None:
        await office.order_placed(event)

    @subscribe(broker, GalleryExported, group="notify.exports")
    async def gallery_exported(event: GalleryExported) -> None:
        await office.gallery_exported(event)

    @subscribe(broker, EmailVerificationRequested, group="notify.verifications")
    async def verification_requested(event: EmailVerificationRequested) -> None:
        await office.verification_requested(event)

    @subscribe(broker, PasswordResetRequested, group="notify.resets")
    async def reset_requested(event: PasswordResetRequested) -> None:
        await office.reset_requested(event)

    @subscribe(broker, PasswordChanged, group="notify.password-changes")
    async def password_changed(event: PasswordChanged) -> None:
        await office.password_changed(event)

    @subscribe(broker, UserDeletedV2, group="notify.erasures-v2")
    async def user_deleted(event: UserDeletedV2) -> None:
        await office.user_deleted(event)

    # Deprecated v1 (it carried the address): drained until the broker's retention has passed.
    @subscribe(broker, UserDeleted, group="notify.erasures")
    async def user_deleted_v1(event: UserDeleted) -> None:
        await office.user_deleted(event)

    @subscribe(broker, UserRegistered, group="notify.admins")
    async def user_registered(event: UserRegistered) -> None:
        await office.user_registered(event)

    @subscribe(broker, OrderStatusChanged, group="notify.order-status")
    async def order_status_changed(event: OrderStatusChanged) -> None:
        await office.order_status_changed(event)

    @subscribe(broker, CaptionFailed, group="notify.caption-failures")
    async def caption_failed(event: CaptionFailed) -> None:
        await office.caption_failed(event)
