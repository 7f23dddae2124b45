"""A plan as an Ansible playbook that leaves the same bytes as the patch.

Only ansible.builtin modules: per file, ``stat`` and ``assert`` that the file
is still the one audited (or already fixed, so a second run changes nothing),
then ``copy`` with the fixed text; ``file`` for a link a2enmod would make.
Every path is prefixed with ``{{ tcpaudit_root | default('') }}``, so the
same playbook fixes a copy of a host's tree. Handlers reload (or, for a
module, MPM or ServerLimit change, restart) httpd and run ``sysctl
--system``; both are skipped when ``tcpaudit_reload`` is false. Every value
holding text of the audited tree (file texts, task names, messages, a
link's target) is tagged ``!unsafe`` so that Ansible never reads it as a
template; a path, which must join ``tcpaudit_root``, is refused when it
holds a template's delimiter (a file named ``{{ lookup('pipe', ...) }}.conf``
would run a command on the controller).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re

from ..errors import TcpauditError
from ..safetext import printable, show_bytes
from .plan import FileEdit, Plan
from .tasks import HTTPD_SERVICE, needs_restart

__all__ = ["HTTPD_SERVICE", "render_playbook"]

_ROOT = "{{ tcpaudit_root | default('') }}"
_WHEN = "tcpaudit_reload | default(true) | bool"


# Characters a YAML reader takes for a line break (U+0085, U+2028, U+2029:
# a comment would end there, a quoted path or text be folded) or refuses
# (DEL, C1, U+FEFF, U+FFFE, U+FFFF), which JSON leaves as they are.
_YAML_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON is valid YAML, with those escaped too)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _YAML_ESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)


def _unsafe(text: str) -> str:
    """A scalar Ansible never templates (text of the audited tree)."""
    return f"!unsafe {_q(text)}"


# Jinja's delimiters: Ansible templates any string holding one.
_TEMPLATE_MARKS = ("{{", "{%", "{#")


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def _file_tasks(edit: FileEdit, index: int, handler: str) -> list[str]:
    for name in (edit.path, edit.link or ""):
        try:
            name.encode("utf-8")
        except UnicodeEncodeError as exc:
            # Shown as \xNN, YAML would read it as another character: another file.
            raise TcpauditError(
                f"{show_bytes(name)}: a file name that is not UTF-8, which a playbook "
                "cannot carry; use the patch"
            ) from exc
    if any(mark in edit.path for mark in _TEMPLATE_MARKS):
        raise TcpauditError(
            f"{printable(edit.path)}: a file name holding a template's delimiter "
            "({{, {% or {#), which Ansible would run; use the patch"
        )
    path = _q(f"{_ROOT}/{edit.path}")
    rules = ", ".join(edit.rules)
    if edit.link is not None:
        return [
            f"    - name: {_unsafe(f'{edit.path} -> {edit.link} ({rules})')}",
            "      ansible.builtin.file:",
            f"        src: {_unsafe(edit.link)}",
            f"        dest: {path}",
            "        state: link",
            f"      notify: {_q(handler)}",
        ]
    after = edit.after or ""
    try:
        after.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TcpauditError(
            f"{edit.path}: not UTF-8 text, which a playbook cannot carry; use the patch"
        ) from exc
    registered = f"tcpaudit_file_{index}"
    if edit.before is None:
        allowed = f"not {registered}.stat.exists or {registered}.stat.checksum == '{_sha1(after)}'"
    else:
        sums = f"['{_sha1(edit.before)}', '{_sha1(after)}']"
        allowed = f"{registered}.stat.exists and {registered}.stat.checksum in {sums}"
    tasks = [
        f"    - name: {_unsafe(f'{edit.path} is the file audited, or already fixed')}",
        "      ansible.builtin.stat:",
        f"        path: {path}",
        "        checksum_algorithm: sha1",
        f"      register: {registered}",
        f"    - name: {_unsafe(f'{edit.path} has not changed since the audit')}",
        "      ansible.builtin.assert:",
        f"        that: {_q(allowed)}",
        f"        fail_msg: {_unsafe(f'{edit.path} changed since it was audited: audit it again')}",
        "        quiet: true",
    ]
    if edit.before is None:
        tasks += [
            f"    - name: {_unsafe(f'{posixpath.dirname(edit.path)} exists')}",
            "      ansible.builtin.file:",
            f"        path: {_q(f'{_ROOT}/{posixpath.dirname(edit.path)}')}",
            "        state: directory",
        ]
    where = ", ".join(edit.lines)
    tasks += [
        f"    - name: {_unsafe(f'{edit.path}: {where} ({rules})')}",
        "      ansible.builtin.copy:",
        f"        dest: {path}",
        f"        content: !unsafe {_q(after)}",
    ]
    if edit.before is None:
        tasks.append('        mode: "0644"')
    tasks.append(f"      notify: {_q(handler)}")
    return tasks


def render_playbook(plan: Plan, *, host: str, layout: str | None) -> str:
    """The playbook for ``plan`` (a play with no task when there is nothing to change).

    Args:
        plan: the planned edits.
        host: the audited host's name, for the play's name.
        layout: the Apache layout (debian, rhel...), which names httpd's service.
    """
    apache = [edit for edit in plan.edits if not edit.sysctl]
    sysctl = [edit for edit in plan.edits if edit.sysctl]
    restart = needs_restart(apache)
    state, httpd = ("restarted", "restart httpd") if restart else ("reloaded", "reload httpd")
    lines = [
        # The host's name is audited text: quoted, so a line break stays in the comment.
        f"# tcpaudit fix --format ansible for {_q(host)}: rules "
        f"{', '.join(plan.rules()) or 'none'}.",
        "# ansible-playbook -i HOST, --become THIS.yml; -e tcpaudit_root=DIR changes a copy",
        "# of the tree under DIR, -e tcpaudit_reload=false skips reloading httpd and sysctl.",
        f"- name: {_unsafe(f'tcpaudit fixes for {host}')}",
        "  hosts: \"{{ tcpaudit_hosts | default('all') }}\"",
        "  gather_facts: false",
        "  tasks:",
    ]
    tasks: list[str] = []
    for index, edit in enumerate(plan.edits, start=1):
        tasks += _file_tasks(edit, index, "apply sysctl" if edit.sysctl else httpd)
    lines += tasks or ["    []"]
    handlers: list[str] = []
    if apache:
        handlers += [
            f"    - name: {_q(httpd)}",
            "      ansible.builtin.service:",
            f"        name: {HTTPD_SERVICE.get(layout or '', 'httpd')}",
            f"        state: {state}",
            f"      when: {_WHEN}",
        ]
    if sysctl:
        handlers += [
            '    - name: "apply sysctl"',
            "      ansible.builtin.command: sysctl --system",
            "      changed_when: true",
            f"      when: {_WHEN}",
        ]
    if handlers:
        lines += ["  handlers:", *handlers]
    return "\n".join(lines) + "\n"
