"""Print the shell commands of README's "Set up" section, each ended by a NUL byte.

Used by .ci/run, which runs them as a newcomer would, and by the tests, which
check that README still holds exactly two.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SECTION = "## Set up"


def setup_commands(readme: str) -> list[str]:
    """The contents of the ```sh blocks between "## Set up" and the next heading."""
    start = readme.index(SECTION) + len(SECTION)
    following = re.search(r"^## ", readme[start:], flags=re.MULTILINE)
    section = readme[start : start + following.start()] if following else readme[start:]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    return [block.strip() for block in blocks]


if __name__ == "__main__":
    for command in setup_commands(Path(sys.argv[1]).read_text(encoding="utf-8")):
        sys.stdout.write(command + "\0")
