"""The verifier: re-checks a public election record and reports every named check."""

from unionvote.verify.record import verify_record
from unionvote.verify.report import CHECKS, Report

__all__ = ["CHECKS", "Report", "verify_record"]
