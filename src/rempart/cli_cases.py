"""Old import path, kept working: the commands are in `rempart.cli.commands.review`,
`.evidence`, `.notice`, `.case` and `.report`."""

from rempart.cli.commands.case import CASE_STATES
from rempart.cli.commands.notice import NOTICE_ORGANISATION

__all__ = ["CASE_STATES", "NOTICE_ORGANISATION"]
