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

"""Documentation of the ``tcpaudit.audit.check`` action (the code is plugins/action/check.py).

Ansible runs the action plugin of the same name on the controller; this file
only carries the documentation ``ansible-doc tcpaudit.audit.check`` shows.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: check
short_description: Grade a host's Apache and TCP settings with tcpaudit, on the controller
version_added: "0.1.0"
description:
  - Reads C(ansible_facts.tcpaudit), the snapshot M(tcpaudit.audit.facts)
    collects, and grades it with the C(tcpaudit) library running on the
    controller. When the fact is absent, runs M(tcpaudit.audit.facts) first
    (with O(root) and O(apache_conf)).
  - The snapshot is rebuilt in a private temporary directory and read by the
    same loaders as C(tcpaudit audit --root), so findings, messages and
    locations are those of a local audit (paths relative to the host's C(/)).
  - Fails the host when an unsuppressed finding is at or above O(fail_on).
  - Needs C(pip install tcpaudit) in the Python that runs ansible-playbook.
    The managed host needs only Python.
options:
  fail_on:
    description:
      - Fail the host when a finding has at least this severity;
        C(never) only reports.
    type: str
    choices: [info, low, medium, high, critical, never]
    default: high
  report_dir:
    description:
      - Write the JSON report (as C(tcpaudit audit --format json) prints it) to
        C(<report_dir>/<inventory_hostname>.json), mode 0600, replaced
        atomically, for C(tcpaudit fleet). Created (mode 0700) when missing.
        A relative path is relative to the directory ansible-playbook runs in.
        Written in check mode too (it is output, not a change to the host).
    type: path
  profile:
    description: The exposure profile the rules grade against (default from O(config), else C(internet)).
    type: str
    choices: [internet, internal, proxy-backend]
  config:
    description:
      - A C(tcpaudit.toml) (or a C(pyproject.toml) with C([tool.tcpaudit])) on
        the controller (disabled rules, parameters, suppressions). Without it
        the defaults apply.
    type: path
  facts:
    description:
      - A snapshot or a C(tcpaudit facts) document to grade instead of
        C(ansible_facts.tcpaudit).
    type: dict
  root:
    description: Passed to M(tcpaudit.audit.facts) when this action runs it.
    type: path
    default: /
  apache_conf:
    description: Passed to M(tcpaudit.audit.facts) when this action runs it.
    type: str
  remediate:
    description:
      - Also return RV(remediation), the fixes as data, planned on the
        snapshot's files as C(tcpaudit fix) plans them on a tree. A play
        applies them with M(ansible.builtin.copy) and M(ansible.builtin.file)
        (see EXAMPLES); nothing is written by this action.
      - Needs a snapshot (O(facts) or C(ansible_facts.tcpaudit)), not a
        C(tcpaudit facts) document, which holds no files.
    type: bool
    default: false
  rules:
    description: With O(remediate), only the fixes of these rule ids.
    type: list
    elements: str
    default: []
attributes:
  action:
    support: full
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - C(changed) is always false; nothing on the managed host is written.
  - The report names the host by its inventory_hostname.
seealso:
  - module: tcpaudit.audit.facts
author:
  - tcpaudit developers
"""

EXAMPLES = r"""
- name: Collect
  tcpaudit.audit.facts:

- name: Grade, keep a report per host, fail on high findings
  tcpaudit.audit.check:
    fail_on: high
    report_dir: reports

# then, on the controller: tcpaudit fleet reports/

- name: Grade and plan the fixes
  tcpaudit.audit.check:
    fail_on: never
    remediate: true
  register: audit

- name: Check each file is still the one audited (or already fixed)
  ansible.builtin.stat:
    path: "{{ item.path }}"
    checksum_algorithm: sha1
  loop: "{{ audit.remediation.files | selectattr('state', 'eq', 'file') }}"
  register: before

- name: Refuse to write over a file changed since the audit
  ansible.builtin.assert:
    that: >-
      (item.item.checksum_before is none and not item.stat.exists)
      or item.stat.checksum | default('') in [item.item.checksum_before, item.item.checksum_after]
  loop: "{{ before.results }}"

- name: Directories of new files (a new sysctl.d drop-in)
  ansible.builtin.file:
    path: "{{ item.path | dirname }}"
    state: directory
  loop: "{{ audit.remediation.files }}"

- name: Write the fixed files
  ansible.builtin.copy:
    dest: "{{ item.path }}"
    content: "{{ item.content }}"
    mode: "0644"
  loop: "{{ audit.remediation.files | selectattr('state', 'eq', 'file') }}"

- name: Enable modules as a2enmod does
  ansible.builtin.file:
    src: "{{ item.src }}"
    dest: "{{ item.path }}"
    state: link
  loop: "{{ audit.remediation.files | selectattr('state', 'eq', 'link') }}"
"""

RETURN = r"""
grade:
  description: The grade, A (best) to F.
  returned: success
  type: str
  sample: D
score:
  description: The score, 0 to 100.
  returned: success
  type: int
  sample: 58
report:
  description: The JSON report (schema_version, tool, host, grade, score, apache, kernel, derived, findings, notes).
  returned: success
  type: dict
failing:
  description: Rule ids of the unsuppressed findings at or above O(fail_on).
  returned: success
  type: list
  elements: str
  sample: [TA101, TA104]
remediation:
  description:
    - The fixes as data, when O(remediate) is true. C(files) lists each file
      to change with C(path) (the host's), C(rules), C(where) and either
      C(state=file), C(content) (the whole fixed text), C(checksum_before)
      (SHA-1; null for a new file), C(checksum_after), or C(state=link) and
      C(src). C(httpd) names the service and whether it must be C(reloaded)
      or C(restarted); C(sysctl) says whether C(sysctl --system) must run.
  returned: when remediate is true
  type: dict
  sample:
    files:
      - path: /etc/httpd/conf/httpd.conf
        state: file
        rules: [TA301, TA101]
        where: [line 11]
        handler: httpd
        content: "..."
        checksum_before: 2f360278337f4ae5def4528541be3df6593d7d7a
        checksum_after: 985d2b5a8f1927871f872b76aefb2b0627de9120
    httpd: {service: httpd, state: restarted}
    sysctl: true
    rules: [TA301, TA101]
    notes: []
report_path:
  description: The report file written, when O(report_dir) is set.
  returned: when report_dir is set
  type: str
  sample: reports/web1.json
"""
