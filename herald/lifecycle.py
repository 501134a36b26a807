"""What every worker kind shares in its lifecycle."""

from __future__ import annotations

# The line a worker writes once it is consuming, which a parent process waits for. It is
# Faust's own ready line, so a streams worker needs nothing of ours to write it.
READY_MARK = "[^Worker]: Ready"
