"""The fixed-width layout: a header record, data records and a trailer record whose count must match, each
record cut into its fields by Shift_JIS byte widths."""

from __future__ import annotations

from booking.lib.dates import COMPACT_DATE, parse_date
from booking.lib.digits import is_ascii_digits
from integrations.jlis.layout import (
    COUNT_DIGITS,
    CP932,
    DATA_TYPE,
    DATA_WIDTHS,
    FORMAT_ID,
    FORMAT_VERSION,
    HEADER_TYPE,
    HEADER_WIDTHS,
    PADDING,
    RECORD_BYTES,
    TRAILER_TYPE,
    TRAILER_WIDTHS,
    byte_width,
    char_width,
)
from integrations.jlis.records import Problem, RawRecord


def read_fixed(text: str) -> tuple[list[RawRecord], list[Problem]]:
    """Data records between a header record and a trailer record whose count must match."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()  # the line end of the last record, and blank lines after it
    problems: list[Problem] = []
    records: list[RawRecord] = []
    data_lines = 0
    trailer_at: int | None = None
    if lines[0][:1] != HEADER_TYPE:
        problems.append(_missing_header())
    for number, line in enumerate(lines, 1):
        kind = line[:1]
        if trailer_at is not None:
            problems.append(
                Problem(
                    f"トレーラレコード（{trailer_at}行目）の後にレコードがあります",
                    f"a record after the trailer record (line {trailer_at})",
                    line=number,
                )
            )
            break
        if kind == HEADER_TYPE:
            problems.extend(_check_header(line) if number == 1 else [_second_header(number)])
        elif kind == DATA_TYPE:
            data_lines += 1
            record, problem = _data_record(number, line)
            if record is not None:
                records.append(record)
            if problem is not None:
                problems.append(problem)
        elif kind == TRAILER_TYPE:
            trailer_at = number
            problems.extend(_check_trailer(number, line, data_records=data_lines))
        else:
            problems.append(_unknown_record(number, kind))
    if trailer_at is None:
        problems.append(
            Problem(
                f"最後にトレーラレコード（レコード区分 {TRAILER_TYPE}）がありません。"
                "ファイルが途中で切れていないか確認してください",
                f"no trailer record (record type {TRAILER_TYPE}) at the end: is the file cut short?",
                line=len(lines) + 1,
            )
        )
    if not data_lines:
        problems.append(Problem("データレコードがありません", "no data records"))
    return records, problems


def _second_header(number: int) -> Problem:
    return Problem(
        "ヘッダレコードは1行目だけです（ファイルを2つつなげていませんか）",
        "a header record is allowed on line 1 only (were two files joined?)",
        line=number,
    )


def _missing_header() -> Problem:
    return Problem(
        f"1行目がヘッダレコード（{HEADER_TYPE}{FORMAT_ID}{FORMAT_VERSION}…）ではありません",
        f"line 1 is not the header record ({HEADER_TYPE}{FORMAT_ID}{FORMAT_VERSION}…)",
        line=1,
    )


def _unknown_record(number: int, kind: str) -> Problem:
    shown = kind or "空行"
    return Problem(
        f"レコード区分が正しくありません（{shown}）。{DATA_TYPE}（データ）か {TRAILER_TYPE}（トレーラ）です",
        f"unknown record type {kind or '(empty line)'!r}: "
        f"data records are {DATA_TYPE}, the trailer {TRAILER_TYPE}",
        line=number,
    )


def _check_header(line: str) -> list[Problem]:
    fields, problem = _split(1, line, HEADER_WIDTHS)
    if problem is not None:
        return [problem]
    if fields["format_id"] != FORMAT_ID or fields["version"] != FORMAT_VERSION:
        return [_missing_header()]
    created = fields["created_on"]
    # ASCII first: parse_date would also read full-width digits, which a fixed-width record never holds.
    if not (is_ascii_digits(created) and parse_date(created, (COMPACT_DATE,)) is not None):
        return [
            Problem(
                f"ヘッダレコードの作成日が正しくありません（{created!r}、YYYYMMDD）",
                f"the header record's creation date is not a date ({created!r}, YYYYMMDD)",
                line=1,
            )
        ]
    return []


def _check_trailer(number: int, line: str, *, data_records: int) -> list[Problem]:
    fields, problem = _split(number, line, TRAILER_WIDTHS)
    if problem is not None:
        return [problem]
    count = fields["count"]
    if not is_ascii_digits(count):
        return [
            Problem(
                f"トレーラレコードの件数が数字{COUNT_DIGITS}桁ではありません（{count!r}）",
                f"the trailer's record count is not {COUNT_DIGITS} digits ({count!r})",
                line=number,
            )
        ]
    if int(count) != data_records:
        return [
            Problem(
                f"トレーラレコードの件数（{int(count)}件）がデータレコードの数（{data_records}件）と合いません。"
                "ファイルが途中で切れているか、余分なレコードがあります",
                f"the trailer says {int(count)} record(s) but the file has {data_records} data record(s): "
                "the file is cut short or has extra records",
                line=number,
            )
        ]
    return []


def _data_record(number: int, line: str) -> tuple[RawRecord | None, Problem | None]:
    fields, problem = _split(number, line, DATA_WIDTHS)
    if problem is not None:
        return None, problem
    del fields["record_type"]
    return RawRecord(number, {name: value.rstrip(PADDING) for name, value in fields.items()}), None


def _split(
    number: int, line: str, widths: tuple[tuple[str, int], ...]
) -> tuple[dict[str, str], Problem | None]:
    """The record cut into its fields by Shift_JIS byte widths, or the problem with its width."""
    size = byte_width(line)
    if size != RECORD_BYTES:
        return {}, Problem(
            f"レコードの長さが{size}バイトです（{RECORD_BYTES}バイトにしてください。全角文字は2バイトと数えます）",
            f"the record is {size} bytes long, it must be {RECORD_BYTES} (a full-width character counts 2)",
            line=number,
        )
    fields: dict[str, str] = {}
    try:
        encoded = line.encode(CP932)
    except UnicodeEncodeError:
        return _split_by_characters(number, line, widths)
    start = 0
    for name, width in widths:
        try:
            fields[name] = encoded[start : start + width].decode(CP932)
        except UnicodeDecodeError:
            return {}, _cut_character(number, name)
        start += width
    return fields, None


def _split_by_characters(
    number: int, line: str, widths: tuple[tuple[str, int], ...]
) -> tuple[dict[str, str], Problem | None]:
    """The slow way, for UTF-8 lines with characters Shift_JIS lacks: count each character's width."""
    fields: dict[str, str] = {}
    position = 0
    for name, width in widths:
        taken = 0
        end = position
        while taken < width:
            taken += char_width(line[end])
            end += 1
        if taken != width:
            return {}, _cut_character(number, name)
        fields[name] = line[position:end]
        position = end
    return fields, None


def _cut_character(number: int, name: str) -> Problem:
    return Problem(
        "項目の境目で全角文字が分断されています（項目の桁数が正しくありません）",
        "a full-width character is cut at the end of the field (the field widths are wrong)",
        line=number,
        field=name,
    )
