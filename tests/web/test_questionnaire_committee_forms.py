"""The committee's campaign forms, and refusals that keep what was typed (SQLite and
PostgreSQL, a real local SMTP server): a campaign entered one at a time and a contact added,
a bounced address marked or replaced (the next sending goes to the new address), errors beside
their fields in English and Spanish, observers and strangers refused; a decline reason over its
limit and an answer form over the size limit shown again as pages in the campaign's language."""

from __future__ import annotations

import re

from questionnaire_support import CONTACT, KEY, QUESTIONNAIRE
from sqlalchemy import select
from test_questionnaire_web_review import PASSWORD, csrf_of, sign_in, site

from unionvote.services.questionnaire import MAX_DECLINE_WORDS, answer_form, overview
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, QuestionnaireContact
from unionvote.web.security import link_csrf_token

SECRET = "a test secret that is long enough for the session"


def _audit(database: Database) -> list[tuple[str, str]]:
    with database.transaction() as session:
        return [(e.actor, e.action) for e in session.scalars(select(AuditEntry))]


def _contacts(database: Database) -> int:
    with database.transaction() as session:
        return len(list(session.scalars(select(QuestionnaireContact))))


def test_the_committee_enters_a_campaign_and_replaces_a_bounced_address(
    database: Database,
) -> None:
    with site(database) as s:
        token = sign_in(s.client)
        base = f"/committee/questionnaires/{KEY}"
        page = s.client.get(base).text
        for label in ("Candidate's name", "Party", "Office sought", "Contact's email"):
            assert re.search(
                rf'<label for="new-[a-z-]+">{re.escape(label)}', page.replace("&#39;", "'")
            )

        # a bad entry: each problem beside its field, what was typed kept, nothing saved
        before = _contacts(database)
        bad = s.client.post(
            f"{base}/campaigns/new",
            data={
                "csrf_token": token,
                "name": "Maria López",
                "party": "",
                "contact_name": "Sam",
                "contact_email": "not an address",
                "contact_language": "en",
            },
        )
        assert bad.status_code == 422
        assert 'id="new-party-error"' in bad.text and 'id="new-contact-email-error"' in bad.text
        assert 'aria-describedby="new-party-error" aria-invalid="true"' in bad.text
        assert "Enter an email address" in bad.text
        assert 'value="Maria López"' in bad.text and 'value="not an address"' in bad.text
        assert _contacts(database) == before

        # in Spanish
        bad_es = s.client.post(
            f"{base}/campaigns/new?lang=es",
            data={"csrf_token": token, "name": "X", "party": "Y", "contact_name": "Sam"},
        )
        assert bad_es.status_code == 422 and "Esto es necesario." in bad_es.text

        # a good one: the key is made from the name
        s.inbox.refuse.add("old@lopez.example")
        done = s.client.post(
            f"{base}/campaigns/new",
            data={
                "csrf_token": token,
                "name": "Maria López",
                "party": "Independent",
                "contact_name": "Sam",
                "contact_email": "old@lopez.example",
                "contact_language": "es",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        assert "maria-lopez" in s.client.get(base).text
        added = s.client.post(
            f"{base}/campaigns/maria-lopez/contacts",
            data={
                "csrf_token": token,
                "contact_name": "Kim",
                "contact_email": "kim@lopez.example",
                "contact_language": "en",
            },
            follow_redirects=False,
        )
        assert added.status_code == 303
        sent = s.client.post(f"{base}/send", data={"csrf_token": token}, follow_redirects=True)
        assert "Bounced: 1" in sent.text
        assert "Bounced on" in sent.text and "no longer mailed" in sent.text

        # replace the bounced address: the next sending goes to the new one only
        status = {c.candidate_key: c for c in overview(s.services, KEY).campaigns}["maria-lopez"]
        assert [c.email for c in status.contact_details] == [
            "old@lopez.example",
            "kim@lopez.example",
        ]
        wrong = s.client.post(
            f"{base}/campaigns/maria-lopez/contacts/0",
            data={
                "csrf_token": token,
                "email": "old@lopez.example",
                "new_email": "kim@lopez.example",
            },
        )
        assert wrong.status_code == 422
        assert (
            'id="replace-maria-lopez-0-error"' in wrong.text and "already a contact" in wrong.text
        )
        replaced = s.client.post(
            f"{base}/campaigns/maria-lopez/contacts/0",
            data={
                "csrf_token": token,
                "email": "old@lopez.example",
                "new_email": "sam@lopez.example",
                "action": "replace",
            },
            follow_redirects=True,
        )
        assert "is replaced by sam@lopez.example" in replaced.text
        s.client.post(f"{base}/send", data={"csrf_token": token})
        assert len(s.inbox.to("sam@lopez.example")) == 1
        assert len(s.inbox.to("kim@lopez.example")) == 1
        # mark an address as bounced: it is no longer mailed
        marked = s.client.post(
            f"{base}/campaigns/maria-lopez/contacts/1",
            data={"csrf_token": token, "email": "kim@lopez.example", "action": "bounced"},
            follow_redirects=True,
        )
        assert "is marked as bounced" in marked.text
        status = {c.candidate_key: c for c in overview(s.services, KEY).campaigns}["maria-lopez"]
        assert status.contact_details[1].bounced_at is not None

        done_actions = _audit(database)
        for action in (
            "questionnaire.campaign.add",
            "questionnaire.contact.add",
            "questionnaire.contact.replace",
            "questionnaire.bounce",
        ):
            assert ("staff:rosa", action) in done_actions, action

        # CSRF: without the token, refused
        forged = s.client.post(
            f"{base}/campaigns/maria-lopez/contacts",
            data={"contact_name": "Eve", "contact_email": "eve@x.example"},
        )
        assert forged.status_code == 403


def test_observers_read_the_contacts_and_cannot_change_them(database: Database) -> None:
    with site(database) as s:
        do_add_staff(s.services, "obi", display_name="Obi", role="observer", password=PASSWORD)
        login = csrf_of(s.client.get("/staff/login").text)
        s.client.post(
            "/staff/login", data={"csrf_token": login, "username": "obi", "password": PASSWORD}
        )
        page = s.client.get(f"/committee/questionnaires/{KEY}").text
        assert CONTACT["rivera"] in page
        assert "Enter a campaign" not in page and "Replace the address" not in page
        token = csrf_of(page)
        before = _contacts(database)
        refused = s.client.post(
            f"/committee/questionnaires/{KEY}/campaigns/rivera/contacts",
            data={"csrf_token": token, "contact_name": "Eve", "contact_email": "eve@x.example"},
        )
        assert refused.status_code == 403
        assert _contacts(database) == before


def test_a_long_decline_reason_is_shown_again_with_what_was_typed(database: Database) -> None:
    with site(database) as s:
        token = s.tokens["hale"]
        reason = " ".join(["porque"] * (MAX_DECLINE_WORDS + 1))
        answer = s.client.post(
            f"/questionnaire/answer/{token}/decline?lang=es",
            data={"csrf_token": link_csrf_token(SECRET, token), "reason": reason},
        )
        assert answer.status_code == 422
        assert reason in answer.text  # what was typed is kept
        assert 'id="decline-error"' in answer.text and "201" in answer.text
        assert '<html lang="es"' in answer.text
        assert answer_form(s.services, token).state == "open"  # nothing changed


def test_a_form_over_the_size_limit_is_a_page_in_the_campaign_s_language(
    database: Database,
) -> None:
    with site(database) as s:
        token = s.tokens["okafor"]
        huge = "x" * (1024 * 1024 + 10)
        for path in (f"/questionnaire/answer/{token}", f"/questionnaire/answer/{token}/decline"):
            answer = s.client.post(
                path,
                data={"csrf_token": link_csrf_token(SECRET, token), "q-pensions": huge},
                headers={"accept-language": "es"},
            )
            assert answer.status_code == 413
            assert answer.headers["content-type"].startswith("text/html")
            assert '<html lang="es">' in answer.text
            assert "demasiado" in answer.text.lower()
            assert f'href="/questionnaire/answer/{token}"' in answer.text
        assert answer_form(s.services, token).answers == {}


def test_the_questionnaire_file_is_edited_checked_and_previewed_before_it_is_saved(
    database: Database,
) -> None:
    with site(database) as s:
        token = sign_in(s.client)
        # a new one starts from a template that is itself a valid file
        listed = s.client.get("/committee/questionnaires").text
        assert (
            "format = &#34;unionvote-questionnaire/1&#34;" in listed
            or "unionvote-questionnaire/1" in listed
        )
        # the current version, its version raised by one
        page = s.client.get(f"/committee/questionnaires/{KEY}/definition").text
        assert re.search(r"(?m)^version = 2$", page)
        assert "Will you sign the PRO Act into law?" in page
        text = QUESTIONNAIRE.read_text(encoding="utf-8").replace("version = 1", "version = 2")

        # errors listed with their line numbers beside the textarea; nothing saved
        broken = text.replace('kind = "choice"', 'kind = "ranking"').replace(
            "max_words = 150", "max_words = -3"
        )
        bad = s.client.post(
            "/committee/questionnaires",
            data={"csrf_token": token, "text": broken, "action": "preview"},
        )
        assert bad.status_code == 422
        lines = [int(n) for n in re.findall(r'<li data-line="(\d+)">', bad.text)]
        kind_line = broken.splitlines().index('kind = "ranking"') + 1
        assert kind_line in lines and len(lines) >= 2
        assert 'aria-describedby="definition-hint file-problems"' in bad.text
        assert "ranking" in bad.text  # the typed text is kept
        assert overview(s.services, KEY).version == 1

        # a preview in both languages, saving nothing
        preview = s.client.post(
            "/committee/questionnaires",
            data={"csrf_token": token, "text": text, "action": "preview"},
        )
        assert preview.status_code == 200
        assert "Saving replaces version 1 with version 2" in preview.text
        assert "Which trade policy will you pursue?" in preview.text
        assert "¿Qué política comercial seguirá?" in preview.text
        assert "At most 150 words." in preview.text
        assert overview(s.services, KEY).version == 1

        saved = s.client.post(
            "/committee/questionnaires",
            data={"csrf_token": token, "text": text, "action": "save"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert overview(s.services, KEY).version == 2
        assert ("staff:rosa", "questionnaire.define") in _audit(database)
