"""Reading a raw email: headers, text and HTML bodies (any transfer encoding and charset),
attachments, forwarded messages, and whether it is an auto-reply or a bounce.

HTML becomes text through a real HTML parser (selectolax): table rows turn into `Label: value`
lines, so a portal's HTML-only mail reads like its text version.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

MAX_PARTS = 200


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ReadMail:
    subject: str = ""
    from_name: str = ""
    from_addr: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    html_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    # Messages forwarded as attachments (message/rfc822), read the same way.
    embedded: list[ReadMail] = field(default_factory=list)
    content_type: str = ""

    @property
    def body(self) -> str:
        """The text body, or the HTML rendered as text when the mail has no text part."""
        return self.text if self.text.strip() else self.html_text

    def all_text(self) -> str:
        """Body plus every embedded message's headers and body (a forward as attachment)."""
        parts = [self.body]
        for inner in self.embedded:
            parts.append(f"From: {inner.from_name} <{inner.from_addr}>\nSubject: {inner.subject}")
            parts.append(inner.all_text())
        return "\n".join(parts)


def _header(message: Message, name: str) -> str:
    wanted = name.lower()
    value = next((v for k, v in message.raw_items() if k.lower() == wanted), None)
    if value is None:
        return ""
    if not value.isascii():
        # Raw 8-bit bytes in a header (no encoded words): UTF-8 as most mailers send it now,
        # else Latin-1.
        data = value.encode("ascii", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("latin-1")
    return _words(" ".join(value.split()))  # unfolded


def _words(value: str) -> str:
    """Encoded words (RFC 2047) decoded: the compat32 policy leaves them as they came (also in
    an attachment's name, which mailers encode so although RFC 2231 is the rule there)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value))).strip()
    except Exception:  # encoded words that cannot be decoded
        return value


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("latin-1", errors="replace")


def read_mail(raw: bytes) -> ReadMail:
    # compat32, not `policy.default`: the default policy parses every header it is asked for
    # into objects, a third of the intake's CPU per portal mail; the few headers read here
    # are decoded by `_header`.
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return _read(message)


def _read(message: Message) -> ReadMail:
    mail = ReadMail()
    mail.subject = _header(message, "Subject")
    name, addr = parseaddr(_header(message, "From"))
    mail.from_name, mail.from_addr = name.strip(), addr.strip().lower()
    mail.reply_to = parseaddr(_header(message, "Reply-To"))[1].strip().lower()
    mail.to = [a.lower() for _, a in getaddresses([_header(message, "To")]) if a]
    mail.message_id = _header(message, "Message-ID")
    mail.in_reply_to = _header(message, "In-Reply-To")
    mail.content_type = message.get_content_type()
    for key in (
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "x-auto-response-suppress",
        "precedence",
        "x-failed-recipients",
        "return-path",
    ):
        value = _header(message, key)
        if value:
            mail.headers[key] = value
    texts: list[str] = []
    htmls: list[str] = []
    for count, part in enumerate(message.walk()):
        if count > MAX_PARTS:
            break
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype == "message/rfc822":
                for inner in part.get_payload():
                    if isinstance(inner, Message):
                        mail.embedded.append(_read(inner))
            continue
        disposition = part.get_content_disposition()
        filename = _words(part.get_filename() or "")
        if ctype == "text/plain" and disposition != "attachment" and not filename:
            texts.append(_decoded_text(part))
        elif ctype == "text/html" and disposition != "attachment" and not filename:
            htmls.append(_decoded_text(part))
        else:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                mail.attachments.append(Attachment(filename, ctype, data))
    mail.text = "\n".join(t for t in texts if t.strip())
    mail.html_text = "\n".join(html_to_text(h) for h in htmls if h.strip())
    return mail


_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "section", "blockquote"}


def html_to_text(html: str) -> str:
    """Text of an HTML mail: a two-cell table row becomes `Label: value`, blocks break lines."""
    tree = HTMLParser(html)
    for tag in ("script", "style", "head"):
        for node in tree.css(tag):
            node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    lines: list[str] = []
    _render(root, lines)
    text = "\n".join(line.strip() for line in "".join(lines).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cell_text(node: Node) -> str:
    parts: list[str] = []
    _render(node, parts)
    return " ".join("".join(parts).split())


def _render(node: Node, out: list[str]) -> None:
    child = node.child
    while child is not None:
        tag = child.tag
        if tag == "-text":
            out.append(child.text(deep=False))
        elif tag == "tr":
            cells = [c for c in child.iter() if c.tag in ("td", "th")]
            values = [_cell_text(c) for c in cells]
            if len(values) == 2 and values[0]:
                label = values[0].rstrip(":").strip()
                out.append(f"\n{label}: {values[1]}\n")
            else:
                out.append("\n" + " ".join(v for v in values if v) + "\n")
        elif tag == "br":
            out.append("\n")
        elif tag == "a":
            label = child.text(deep=True).strip()
            href = child.attributes.get("href") or ""
            out.append(label if not href or href in label else f"{label} ({href})")
        else:
            if tag in _BLOCKS:
                out.append("\n")
            _render(child, out)
            if tag in _BLOCKS:
                out.append("\n")
        child = child.next


# --- what kind of mail it is -----------------------------------------------------------------

_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")
_BOUNCE_SUBJECTS = re.compile(
    r"^(undeliver|undelivered mail|delivery status notification|mail delivery failed|"
    r"returned mail|unzustellbar|nicht zustellbar|failure notice)",
    re.IGNORECASE,
)
_AUTO_SUBJECTS = re.compile(
    r"^(automatische antwort|abwesenheitsnotiz|auto:|autoreply|auto-reply|automatic reply|"
    r"out of office|abwesend|i am out of the office|ich bin nicht im büro)",
    re.IGNORECASE,
)


def is_bounce(mail: ReadMail, envelope_from: str | None) -> bool:
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        return True
    if mail.content_type == "multipart/report" or "x-failed-recipients" in mail.headers:
        return True
    if mail.from_addr.startswith(_BOUNCE_SENDERS):
        return True
    return bool(_BOUNCE_SUBJECTS.match(mail.subject))


def is_auto_reply(mail: ReadMail) -> bool:
    """An out-of-office or other machine answer (RFC 3834 and the common vendor headers).

    Portal notifications are machine-made too (`auto-generated`); they are recognised as
    inquiries before this is asked, so only `auto-replied` and the vendors' flags count here.
    """
    submitted = mail.headers.get("auto-submitted", "no").lower()
    if submitted.startswith("auto-replied"):
        return True
    if "x-autoreply" in mail.headers or "x-autorespond" in mail.headers:
        return True
    if mail.headers.get("precedence", "").lower() in ("auto_reply", "junk"):
        return True
    return bool(_AUTO_SUBJECTS.match(mail.subject))


def is_machine_generated(mail: ReadMail) -> bool:
    return mail.headers.get("auto-submitted", "no").lower().startswith("auto-generated")


_QUOTE_MARKERS = re.compile(
    r"^(am .{4,80} schrieb .{1,120}:|on .{4,80} wrote:|-{2,} ?original message ?-{2,}|"
    r"-{2,} ?ursprüngliche nachricht ?-{2,}|von: .+ gesendet: .+)",
    re.IGNORECASE,
)


def without_quote(text: str) -> str:
    """A reply's own words: everything above the quoted original."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_MARKERS.match(stripped):
            break
        kept.append(line)
    return "\n".join(kept).strip()
