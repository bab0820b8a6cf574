"""Japanese telephone numbers as residents, operators and old systems write them.

A number is stored as its digits only: "0" and then 9 digits (a fixed line, "075-123-4567") or 10 digits (a
mobile or IP phone, "090-1234-5678"). People write the groups with any dash, spaces or the area code in
brackets ("(075) 123-4567", "075（123）4567"), often in full-width digits; a phone's autofill gives the
international form "+81 90-1234-5678", sometimes with the trunk zero kept in brackets ("+81 (0)75-...").

Shown, a number is grouped the Japanese way (`format_phone`): "03-1234-5678", "075-123-4567",
"0774-12-3456", "090-1234-5678", "0120-123-456".
"""

from __future__ import annotations

import re

from booking.lib.japanese import drop_separators

PHONE_NUMBER = re.compile(r"0[0-9]{9,10}")
_BRACKETS = "()（）"
_JAPAN_PREFIX = "+81"


def normalise_phone(text: str) -> str:
    """The digits of a telephone number as typed: separators and brackets dropped, "+81" replaced by the
    trunk "0". Not checked: the result may still not be a number (see `is_phone_number`)."""
    value = drop_separators(text, _BRACKETS)
    if value.startswith(_JAPAN_PREFIX):
        # "+81 (0)75 ..." keeps the trunk zero in brackets; "+81 75 ..." drops it. Both are 075...
        value = "0" + value.removeprefix(_JAPAN_PREFIX).removeprefix("0")
    return value


def is_phone_number(digits: str) -> bool:
    """True for a normalised Japanese number: "0" then 9 or 10 ASCII digits."""
    return PHONE_NUMBER.fullmatch(digits) is not None


def phone_number(text: str) -> str | None:
    """The stored form of a telephone number as typed ("０７５－１２３－４５６７" → "0751234567"), or None."""
    digits = normalise_phone(text)
    return digits if is_phone_number(digits) else None


# Where the area code (市外局番, with the trunk "0") ends in a 10-digit fixed-line number: the group
# lengths of the national numbering plan (総務省「市外局番の一覧」), as Google's libphonenumber encodes
# them, reduced to prefixes. The longest listed prefix of a number wins; a number no prefix names has a
# 4-digit area code (the most common). Area code, local exchange and a 4-digit subscriber number make 10.
_AREA_CODE_PREFIXES = {
    2: ("03 0420 0429 04700 04701 04709 0471 06 "),
    3: (
        "011 01540 01541 01548 01550 01551 01557 0177 0188 0196 0199 0221 0222 0223 0227 023 0245 0249 "
        "025 02500 02501 02540 02541 02560 02561 02580 02581 025917 025999 0262 0264 0271 0272 0273 0275 "
        "02780 02781 02788 02789 0281 02830 02831 02833 02834 0286 0289 0290 02917 0292 0293 0298 04 "
        "04220 04221 04291 04297 04298 0462 0464 0468 04750 04751 04759 04790 04791 04799 0492 0499 052 "
        "0530 0534 0535 0539 054 0552 0559 058 0590 0591 0592 0593 05980 05981 05989 05990 05991 05999 "
        "060 072 0734 075 0760 0762 0764 0769 0775 0777 078 0792 0793 0794 0795 07960 07961 07966 07967 "
        "082 082941 082942 082943 0832 08360 0837 083766 083767 083768 08380 08381 0839 083960 083961 "
        "083963 083966 0849 08510 08511 086 08636 086552 086553 08660 08661 086691 086697 086698 086722 "
        "086723 086724 086726 086728 086737 086738 08680 08681 08689 08690 08691 08694 08695 08699 087 "
        "0886 0888 0890 0891 0899 092 093 0941 0945 0951 0953 0958 0961 0962 0963 0971 0975 0976 0981 "
        "0988 0989 0991 0992 099331 099343 099345 099347 09940 09941 09947 09948 0998 0999 "
    ),
    4: (
        "02232 02233 0233 0234 0235 0237 0238 0250 0254 02557 02558 0256 02572 02573 02574 0258 0259 "
        "02642 02643 02644 02645 02896 02897 02898 02899 02932 02933 02934 040 041 0422 04282 04283 04287 "
        "04288 04289 0436 0438 0439 046 0470 0475 0476 0478 0479 0480 049 053960 053961 053962 053963 "
        "053974 053977 05399 0544 0545 0547 0548 0581 0584 0585 0586 0587 059790 059791 059797 059798 "
        "0721 0725 07946 07947 07948 07952 07953 07954 07957 07958 0820 0823 08244 08245 08246 08247 "
        "08248 0826 0827 082920 08293 08294 08295 08297 08298 08372 08373 08374 08375 08376 0863 086360 "
        "086361 086366 08654 08655 08656 08657 0866 0867 0868 0869 086992 086993 0875 0877 0879 0920 0930 "
    ),
    5: (
        "01267 01372 01374 01377 01392 01397 01398 01456 01457 01466 01547 01558 01564 01586 01587 01632 "
        "01634 01635 01648 01654 01655 01656 01658 04992 04994 04996 04998 05769 05979 07468 08387 08388 "
        "08389 08396 08477 0851 09802 09912 09913 09969 "
    ),
}
_AREA_CODE_LENGTH = {
    prefix: length for length, prefixes in _AREA_CODE_PREFIXES.items() for prefix in "".join(prefixes).split()
}
_DEFAULT_AREA_CODE_LENGTH = 4
# 10-digit numbers that are no fixed line: toll-free 0120, Navi Dial 0570, information 0990: "0120-123-456".
_SERVICE_PREFIXES_4_3_3 = ("0120", "0570", "0990")


def _area_code_length(digits: str) -> int:
    for end in range(min(len(digits), 6), 1, -1):
        length = _AREA_CODE_LENGTH.get(digits[:end])
        if length is not None:
            return length
    return _DEFAULT_AREA_CODE_LENGTH


def format_phone(digits: str) -> str:
    """A stored number as people read it ("0751234567" → "075-123-4567", "09012345678" → "090-1234-5678").
    Anything that is not a stored number (empty, an old system's text) is returned as it is."""
    if not is_phone_number(digits):
        return digits
    if len(digits) == 11:
        # Mobile 070/080/090, IP 050, M2M 020: "090-1234-5678"; toll-free 0800: "0800-123-4567".
        if digits.startswith("0800"):
            return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if digits.startswith(_SERVICE_PREFIXES_4_3_3):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    area = _area_code_length(digits)
    return f"{digits[:area]}-{digits[area:6]}-{digits[6:]}"
