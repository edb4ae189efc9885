"""The mail catcher: every accepted message becomes one .eml file in the folder."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from pathlib import Path

from alerts.mailcatcher import MailCatcher, mail_files, read_mail_dir
from complaintops.embedded import find_free_port


def test_each_message_is_written_whole_to_its_own_file(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    port = find_free_port()
    with MailCatcher(folder, port=port), smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        for number in range(3):
            message = EmailMessage()
            message["From"] = "alerts@example.com"
            message["To"] = "a@example.com"
            message["Subject"] = f"第 {number} 封"
            message.set_content("你好 hello")
            client.send_message(message, to_addrs=["a@example.com", "b@example.com"])
    files = mail_files(folder)
    assert len(files) == 3
    assert all(re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.eml", f.name) for f in files)
    assert list(folder.glob("*.part")) == []
    messages = read_mail_dir(folder)
    assert sorted(str(m["Subject"]) for m in messages) == ["第 0 封", "第 1 封", "第 2 封"]
    assert {str(m["X-Envelope-To"]) for m in messages} == {"a@example.com, b@example.com"}


def test_an_empty_or_missing_folder_has_no_mail(tmp_path: Path) -> None:
    assert read_mail_dir(tmp_path / "nowhere") == []
