# Copyright: tcpaudit developers
# SPDX-License-Identifier: Apache-2.0
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may not
# use this file except in compliance with the License. You may obtain a copy of
# the License at http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.

"""The ``tcpaudit.audit.check`` action: grade a host's snapshot on the controller.

It takes ``ansible_facts.tcpaudit`` (collected by ``tcpaudit.audit.facts``, which
it runs itself when the fact is absent), hands it to the ``tcpaudit`` library
(``tcpaudit.snapshot`` rebuilds the host's files, ``tcpaudit.audit`` grades
them) and turns the report into a task result; with ``remediate`` it adds the
fixes as data (``tcpaudit.remedy.tasks``: what ``tcpaudit fix --format
ansible`` would write to each file). It parses and judges nothing itself. The documentation is in ``plugins/modules/check.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ansible.plugins.action import ActionBase

FACTS_MODULE = "tcpaudit.audit.facts"
FAIL_ON = ("info", "low", "medium", "high", "critical", "never")
PROFILES = ("internet", "internal", "proxy-backend")

ARGUMENT_SPEC = {
    "fail_on": {"type": "str", "default": "high", "choices": list(FAIL_ON)},
    "report_dir": {"type": "path"},
    "profile": {"type": "str", "choices": list(PROFILES)},
    "config": {"type": "path"},
    "facts": {"type": "dict"},
    "root": {"type": "path", "default": "/"},
    "apache_conf": {"type": "str"},
    "remediate": {"type": "bool", "default": False},
    "rules": {"type": "list", "elements": "str", "default": []},
}


def _plain(value):
    """The value as plain JSON types (facts may arrive as Ansible's wrapped strings),
    held to the bounds of a document read from a file (the managed host wrote it)."""
    from tcpaudit.errors import FactsError
    from tcpaudit.inputs import DEFAULT_LIMIT_BYTES, DocumentError, check_json_size

    text = json.dumps(value)  # ASCII: one byte a character
    if len(text) > DEFAULT_LIMIT_BYTES:
        raise FactsError(f"the facts document is larger than {DEFAULT_LIMIT_BYTES} bytes")
    try:
        check_json_size(text)
    except DocumentError as exc:
        raise FactsError(f"the facts document {exc}") from exc
    return json.loads(text)


def write_report(directory, name, text):
    """Write ``<directory>/<name>.json`` atomically, mode 0600 (reports describe hosts)."""
    if not name or "/" in name or name.startswith(".") or "\x00" in name:
        raise ValueError(f"inventory_hostname {name!r} cannot name a report file")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    target = os.path.join(directory, name + ".json")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + name + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target


class ActionModule(ActionBase):
    """Grade ``ansible_facts.tcpaudit`` with the tcpaudit library on the controller."""

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        return _without_known_tokens(self._run(tmp, task_vars))

    def _run(self, tmp, task_vars):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        try:
            import tcpaudit
            from tcpaudit.snapshot import facts_from_document
        except ImportError as exc:
            result.update(
                failed=True,
                msg="tcpaudit.audit.check needs the tcpaudit Python package in the controller's "
                f"Python (pip install tcpaudit): {exc}",
            )
            return result

        document = args["facts"]
        if document is None:
            document = (task_vars.get("ansible_facts") or {}).get("tcpaudit")
        if document is None:
            module_args = {"root": args["root"]}
            if args["apache_conf"] is not None:
                module_args["apache_conf"] = args["apache_conf"]
            collected = self._execute_module(
                module_name=FACTS_MODULE, module_args=module_args, task_vars=task_vars
            )
            if collected.get("failed"):
                result.update(failed=True, msg=collected.get("msg", "tcpaudit.audit.facts failed"))
                return result
            document = collected.get("ansible_facts", {}).get("tcpaudit")
        host = task_vars.get("inventory_hostname") or self._task.get_name()

        try:
            config = tcpaudit.load_config(Path(_path(args["config"]))) if args["config"] else None
            facts = facts_from_document(_plain(document), host=str(host))
            report = tcpaudit.audit(facts, config, profile=args["profile"])
        except tcpaudit.TcpauditError as exc:
            from tcpaudit.safetext import printable

            message = f"tcpaudit: {exc}"
            notes = document.get("notes") if isinstance(document, dict) else None
            if isinstance(notes, list) and notes:
                # A file the collector left out may be why the configuration fails.
                message += " (the collector noted: " + "; ".join(map(str, notes[:20])) + ")"
            # The managed host wrote part of this: no control character reaches the terminal.
            result.update(failed=True, msg=printable(message))
            return result

        if args["remediate"]:
            try:
                from tcpaudit.remedy.tasks import plan_snapshot, remediation

                layout = facts.apache.layout if facts.apache else None
                planned = plan_snapshot(report.findings, _plain(document), rules=args["rules"])
                result["remediation"] = remediation(planned, layout=layout)
            except tcpaudit.TcpauditError as exc:
                from tcpaudit.safetext import printable

                result.update(failed=True, msg=printable(f"tcpaudit: remediate: {exc}"))
                return result

        text = report.to_json()
        payload = json.loads(text)
        result["report"] = payload
        result["grade"] = report.grade
        result["score"] = report.score
        if args["report_dir"]:
            try:
                result["report_path"] = write_report(_path(args["report_dir"]), str(host), text)
            except (OSError, ValueError) as exc:
                result.update(failed=True, msg=f"cannot write the report: {exc}")
                return result

        failing = []
        if args["fail_on"] != "never":
            failing = report.at_or_above(tcpaudit.Severity(args["fail_on"]))
        result["failing"] = [finding.rule for finding in failing]
        summary = f"grade {report.grade} (score {report.score}), {len(report.findings)} finding(s)"
        if failing:
            listed = "; ".join(
                f"{finding.rule} {finding.severity}: {finding.title}" for finding in failing
            )
            result["failed"] = True
            result["msg"] = f"{summary}; {len(failing)} at or above {args['fail_on']}: {listed}"
        else:
            result["msg"] = summary
        return result


def _without_known_tokens(value):
    """``value`` (the task's result) with each token of a known kind in its
    texts hidden, as the CLI hides it in every output (a file's name may
    hold one: ``conf.d/x,ghp_....conf``); the report's JSON already is."""
    try:
        from tcpaudit.apache.known_tokens import hide_known_tokens
        from tcpaudit.apache.shell_state import REDACTED_VALUE
    except ImportError:
        return value

    def hidden(item):
        if isinstance(item, str):
            return hide_known_tokens(item, REDACTED_VALUE)
        if isinstance(item, dict):
            return {key: hidden(entry) for key, entry in item.items()}
        if isinstance(item, list):
            return [hidden(entry) for entry in item]
        return item

    return hidden(value)


def _path(value):
    """Relative paths are relative to the directory ansible-playbook runs in."""
    return os.path.abspath(os.path.expanduser(value))
