"""Fill the English catalogue from translations kept here, one per Japanese source string.

Run `make messages` after changing user-facing text: it extracts the strings, fills the ones this file
knows, compiles the catalogue (the .mo is committed, so a new machine needs no gettext tools), and lists
the strings still missing an English text.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES" / "django.po"

EN = {
    "%(days)s %(opens)s〜%(closes)s（最終受付 %(last)s）": "%(days)s %(opens)s–%(closes)s (last reception %(last)s)",
    "%(name)s マイナンバーカード交付等予約": "%(name)s My Number Card appointments",
    "マイナンバーカードの受け取りは予約制です。交付通知書に記載の予約番号とパスワードで、ご希望の場所と日時を予約できます。":
        "Collecting your My Number Card requires an appointment. Book the place and time you want with the "
        "reservation number and password printed on your notice (交付通知書).",
    "電子証明書の更新・暗証番号の変更・顔認証マイナンバーカードへの切替は、コールセンターへのお電話で予約してください。":
        "For e-certificate renewal, PIN changes and switching to a face-authentication card, please book by "
        "calling the call center.",
    "交付場所と受付時間": "Places and opening hours",
    "祝休日と年末年始（12月29日〜1月3日）は受付を行いません。":
        "Closed on national holidays and over the New Year (29 December – 3 January).",
    "%(date)sから": "From %(date)s",
    "%(date)sまで": "Until %(date)s",
    "現在、予約を受け付けている交付場所はありません。": "No place is taking appointments at the moment.",
    "テナント一覧": "Tenants",
    "%(user)s としてログイン中。": "Signed in as %(user)s.",
    "管理画面（テナントとドメインの編集）": "Administration (edit tenants and domains)",
    "ワーカーの最終ハートビート: %(at)s": "Last worker heartbeat: %(at)s",
    "Redis 異常": "Redis failing",
    "ワーカーのハートビートはまだ記録されていません。": "No worker heartbeat recorded yet.",
    "テナント（自治体）ごとに専用のデータベーススキーマがあります。":
        "Each tenant (municipality) has a database schema of its own.",
    "スキーマ": "Schema",
    "名称": "Name",
    "ドメイン": "Domains",
    "プリセット": "Preset",
    "作成日時": "Created",
    "主": "primary",
    "テナントはまだありません。": "No tenants yet.",
    "ページが見つかりません": "Page not found",
    "このアドレスで提供しているサービスはありません。お住まいの自治体から案内されたアドレスをご確認ください。":
        "There is no service at this address. Please check the address your municipality gave you.",
    "お探しのページは移動または削除されたか、アドレスが間違っている可能性があります。":
        "The page you are looking for may have moved or been removed, or the address may be wrong.",
    "本文へ移動": "Skip to main content",
    "言語 / Language": "言語 / Language",
    "切替": "Switch",
    "月": "Mon", "火": "Tue", "水": "Wed", "木": "Thu", "金": "Fri", "土": "Sat", "日": "Sun",
}

STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unquote(lines: list[str]) -> str:
    return "".join(STRING.search(line).group(1) for line in lines).replace('\\"', '"').replace("\\n", "\n")  # type: ignore[union-attr]


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fill(text: str) -> tuple[str, list[str]]:
    blocks, missing = [], []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        try:
            start = next(i for i, line in enumerate(lines) if line.startswith("msgid "))
            end = next(i for i, line in enumerate(lines) if line.startswith("msgstr "))
        except StopIteration:
            blocks.append(block)
            continue
        msgid = unquote(lines[start:end])
        if msgid == "":  # the header
            blocks.append(block.replace('"Content-Type: text/plain; charset=CHARSET\\n"',
                                        '"Content-Type: text/plain; charset=UTF-8\\n"'))
            continue
        lines = [line for line in lines if line != "#, fuzzy"]
        end = next(i for i, line in enumerate(lines) if line.startswith("msgstr "))
        if msgid in EN:
            lines = lines[:end] + [f"msgstr {quote(EN[msgid])}"]
        else:
            missing.append(msgid)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks), missing


def main() -> int:
    text, missing = fill(PO.read_text(encoding="utf-8"))
    PO.write_text(text, encoding="utf-8")
    for msgid in missing:
        print(f"no English text yet: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
