"""the candidate questionnaire

Issue 6: ``questionnaires`` (the current definition, its file's text kept whole) and
``questionnaire_versions`` (every definition), the campaigns asked and their contacts, the
personal links (only the SHA-256 of each random token), the responses (drafts, and frozen
submitted versions), every step with its time (``questionnaire_events``) and the published
comparisons the endorsement record links to by hash.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "questionnaires",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("defined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaires")),
        sa.UniqueConstraint("key", name=op.f("uq_questionnaires_key")),
    )
    op.create_table(
        "questionnaire_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("party", sa.String(length=100), nullable=False),
        sa.Column("office", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("correction_open", sa.Boolean(), nullable=False),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_questionnaire_campaigns_questionnaire_id_questionnaires"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_campaigns")),
        sa.UniqueConstraint(
            "questionnaire_id", "key", name=op.f("uq_questionnaire_campaigns_questionnaire_id_key")
        ),
    )
    op.create_table(
        "questionnaire_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_questionnaire_publications_questionnaire_id_questionnaires"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_publications")),
    )
    op.create_table(
        "questionnaire_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("defined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaires.id"],
            name=op.f("fk_questionnaire_versions_questionnaire_id_questionnaires"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_versions")),
        sa.UniqueConstraint(
            "questionnaire_id",
            "version",
            name=op.f("uq_questionnaire_versions_questionnaire_id_version"),
        ),
    )
    op.create_table(
        "questionnaire_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["questionnaire_campaigns.id"],
            name=op.f("fk_questionnaire_contacts_campaign_id_questionnaire_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_contacts")),
        sa.UniqueConstraint(
            "campaign_id", "email", name=op.f("uq_questionnaire_contacts_campaign_id_email")
        ),
    )
    op.create_table(
        "questionnaire_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["questionnaire_campaigns.id"],
            name=op.f("fk_questionnaire_events_campaign_id_questionnaire_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_events")),
    )
    with op.batch_alter_table("questionnaire_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_questionnaire_events_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "questionnaire_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["questionnaire_campaigns.id"],
            name=op.f("fk_questionnaire_links_campaign_id_questionnaire_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_questionnaire_links_token_hash")),
    )
    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questionnaire_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["questionnaire_campaigns.id"],
            name=op.f("fk_questionnaire_responses_campaign_id_questionnaire_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
        sa.UniqueConstraint(
            "campaign_id", "version", name=op.f("uq_questionnaire_responses_campaign_id_version")
        ),
    )


def downgrade() -> None:

    op.drop_table("questionnaire_responses")
    op.drop_table("questionnaire_links")
    with op.batch_alter_table("questionnaire_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questionnaire_events_campaign_id"))

    op.drop_table("questionnaire_events")
    op.drop_table("questionnaire_contacts")
    op.drop_table("questionnaire_versions")
    op.drop_table("questionnaire_publications")
    op.drop_table("questionnaire_campaigns")
    op.drop_table("questionnaires")
