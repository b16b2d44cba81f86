"""German first, English on request: every text of the web UI, in both languages."""

from __future__ import annotations

from typing import Literal

Locale = Literal["de", "en"]
LOCALES: tuple[Locale, ...] = ("de", "en")

TEXTS: dict[str, tuple[str, str]] = {
    # navigation and layout
    "nav.dashboard": ("Übersicht", "Dashboard"),
    "nav.account": ("Konto", "Account"),
    "nav.admin": ("Verwaltung", "Admin"),
    "nav.login": ("Anmelden", "Sign in"),
    "nav.register": ("Registrieren", "Sign up"),
    "nav.logout": ("Abmelden", "Sign out"),
    "nav.privacy": ("Datenschutz", "Privacy"),
    "nav.order": ("Shooting bestellen", "Order a shoot"),
    "footer.tagline": (
        "Immobilienfotos, anonymisiert und zweisprachig beschrieben.",
        "Property photos, anonymised and described in two languages.",
    ),
    # home
    "home.title": (
        "Fotos rein. Exposé-Texte raus.",
        "Photos in. Listing copy out.",
    ),
    "home.lead": (
        "pix.immo nimmt die Fotos Ihres Shootings entgegen, entfernt Metadaten und Gesichter, "
        "erkennt die Räume und schreibt Bildtitel und Beschreibungen auf Deutsch und Englisch – "
        "fertig für FIO, onOffice und Propstack.",
        "pix.immo takes the photos of your shoot, removes metadata and faces, recognises the "
        "rooms and writes titles and descriptions in German and English – ready for FIO, "
        "onOffice and Propstack.",
    ),
    "home.cta": ("Kostenlos registrieren", "Sign up for free"),
    "home.step1.title": ("Bestellen", "Order"),
    "home.step1.text": (
        "Shooting mit Wunschtermin buchen – oder eigene Fotos hochladen.",
        "Book a shoot at your preferred date – or upload your own photos.",
    ),
    "home.step2.title": ("Anonymisieren", "Anonymise"),
    "home.step2.text": (
        "GPS, Kameradaten und Gesichter verschwinden, bevor eine KI ein Bild sieht.",
        "GPS, camera data and faces are gone before any AI sees a picture.",
    ),
    "home.step3.title": ("Beschreiben", "Describe"),
    "home.step3.text": (
        "Raumtyp, Titel und Text pro Bild, als .txt und .json.",
        "Room type, title and text per photo, as .txt and .json.",
    ),
    "home.step4.title": ("Übergeben", "Hand over"),
    "home.step4.text": (
        "Export als OpenImmo, für onOffice und Propstack, oder per Webhook.",
        "Export as OpenImmo, for onOffice and Propstack, or by webhook.",
    ),
    # forms
    "form.name": ("Ihr Name", "Your name"),
    "form.email": ("E-Mail", "Email"),
    "form.password": ("Passwort", "Password"),
    "form.password_hint": (
        "Mindestens 8 Zeichen. Eine Passphrase aus mehreren Wörtern ist ideal.",
        "At least 8 characters. A passphrase of several words is ideal.",
    ),
    "form.company": ("Firma / Maklerbüro", "Company / agency"),
    "form.language": ("Sprache", "Language"),
    "form.current_password": ("Aktuelles Passwort", "Current password"),
    "form.new_password": ("Neues Passwort", "New password"),
    "form.save": ("Speichern", "Save"),
    "login.title": ("Anmelden", "Sign in"),
    "login.submit": ("Anmelden", "Sign in"),
    "login.forgot": ("Passwort vergessen?", "Forgot your password?"),
    "login.no_account": ("Noch kein Konto?", "No account yet?"),
    "register.title": ("Konto anlegen", "Create an account"),
    "register.submit": ("Registrieren", "Sign up"),
    "register.consent": (
        "Mit der Registrierung akzeptieren Sie unsere Datenschutzhinweise.",
        "By signing up you accept our privacy notice.",
    ),
    "register.done": (
        "Fast geschafft! Wir haben Ihnen einen Link zur Bestätigung Ihrer E-Mail geschickt.",
        "Almost there! We sent you a link to confirm your email.",
    ),
    "forgot.title": ("Passwort vergessen", "Forgot password"),
    "forgot.lead": (
        "Geben Sie Ihre E-Mail-Adresse ein. Gibt es ein Konto dazu, schicken wir Ihnen einen "
        "Link für ein neues Passwort.",
        "Enter your email address. If there is an account for it, we will send you a link to "
        "set a new password.",
    ),
    "forgot.submit": ("Link anfordern", "Send link"),
    "forgot.done": (
        "Wenn ein Konto zu dieser Adresse existiert, ist eine E-Mail unterwegs. Der Link ist "
        "eine Stunde gültig.",
        "If an account exists for this address, an email is on its way. The link is valid for "
        "one hour.",
    ),
    "reset.title": ("Neues Passwort festlegen", "Set a new password"),
    "reset.submit": ("Passwort speichern", "Save password"),
    "reset.done": (
        "Ihr Passwort wurde geändert. Bitte melden Sie sich neu an.",
        "Your password was changed. Please sign in again.",
    ),
    "invite.title": ("Einladung annehmen", "Accept invitation"),
    "verify.title": ("E-Mail bestätigen", "Confirm email"),
    "verify.done": (
        "Danke! Ihre E-Mail-Adresse ist bestätigt.",
        "Thank you! Your email is confirmed.",
    ),
    "verify.pending": (
        "Bitte bestätigen Sie Ihre E-Mail-Adresse über den Link, den wir Ihnen geschickt haben.",
        "Please confirm your email address with the link we sent you.",
    ),
    "verify.resend": ("Link erneut senden", "Send the link again"),
    "verify.resent": ("Ein neuer Link ist unterwegs.", "A new link is on its way."),
    "link.invalid": (
        "Dieser Link ist ungültig, abgelaufen oder wurde schon benutzt.",
        "This link is invalid, expired or already used.",
    ),
    # dashboard
    "dash.hello": ("Hallo {name}!", "Hello {name}!"),
    "dash.uploads": ("Letzte Uploads", "Recent uploads"),
    "dash.galleries": ("Galerien", "Galleries"),
    "dash.orders": ("Aufträge", "Orders"),
    "dash.booking": ("Termin buchen", "Book a date"),
    "dash.booking_text": (
        "Wählen Sie einen Termin für Ihr nächstes Shooting.",
        "Pick a date for your next shoot.",
    ),
    "dash.booking_open": ("Zum Buchungskalender", "Open the booking calendar"),
    "dash.no_uploads": ("Noch keine Fotos hochgeladen.", "No photos uploaded yet."),
    "dash.no_galleries": (
        "Noch keine Galerie. Mit jedem Auftrag entsteht eine.",
        "No gallery yet. Every order gets one.",
    ),
    "dash.no_orders": ("Noch keine Aufträge.", "No orders yet."),
    "dash.photos": ("{count} Fotos", "{count} photos"),
    "status.pending": ("wartet auf Upload", "awaiting upload"),
    "status.queued": ("in der Warteschlange", "queued"),
    "status.processing": ("wird verarbeitet", "processing"),
    "status.processed": ("wird beschrieben", "captioning"),
    "status.captioned": ("fertig", "captioned"),
    "status.failed": ("fehlgeschlagen", "failed"),
    "status.rejected": ("abgelehnt", "rejected"),
    "order.received": ("eingegangen", "received"),
    "order.confirmed": ("bestätigt", "confirmed"),
    "order.scheduled": ("terminiert", "scheduled"),
    "order.shot": ("fotografiert", "shot"),
    "order.delivered": ("geliefert", "delivered"),
    "order.cancelled": ("storniert", "cancelled"),
    # account
    "account.title": ("Ihr Konto", "Your account"),
    "account.profile": ("Profil", "Profile"),
    "account.organisation": ("Organisation", "Organisation"),
    "account.password": ("Passwort ändern", "Change password"),
    "account.password_done": (
        "Passwort geändert. Alle anderen Sitzungen wurden abgemeldet.",
        "Password changed. All other sessions were signed out.",
    ),
    "account.saved": ("Gespeichert.", "Saved."),
    "account.sessions": ("Angemeldete Geräte", "Signed-in devices"),
    "account.this_device": ("dieses Gerät", "this device"),
    "account.last_seen": ("zuletzt aktiv", "last active"),
    "account.revoke": ("Abmelden", "Sign out"),
    "account.logout_all": ("Überall abmelden", "Sign out everywhere"),
    "account.data": ("Ihre Daten", "Your data"),
    "account.export": ("Daten herunterladen (JSON)", "Download your data (JSON)"),
    "account.delete": ("Konto löschen", "Delete account"),
    "account.delete_text": (
        "Das Konto wird sofort gelöscht; Aufträge und Fotos Ihrer Organisation bleiben bei "
        "der Organisation, Ihre Kontaktdaten darin werden anonymisiert.",
        "The account is deleted at once; orders and photos of your organisation stay with the "
        "organisation, your contact details in them are anonymised.",
    ),
    "account.delete_confirm": ("Endgültig löschen", "Delete for good"),
    "account.unverified": ("E-Mail noch nicht bestätigt", "Email not confirmed yet"),
    # admin
    "admin.title": ("Verwaltung", "Administration"),
    "admin.users": ("Benutzer", "Users"),
    "admin.organisations": ("Organisationen", "Organisations"),
    "admin.members": ("Mitglieder", "Members"),
    "admin.role": ("Rolle", "Role"),
    "admin.created": ("Angelegt", "Created"),
    "admin.invite": ("Kollegen einladen", "Invite a colleague"),
    "admin.invited": ("Einladung verschickt.", "Invitation sent."),
    "admin.mail": ("E-Mail-Ausgang (Entwicklung)", "Mail outbox (development)"),
    "admin.mail_empty": ("Noch keine E-Mails.", "No emails yet."),
    "admin.verified": ("bestätigt", "confirmed"),
    # orders
    "orders.title": ("Ihre Aufträge", "Your orders"),
    "orders.new": ("Shooting bestellen", "Order a shoot"),
    "orders.none": ("Noch keine Aufträge.", "No orders yet."),
    "orders.contact": ("Ansprechpartner vor Ort", "Contact on site"),
    "orders.phone": ("Telefon", "Phone"),
    "orders.property": ("Objekt", "Property"),
    "orders.street": ("Straße", "Street"),
    "orders.house_number": ("Hausnr.", "No."),
    "orders.postcode": ("PLZ", "Postcode"),
    "orders.city": ("Ort", "City"),
    "orders.country": ("Land", "Country"),
    "orders.address_search": ("Adresse suchen", "Search address"),
    "orders.property_type": ("Objektart", "Property type"),
    "type.apartment": ("Wohnung", "Apartment"),
    "type.house": ("Haus", "House"),
    "type.commercial": ("Gewerbe", "Commercial"),
    "type.land": ("Grundstück", "Land"),
    "orders.living_area": ("Wohnfläche (m²)", "Living area (m²)"),
    "orders.rooms": ("Zimmer", "Rooms"),
    "orders.services": ("Leistungen", "Services"),
    "orders.slots": ("Wunschtermine (bis zu drei)", "Preferred dates (up to three)"),
    "orders.slot": ("Termin {n}", "Date {n}"),
    "orders.slot_window": ("Tageszeit für Termin {n}", "Time of day for date {n}"),
    "window.morning": ("vormittags", "morning"),
    "window.afternoon": ("nachmittags", "afternoon"),
    "window.all_day": ("ganztags", "all day"),
    "orders.access_notes": ("Hinweise zum Zugang", "Access notes"),
    "orders.access_hint": (
        "Z. B. Schlüssel beim Hausmeister, Parkmöglichkeiten, Haustiere.",
        "E.g. keys with the caretaker, parking, pets.",
    ),
    "orders.submit": ("Verbindlich bestellen", "Place order"),
    "orders.total": ("Summe", "Total"),
    "orders.placed": (
        "Danke! Ihr Auftrag {reference} ist eingegangen. "
        "Eine Bestätigung ist per E-Mail unterwegs.",
        "Thank you! Your order {reference} has been received. A confirmation is on its way.",
    ),
    "orders.status": ("Status", "Status"),
    "orders.history": ("Verlauf", "History"),
    "orders.gallery": ("Zur Galerie", "Open gallery"),
    "orders.cancel": ("Auftrag stornieren", "Cancel order"),
    "orders.change_status": ("Status ändern", "Change status"),
    "orders.notes": ("Interne Notizen", "Internal notes"),
    "orders.add_note": ("Notiz speichern", "Save note"),
    "orders.filter": ("Filtern", "Filter"),
    "orders.search": ("Suche", "Search"),
    "orders.all": ("alle", "all"),
    "orders.csv": ("CSV exportieren", "Export CSV"),
    "orders.from": ("von", "from"),
    "orders.to": ("bis", "to"),
    "orders.placed_on": ("Bestellt am", "Ordered on"),
    "orders.organisation": ("Organisation", "Organisation"),
    "orders.note_label": ("Notiz (optional)", "Note (optional)"),
    "error.transition_not_allowed": (
        "Dieser Statuswechsel ist nicht möglich.",
        "This status change is not possible.",
    ),
    "error.email_unverified": (
        "Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse (Link in Ihrem Postfach).",
        "Please confirm your email address first (link in your inbox).",
    ),
    "field.required": ("Bitte ausfüllen.", "Please fill in."),
    "field.invalid_email": ("Bitte eine gültige E-Mail-Adresse.", "Please enter a valid email."),
    "field.invalid_phone": (
        "Bitte eine gültige Telefonnummer (DE, AT oder CH).",
        "Please enter a valid phone number (DE, AT or CH).",
    ),
    "field.postcode_format": (
        "Die PLZ passt nicht zum Land.",
        "The postcode does not match the country.",
    ),
    "field.country_unsupported": (
        "Wir fotografieren in DE, AT und CH.",
        "We shoot in DE, AT and CH.",
    ),
    "field.out_of_range": ("Bitte einen realistischen Wert.", "Please enter a realistic value."),
    "field.no_service": ("Bitte mindestens eine Leistung wählen.", "Please choose a service."),
    "field.unknown_service": ("Unbekannte Leistung.", "Unknown service."),
    "field.no_slot": ("Bitte mindestens einen Wunschtermin.", "Please give at least one date."),
    "field.too_many_slots": ("Höchstens drei Termine.", "At most three dates."),
    "field.date_in_past": ("Bitte ein Datum in der Zukunft.", "Please choose a future date."),
    "field.invalid_window": ("Bitte eine Tageszeit wählen.", "Please choose a time of day."),
    "field.too_long": ("Das ist zu lang.", "That is too long."),
    "field.invalid": ("Bitte prüfen Sie diese Angabe.", "Please check this field."),
    "nav.orders": ("Aufträge", "Orders"),
    "admin.orders": ("Aufträge verwalten", "Manage orders"),
    # gallery and uploads
    "gallery.title": ("Galerie {reference}", "Gallery {reference}"),
    "gallery.upload": ("Fotos hochladen", "Upload photos"),
    "gallery.drop": (
        "Fotos hierher ziehen oder auswählen – JPEG, PNG, WebP, TIFF oder HEIC, bis 50 MB.",
        "Drag photos here or choose them – JPEG, PNG, WebP, TIFF or HEIC, up to 50 MB.",
    ),
    "gallery.choose": ("Fotos auswählen", "Choose photos"),
    "gallery.naming": (
        "Tipp: Dateinamen wie „Küche_01.jpg“ oder „Bad-2.jpg“ bestimmen den Raumtyp.",
        "Tip: file names like “Kitchen_01.jpg” or “Bath-2.jpg” set the room type.",
    ),
    "gallery.total": ("Gesamt", "Total"),
    "gallery.photos": ("Fotos", "Photos"),
    "gallery.no_photos": ("Noch keine Fotos in dieser Galerie.", "No photos in this gallery yet."),
    "gallery.edit": ("Text bearbeiten", "Edit text"),
    "gallery.regenerate": ("Neu mit KI", "Regenerate with AI"),
    "gallery.cover": ("Titelbild", "Cover"),
    "gallery.make_cover": ("Als Titelbild", "Make cover"),
    "gallery.delete": ("Löschen", "Delete"),
    "gallery.edited": ("bearbeitet", "edited"),
    "gallery.faces": ("{count} Gesicht(er) unkenntlich gemacht", "{count} face(s) blurred"),
    "gallery.exports": ("Downloads für CRM und Exposé", "Downloads for CRM and listing"),
    "gallery.no_exports": (
        "Sobald die ersten Bildtexte fertig sind, erscheinen hier die Downloads.",
        "Downloads appear here as soon as the first captions are ready.",
    ),
    "gallery.version": ("Version {version}", "Version {version}"),
    "gallery.final": ("vollständig", "complete"),
    "gallery.interim": ("Zwischenstand", "interim"),
    "gallery.originals": ("ZIP in Originalgröße", "ZIP with originals"),
    "gallery.cancel_edit": ("Abbrechen", "Cancel"),
    "upload.waiting": ("wartet", "waiting"),
    "upload.uploading": ("lädt hoch …", "uploading …"),
    "upload.done": ("hochgeladen", "uploaded"),
    "upload.failed": ("fehlgeschlagen", "failed"),
    "upload.retry": ("Erneut", "Retry"),
    "upload.cancel": ("Abbrechen", "Cancel"),
    "upload.cancelled": ("abgebrochen", "cancelled"),
    "upload.network": ("Verbindung unterbrochen", "connection lost"),
    "status.uploading": ("lädt hoch", "uploading"),
    "error.duplicate": (
        "Dieses Foto ist schon in der Galerie.",
        "This photo is already in the gallery.",
    ),
    "error.not_an_image": ("Das ist kein Bild.", "This is not an image."),
    "error.corrupt_image": ("Die Bilddatei ist beschädigt.", "The image file is damaged."),
    "error.too_many_pixels": ("Das Bild hat zu viele Pixel.", "The image has too many pixels."),
    "error.unsupported_type": (
        "Dieses Format wird nicht unterstützt.",
        "This format is not supported.",
    ),
    "admin.captions": ("Fehlgeschlagene Bildtexte", "Failed captions"),
    "admin.reason": ("Grund", "Reason"),
    "admin.attempts": ("Versuche", "Attempts"),
    "admin.no_failures": ("Keine fehlgeschlagenen Bildtexte.", "No failed captions."),
    # integrations
    "nav.integrations": ("CRM-Anbindung", "CRM integration"),
    "hooks.title": ("CRM-Anbindung per Webhook", "CRM integration by webhook"),
    "hooks.lead": (
        "Jede neue Export-Version wird an Ihre HTTPS-Adresse gesendet, signiert mit "
        "HMAC-SHA256 (Kopfzeilen Pix-Webhook-Signature und Pix-Webhook-Timestamp).",
        "Every new export version is sent to your HTTPS address, signed with HMAC-SHA256 "
        "(headers Pix-Webhook-Signature and Pix-Webhook-Timestamp).",
    ),
    "hooks.url": ("Adresse (https://…)", "Address (https://…)"),
    "hooks.description": ("Beschreibung", "Description"),
    "hooks.add": ("Webhook anlegen", "Add webhook"),
    "hooks.secret": (
        "Ihr Signaturschlüssel – er wird nur jetzt angezeigt:",
        "Your signing secret – shown only now:",
    ),
    "hooks.none": ("Noch keine Webhooks.", "No webhooks yet."),
    "hooks.test": ("Testereignis senden", "Send test event"),
    "hooks.delete": ("Entfernen", "Remove"),
    "hooks.log": ("Zustellungen", "Deliveries"),
    "hooks.no_deliveries": ("Noch keine Zustellungen.", "No deliveries yet."),
    "gallery.per_image": ("Einzeldateien pro Foto", "Files per photo"),
    "export.bundle-web": ("Alles als ZIP (Webgröße)", "Everything as ZIP (web size)"),
    "export.openimmo": ("OpenImmo 1.2.7b (ZIP)", "OpenImmo 1.2.7b (ZIP)"),
    "export.captions-json": ("Bildtexte (JSON)", "Captions (JSON)"),
    "export.captions-txt": ("Bildtexte (Text)", "Captions (text)"),
    "export.onoffice": ("onOffice-Feldzuordnung", "onOffice field mapping"),
    "export.propstack": ("Propstack-Bilddaten", "Propstack image payloads"),
    "crm.title": ("Direkt ins CRM", "Straight into your CRM"),
    "crm.lead": (
        "Mit hinterlegten Zugangsdaten überträgt pix.immo jede fertige Galerie an das Objekt "
        "in onOffice oder Propstack. Die Zugangsdaten werden verschlüsselt gespeichert.",
        "With stored credentials pix.immo sends every finished gallery to the property in "
        "onOffice or Propstack. Credentials are stored encrypted.",
    ),
    "crm.token": ("API-Token", "API token"),
    "crm.secret": ("API-Secret", "API secret"),
    "crm.api_key": ("API-Schlüssel", "API key"),
    "crm.stored": ("hinterlegt", "stored"),
    "crm.record": ("Objekt-ID in {crm}", "Property id in {crm}"),
    "crm.pushes": ("Übertragungen", "Transfers"),
    # errors
    "error.title": ("Das hat nicht geklappt", "That did not work"),
    "error.404": ("Diese Seite gibt es nicht.", "This page does not exist."),
    "error.500": (
        "Ein Fehler ist aufgetreten. Bitte versuchen Sie es gleich noch einmal.",
        "Something went wrong. Please try again in a moment.",
    ),
    "error.503": (
        "Ein Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
        "A service is unavailable right now. Please try again in a moment.",
    ),
    "error.csrf": (
        "Die Anfrage kam nicht von dieser Seite und wurde abgelehnt.",
        "The request did not come from this site and was refused.",
    ),
    "error.rate_limited": (
        "Zu viele Versuche. Bitte warten Sie einen Moment.",
        "Too many attempts. Please wait a moment.",
    ),
    "error.invalid_credentials": (
        "E-Mail oder Passwort ist falsch.",
        "Email or password is wrong.",
    ),
    "error.email_taken": (
        "Zu dieser E-Mail gibt es schon ein Konto.",
        "There is already an account with this email.",
    ),
    "error.weak_password": ("Bitte mindestens 8 Zeichen.", "Please use at least 8 characters."),
    "error.common_password": (
        "Dieses Passwort ist zu verbreitet. Bitte wählen Sie ein anderes.",
        "This password is too common. Please choose another.",
    ),
    "error.password_too_long": ("Höchstens 128 Zeichen.", "At most 128 characters."),
    "error.wrong_password": ("Das Passwort stimmt nicht.", "The password is wrong."),
    "error.invalid": ("Bitte prüfen Sie diese Angabe.", "Please check this field."),
    "back_home": ("Zur Startseite", "Back to the start page"),
}


def translate(key: str, locale: Locale, **values: object) -> str:
    de, en = TEXTS.get(key, (key, key))
    text = de if locale == "de" else en
    return text.format(**values) if values else text
