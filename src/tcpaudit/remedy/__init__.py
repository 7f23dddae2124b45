"""From findings to applied fixes: the changes merged, planned on the files, rendered.

``plan`` applies every finding's ``fix_changes`` to the audited files in
memory; ``render_diff`` prints the result as a patch and ``render_playbook``
as an Ansible playbook that does the same. Nothing here writes to the tree.
"""

from __future__ import annotations

from .diff import render_diff
from .merge import merge_changes
from .plan import FileEdit, Plan, plan

__all__ = ["FileEdit", "Plan", "merge_changes", "plan", "render_diff"]
