"""The independent credential authority's tool: no server database, only files it controls.

From the server's ``registered.csv`` it makes one private credential per member in a workspace
only the authority can read, writes the public list for the server
(``public-credentials.json``), and delivers each private credential by email or by letter,
logging every step in ``deliveries.jsonl`` (which the server may import: it holds no secret).
"""

from unionvote.authority.bounces import Bounce, bounces_in, read_bounces
from unionvote.authority.delivery import (
    BounceSummary,
    SendSummary,
    record_bounces,
    resend_credential,
    send_credentials,
)
from unionvote.authority.delivery_log import DeliveryEvent, DeliveryLog, MemberDelivery
from unionvote.authority.errors import AuthorityError
from unionvote.authority.letters import SELECTIONS, LetterRun, print_letters
from unionvote.authority.registered import (
    RegisteredHeader,
    RegisteredMember,
    format_header,
    read_registered,
)
from unionvote.authority.workspace import Workspace, WorkspaceInfo, generate_workspace

__all__ = [
    "SELECTIONS",
    "AuthorityError",
    "Bounce",
    "BounceSummary",
    "DeliveryEvent",
    "DeliveryLog",
    "LetterRun",
    "MemberDelivery",
    "RegisteredHeader",
    "RegisteredMember",
    "SendSummary",
    "Workspace",
    "WorkspaceInfo",
    "bounces_in",
    "format_header",
    "generate_workspace",
    "print_letters",
    "read_bounces",
    "read_registered",
    "record_bounces",
    "resend_credential",
    "send_credentials",
]
