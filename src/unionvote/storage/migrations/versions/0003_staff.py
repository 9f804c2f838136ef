"""staff accounts and the who-has-voted policy

The committee's, observers' and trustees' pages: ``staff_accounts`` (an Argon2 hash of each
password, never the password) and ``voter_list_policies`` (per stage; no row: withheld).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("trustee_position", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_accounts_username")),
    )
    op.create_table(
        "voter_list_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["stages.id"],
            name=op.f("fk_voter_list_policies_stage_id_stages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voter_list_policies")),
        sa.UniqueConstraint("stage_id", name=op.f("uq_voter_list_policies_stage_id")),
    )
    # Sign-in failures and staff sign-outs are looked up in the audit log by action and subject.
    op.create_index("ix_audit_log_lookup", "audit_log", ["action", "subject", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_lookup", table_name="audit_log")
    op.drop_table("voter_list_policies")
    op.drop_table("staff_accounts")
