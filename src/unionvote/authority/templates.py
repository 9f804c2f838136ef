"""What a member reads: the credential email (plain text and HTML) and the letter, in English
and Spanish.

One set of texts per language feeds all three forms, so the email and the letter never say
different things. The texts are ``string.Template``s; values put into HTML are escaped. The
instructions are the same for every member of an election (only the greeting, the card number
and the credential differ), so the letter can lay them out once per language.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template

from unionvote.authority.registered import RegisteredMember
from unionvote.authority.workspace import WorkspaceInfo
from unionvote.crypto.credentials import PrivateCredential
from unionvote.mail import Mail

__all__ = ["Instructions", "credential_mail", "instructions"]

_TEXTS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "en": {
        "subject": "Your voting credential: $election",
        "greeting": "Dear $name,",
        "intro": "You are registered to vote in: $election.",
        "card": "Card number: $card_number",
        "label": "Your voting credential is:",
        "keep": (
            "Keep it private, like a PIN. It proves that your ballot comes from a registered "
            "member without telling anyone how you voted: your union, the election committee "
            "and the election officer who sent it never see your vote."
        ),
        "how": "How to vote",
        "steps": (
            "$where",
            "Sign in as you did when you registered, with your card number.",
            "When the voting booth asks for your voting credential, type it exactly as written "
            "above. Capital and small letters matter; dashes and spaces do not. The last "
            "character is a check, so a typing mistake is caught at once.",
            "You may vote again until voting closes: only your last ballot counts.",
            "After you vote, the booth shows your ballot tracker. Keep it: anyone can check "
            "that it is in the published election record.",
        ),
        "where_url": "Go to $vote_url.",
        "where_default": "Go to the voting page your union announced.",
        "not_you": "If this was not you",
        "not_you_text": (
            "If you did not register for this vote, or if you think someone else has seen this "
            "credential, do not use it and contact $contact at once. Nobody will ever ask you "
            "for your credential, by phone or by email: never give it to anyone."
        ),
        "contact_default": "the election officer named in your union's announcement",
        "footer": "Election $uuid. Sent by the independent credential authority.",
        "title": "Your voting credential",
        "authority": "Independent credential authority",
    },
    "es": {
        "subject": "Su credencial de votación: $election",
        "greeting": "Estimado/a $name:",
        "intro": "Usted está inscrito/a para votar en: $election.",
        "card": "Número de tarjeta: $card_number",
        "label": "Su credencial de votación es:",
        "keep": (
            "Guárdela en privado, como un PIN. Demuestra que su papeleta proviene de un miembro "
            "inscrito sin revelar a nadie cómo votó: ni su sindicato, ni el comité electoral, "
            "ni el responsable electoral que se la envía ven su voto."
        ),
        "how": "Cómo votar",
        "steps": (
            "$where",
            "Identifíquese como lo hizo al inscribirse, con su número de tarjeta.",
            "Cuando la cabina de votación le pida su credencial, escríbala exactamente como "
            "aparece arriba. Las mayúsculas y minúsculas importan; los guiones y los espacios "
            "no. El último carácter es de control: un error de escritura se detecta de "
            "inmediato.",
            "Puede volver a votar hasta el cierre de la votación: solo cuenta su última papeleta.",
            "Después de votar, la cabina le muestra el código de seguimiento de su papeleta. "
            "Consérvelo: cualquiera puede comprobar que figura en el registro público de la "
            "elección.",
        ),
        "where_url": "Vaya a $vote_url.",
        "where_default": "Vaya a la página de votación que anunció su sindicato.",
        "not_you": "Si no fue usted",
        "not_you_text": (
            "Si usted no se inscribió para esta votación, o si cree que otra persona ha visto "
            "esta credencial, no la use y comuníquese de inmediato con $contact. Nadie le "
            "pedirá nunca su credencial, ni por teléfono ni por correo: no se la dé a nadie."
        ),
        "contact_default": "el responsable electoral indicado en el aviso de su sindicato",
        "footer": "Elección $uuid. Enviado por la autoridad independiente de credenciales.",
        "title": "Su credencial de votación",
        "authority": "Autoridad independiente de credenciales",
    },
}


def _text(language: str, key: str) -> str:
    value = _TEXTS[language][key]
    assert isinstance(value, str)
    return value


@dataclass(frozen=True, slots=True)
class Instructions:
    """An election's texts in one language, with everything but the member filled in."""

    language: str
    authority: str
    title: str
    subject: str
    intro: str
    label: str
    keep: str
    how: str
    steps: tuple[str, ...]
    not_you: str
    not_you_text: str
    footer: str

    def greeting(self, member: RegisteredMember) -> str:
        return Template(_text(self.language, "greeting")).substitute(name=member.name)

    def card(self, member: RegisteredMember) -> str:
        return Template(_text(self.language, "card")).substitute(card_number=member.card_number)


def instructions(info: WorkspaceInfo, language: str, *, contact: str = "") -> Instructions:
    """The texts for ``info``'s election in ``language`` (``en`` or ``es``).

    ``contact`` is whom a member writes to if the credential was not meant for them; without
    one, the workspace's contact, else a sentence pointing to the union's announcement.
    """
    language = language if language in _TEXTS else "en"
    values = {
        "election": info.election,
        "uuid": info.uuid,
        "vote_url": info.vote_url,
        "contact": contact or info.contact or _text(language, "contact_default"),
    }
    values["where"] = Template(
        _text(language, "where_url" if info.vote_url else "where_default")
    ).substitute(values)

    def fill(key: str) -> str:
        return Template(_text(language, key)).substitute(values)

    steps = _TEXTS[language]["steps"]
    assert isinstance(steps, tuple)
    return Instructions(
        language=language,
        authority=fill("authority"),
        title=fill("title"),
        subject=fill("subject"),
        intro=fill("intro"),
        label=fill("label"),
        keep=fill("keep"),
        how=fill("how"),
        steps=tuple(Template(step).substitute(values) for step in steps),
        not_you=fill("not_you"),
        not_you_text=fill("not_you_text"),
        footer=fill("footer"),
    )


def credential_mail(
    texts: Instructions, member: RegisteredMember, credential: PrivateCredential, *, to: str
) -> Mail:
    """The email that delivers ``credential`` to ``member`` at ``to``."""
    code = credential.reveal()
    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(texts.steps, start=1))
    text = (
        f"{texts.greeting(member)}\n\n{texts.intro}\n{texts.card(member)}\n\n"
        f"{texts.label}\n\n    {code}\n\n{texts.keep}\n\n"
        f"{texts.how}\n{steps}\n\n{texts.not_you}\n{texts.not_you_text}\n\n-- \n{texts.footer}\n"
    )
    e = html.escape
    items = "".join(f"<li>{e(step)}</li>" for step in texts.steps)
    body = (
        f'<!DOCTYPE html>\n<html lang="{texts.language}"><head><meta charset="utf-8">'
        f"<title>{e(texts.title)}</title></head>\n<body>\n"
        f"<p>{e(texts.greeting(member))}</p>\n<p>{e(texts.intro)}<br>{e(texts.card(member))}</p>\n"
        f"<p>{e(texts.label)}</p>\n"
        '<p style="font-family: monospace; font-size: 1.6em; font-weight: bold; '
        f'letter-spacing: 0.05em">{e(code)}</p>\n'
        f"<p>{e(texts.keep)}</p>\n<h2>{e(texts.how)}</h2>\n<ol>{items}</ol>\n"
        f"<h2>{e(texts.not_you)}</h2>\n<p>{e(texts.not_you_text)}</p>\n"
        f"<hr>\n<p><small>{e(texts.footer)}</small></p>\n</body></html>\n"
    )
    return Mail(to=to, subject=texts.subject, text=text, html=body, language=texts.language)
