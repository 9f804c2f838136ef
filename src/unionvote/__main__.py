"""``python -m unionvote``."""

from unionvote.cli.main import app

app(prog_name="unionvote")
