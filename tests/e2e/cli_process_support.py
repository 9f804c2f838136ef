"""The people of the end-to-end CLI test and what they hand each other: each runs the real
``unionvote`` console script (``python -m unionvote``) in their own directory, a real SMTP
server takes the credential authority's mail, the trustees run the key ceremony and decrypt,
and the secrets they keep are gathered so the test can look for them where they must never
be."""

from __future__ import annotations

import csv
import datetime
import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from unionvote.crypto.encoding import BASE58_ALPHABET
from unionvote.domain.synthetic import synthetic_roll, write_roll_csv

__all__ = [
    "CREDENTIAL",
    "Inbox",
    "Person",
    "bad_roll",
    "credential_mail",
    "decrypt",
    "field_of",
    "finish_ceremony",
    "hand",
    "iso",
    "members",
    "pedersen_ceremony",
    "private_credentials",
    "read_csv",
    "secret_forms",
    "smtp_server",
    "tamper_digit",
    "together",
    "trustee_secrets",
    "write_roll",
]

# A private credential as the authority prints it: 22 base58 characters, in groups.
_B58 = f"[{re.escape(BASE58_ALPHABET)}]"
CREDENTIAL = re.compile(rf"(?<![\w-]){_B58}{{5}}-{_B58}{{6}}-{_B58}{{5}}-{_B58}{{6}}(?![\w-])")
# What each command's environment must not inherit from the test's.
_PRIVATE_ENV = ("DATABASE_URL", "UNIONVOTE_CREDENTIAL", "UNIONVOTE_SMTP_PASSWORD")


@dataclass
class Person:
    """Someone running ``unionvote`` on their own machine: their own directory, and the
    committee's database only if ``database`` is given."""

    name: str
    directory: Path
    database: Path | None = None
    outputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def run(
        self,
        *args: object,
        code: int = 0,
        stdin: str = "",
        env: dict[str, str] | None = None,
    ) -> str:
        """Run ``unionvote ARGS`` and return what it printed (stdout, then stderr); the exit
        code must be ``code`` and nothing may print a traceback."""
        environment = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
        environment.update(COLUMNS="160", NO_COLOR="1", TERM="dumb")
        if self.database is not None:
            environment["DATABASE_URL"] = f"sqlite:///{self.database}"
        environment.update(env or {})
        command = [str(a) for a in args]
        done = subprocess.run(
            [sys.executable, "-m", "unionvote", *command],
            cwd=self.directory,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = done.stdout + done.stderr
        self.outputs.append(output)
        shown = f"{self.name}$ unionvote {' '.join(command)}"
        assert done.returncode == code, f"{shown}: exit {done.returncode}, not {code}\n{output}"
        assert "Traceback" not in output, f"{shown}\n{output}"
        return output

    def refused(self, *args: object, env: dict[str, str] | None = None) -> str:
        """Run a command that must be refused: exit 1 and one ``error:`` line."""
        output = self.run(*args, code=1, env=env)
        assert "error:" in output, output
        return output


def together(*runs: Callable[[], str]) -> list[str]:
    """Run commands at the same time, as different people (or machines) do; their outputs
    in the order given."""
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = [pool.submit(run) for run in runs]
        return [future.result() for future in futures]


def hand(source: Path, to: Person, name: str | None = None) -> Path:
    """Give someone a file (by email, on a stick): a copy in their directory."""
    target = to.directory / (name or source.name)
    shutil.copyfile(source, target)
    return target


# -- the roll -------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows; ``#`` lines (the server's header line) are skipped."""
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(line for line in stream if not line.startswith("#")))


def write_roll(path: Path, count: int, seed: int) -> list[dict[str, str]]:
    """A synthetic roll export, as the union's membership system would produce it."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        write_roll_csv(synthetic_roll(count, seed=seed), stream)
    return read_csv(path)


def bad_roll(good: Path, path: Path) -> dict[int, str]:
    """The roll with four bad rows (and one good change, which must not be applied either);
    returns each bad line number and the column it names."""
    with good.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    rows[3]["card_number"] = ""
    rows[10]["joined_on"] = "2020-13-45"
    rows[20]["dues_status"] = "paid up, honest"
    rows[31]["card_number"] = rows[30]["card_number"]
    changed = next(i for i, row in enumerate(rows) if row["dues_status"] == "good standing")
    rows[changed]["dues_status"] = "suspended"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    # Line numbers count the header as line 1.
    return {5: "card_number", 12: "joined_on", 22: "dues_status", 33: "card_number"}


def members(
    rows: list[dict[str, str]], cutoff: str
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The roll's eligible members for the IAM's membership vote and, apart, the U.S. members
    turned away only for their dues (examples/iam-2024.toml's rule; no joined date is a member
    since before the cutoff)."""
    eligible: list[dict[str, str]] = []
    behind: list[dict[str, str]] = []
    for row in rows:
        if row["country"] != "US" or row["joined_on"] > cutoff:
            continue
        (eligible if row["dues_status"] == "good standing" else behind).append(row)
    return eligible, behind


# -- the credential authority's mail -------------------------------------------------------------


@dataclass
class Inbox:
    """The mail relay: refuses the addresses in ``refuse`` with 550 (a bounce), keeps the
    rest."""

    refuse: set[str] = field(default_factory=set)
    messages: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, str]]:
    """A real SMTP server (aiosmtpd) on a free local port: the inbox and ``HOST:PORT``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"127.0.0.1:{port}"
    finally:
        controller.stop()


def credential_mail(raw: bytes) -> tuple[str, str]:
    """A credential email's recipient and plain-text body."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None, "a credential email without a plain-text part"
    return str(message["To"]), body.get_content()


# -- secrets --------------------------------------------------------------------------------------


def private_credentials(workspace: Path) -> dict[str, str]:
    """The authority's private credentials, card number → credential."""
    return {
        row["card_number"]: row["credential"]
        for row in read_csv(workspace / "private-credentials.csv")
    }


def trustee_secrets(state_file: Path) -> list[str]:
    """The secrets in a trustee's (or the server's) key file: the ceremony seed and the
    private key, as the file writes them."""
    secret = json.loads(state_file.read_text(encoding="utf-8"))["secret"]
    return [str(value) for value in secret.values()]


def secret_forms(secret: str) -> list[bytes]:
    """The ways a secret could be stored: as written, without dashes and, for a private key
    (a decimal number), as 32 bytes either way round and as hex."""
    forms = [secret.encode(), secret.replace("-", "").encode()]
    if secret.isdigit():
        number = int(secret)
        for raw in (number.to_bytes(32, "little"), number.to_bytes(32, "big")):
            forms += [raw, raw.hex().encode()]
    return forms


def tamper_digit(text: str, key: str) -> str:
    """A signed JSON message with the last digit of the value at ``key`` (dotted, list indexes
    as numbers) changed: its proof no longer checks."""
    obj = json.loads(text)
    target = obj
    *path, last = key.split(".")
    for part in path:
        target = target[int(part)] if isinstance(target, list) else target[part]
    value = str(target[last])
    target[last] = value[:-1] + ("1" if value[-1] != "1" else "2")
    return json.dumps(obj)


def iso(delta: datetime.timedelta) -> str:
    """Now plus ``delta``, as the CLI takes times: ISO 8601 with a time zone."""
    return (datetime.datetime.now(datetime.UTC) + delta).replace(microsecond=0).isoformat()


def field_of(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in a command's output (which must have it)."""
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return found.group(1)


# -- the trustees --------------------------------------------------------------------------------


def pedersen_ceremony(committee: Person, stage: str, trustees: list[Person]) -> Path:
    """The server's key and a threshold group (any two of three decrypt), each trustee on
    their own machine; a forged certificate and a forged polynomial are refused on the way.
    Returns the server's key file."""
    for position, trustee in enumerate(trustees, start=1):
        added = committee.run(
            "trustees", "add", stage, "--name", trustee.name,
            "--email", f"{trustee.name.lower()}@trustees.example",
        )  # fmt: skip
        assert f"{trustee.name} is trustee at position {position} (pedersen)." in added
    key = committee.directory / f"server-{stage}.key"
    together(
        partial(committee.run, "trustees", "server-key", stage, "--out", key.name),
        *(
            partial(t.run, "trustee", "init", "--name", t.name, "--index", i, "--out", "state.json")
            for i, t in enumerate(trustees, start=1)
        ),
    )
    certificates = [
        hand(t.directory / "state.certificate.json", committee, f"certificate-{i}.json")
        for i, t in enumerate(trustees, start=1)
    ]
    forged = committee.directory / "certificate-1-forged.json"
    forged.write_text(tamper_digit(certificates[0].read_text(), "signature.response"))
    refused = committee.refused("trustees", "import-certificate", stage, 1, forged.name)
    assert "ceremony.certificate" in refused and "do not match" in refused
    for output in together(
        *(
            partial(committee.run, "trustees", "import-certificate", stage, i, c.name)
            for i, c in enumerate(certificates, start=1)
        )
    ):
        assert "Checked and stored." in output

    committee.run("trustees", "certificates", stage, "--out", "certificates.json")
    together(
        *(
            partial(
                t.run, "trustee", "polynomial", "state.json",
                "--certificates", hand(committee.directory / "certificates.json", t).name,
                "--out", "polynomial.json",
            )
            for t in trustees
        )
    )  # fmt: skip
    polynomials = [
        hand(t.directory / "polynomial.json", committee, f"polynomial-{i}.json")
        for i, t in enumerate(trustees, start=1)
    ]
    forged = committee.directory / "polynomial-2-forged.json"
    forged.write_text(tamper_digit(polynomials[1].read_text(), "coefexps.signature.response"))
    refused = committee.refused("trustees", "import-polynomial", stage, 2, forged.name)
    assert "ceremony.polynomial" in refused and "do not match" in refused
    for output in together(
        *(
            partial(committee.run, "trustees", "import-polynomial", stage, i, p.name)
            for i, p in enumerate(polynomials, start=1)
        )
    ):
        assert "Checked and stored." in output

    together(
        *(
            partial(committee.run, "trustees", "vinput", stage, i, "--out", f"vinput-{i}.json")
            for i in range(1, len(trustees) + 1)
        )
    )
    together(
        *(
            partial(
                t.run, "trustee", "verification-key", "state.json",
                "--vinput", hand(committee.directory / f"vinput-{i}.json", t, "vinput.json").name,
                "--out", "verification-key.json",
            )
            for i, t in enumerate(trustees, start=1)
        )
    )  # fmt: skip
    together(
        *(
            partial(
                committee.run, "trustees", "import-verification-key", stage, i,
                hand(t.directory / "verification-key.json", committee, f"vkey-{i}.json").name,
            )
            for i, t in enumerate(trustees, start=1)
        )
    )  # fmt: skip
    finish_ceremony(committee, stage, trustees)
    return key


def finish_ceremony(committee: Person, stage: str, trustees: list[Person]) -> None:
    """The committee fixes the trustee list; every trustee checks and records it."""
    finished = committee.run("trustees", "finish", stage)
    fingerprint = field_of(r"Trustee list fingerprint: (\w+)", finished)
    committee.run("trustees", "public", stage, "--out", f"trustees-{stage}.json")
    listed = committee.directory / f"trustees-{stage}.json"
    outputs = together(
        *(
            partial(t.run, "trustee", "finish", "state.json", "--trustees", hand(listed, t).name)
            for t in trustees
        ),
    )
    # The server's key is trustee number 1.
    for number, output in enumerate(outputs, start=2):
        assert f"trustee number {number} in the list; every proof checks" in output
        assert fingerprint in output


def decrypt(
    committee: Person, stage: str, key: Path, trustees: list[Person], *, forge: bool = False
) -> dict[str, int]:
    """``trustees`` and the server's key decrypt the tally (after a forged decryption is
    refused, if ``forge``); returns the published counts, answer → count."""
    committee.run("election", "decryption-request", stage, "--out", f"request-{stage}.json")
    request = committee.directory / f"request-{stage}.json"
    outputs = together(
        *(
            partial(
                t.run, "trustee", "decrypt", "state.json",
                "--request", hand(request, t).name, "--out", f"partial-{stage}.json",
            )
            for t in trustees
        ),
    )  # fmt: skip
    owners = [int(field_of(r"trustee number (\d+)", out)) for out in outputs]
    partials = [
        hand(t.directory / f"partial-{stage}.json", committee, f"partial-{stage}-{owner}.json")
        for t, owner in zip(trustees, owners, strict=True)
    ]
    if forge:
        forged = json.loads(partials[0].read_text())
        factors = forged["tally"]["decryption_factors"][0]
        factors[0], factors[1] = factors[1], factors[0]
        forged_path = committee.directory / f"partial-{stage}-forged.json"
        forged_path.write_text(json.dumps(forged))
        refused = committee.refused("election", "add-decryption", stage, forged_path.name)
        assert "decryption.proof" in refused
        assert f"Stage {stage}: tallied" in committee.run("election", "status", stage)
    server = committee.run("election", "decrypt-with-server-key", stage, "--key", key.name)
    assert "The server's partial decryption (trustee 1 in the record) is checked" in server
    for owner, path in zip(owners, partials, strict=True):
        added = committee.run("election", "add-decryption", stage, path.name)
        assert f"The partial decryption of trustee {owner} is checked and published." in added
    result = committee.run("election", "result", stage)
    return {
        name.strip(): int(count.replace(",", ""))
        for name, count in re.findall(r"│ ([^│]+?)\s+│\s+([\d,]+) │", result)
    }
