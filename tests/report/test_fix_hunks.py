"""Markdown and GitHub outputs show each finding's change as diff hunks."""

from __future__ import annotations

from tcpaudit.engine import Report
from tcpaudit.engine.findings import FileChange
from tcpaudit.report import FORMATS
from tcpaudit.report.hunks import change_hunks


def test_markdown_shows_the_replaced_line_and_the_new_one(incident: Report) -> None:
    text = FORMATS["markdown"](incident)
    assert (
        "```diff\n--- a/etc/httpd/conf/httpd.conf\n+++ b/etc/httpd/conf/httpd.conf\n"
        "@@ -11,1 +11,1 @@\n-Timeout 300\n+Timeout 30\n```"
    ) in text


def test_github_annotation_carries_the_hunk(incident: Report) -> None:
    lines = FORMATS["github"](incident).splitlines()
    ta108 = next(line for line in lines if "title=TA108" in line)
    assert "Change:%0A--- a/etc/httpd/conf.d/shop.conf%0A" in ta108
    assert "@@ -9,1 +9,2 @@%0A <VirtualHost *:80>%0A+ProxyTimeout 30" in ta108


def test_hunks_shift_later_lines_and_name_new_links() -> None:
    changes = [
        FileChange(file="f.conf", line=3, action="insert_after", text="A 1\nB 2", was="<X>"),
        FileChange(file="f.conf", line=9, action="replace", text="C 3", was="C 300"),
        FileChange(file="f.conf", line=12, action="replace", text="", was="D 4"),
        FileChange(file="m/x.load", action="create", text="../a/x.load", link=True),
    ]
    assert change_hunks(changes).splitlines() == [
        "--- a/f.conf",
        "+++ b/f.conf",
        "@@ -3,1 +3,3 @@",
        " <X>",
        "+A 1",
        "+B 2",
        "@@ -9,1 +11,1 @@",
        "-C 300",
        "+C 3",
        "@@ -12,1 +14,0 @@",
        "-D 4",
        "--- /dev/null",
        "+++ b/m/x.load",
        "@@ new symbolic link @@",
        "+../a/x.load",
    ]
