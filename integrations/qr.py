"""QR codes as SVG, their one home: the staff authenticator setup and the citizen's check-in code.

SVG keeps the page small and sharp at any zoom, is drawn on the server (no script, which the CSP forbids) and
needs no image file. The code has a white background and the standard four-module quiet zone, so a hand-held
scanner reads it off a phone in dark mode too.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET  # noqa: S405 - we only serialise our own tree, never parse input

import qrcode
import qrcode.image.svg

MODULE_PIXELS = 8


def _image(data: str) -> qrcode.image.svg.SvgPathFillImage:
    return qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10)


def svg_base64(data: str) -> str:
    """The code as a base64 SVG document, for an `<img src="data:image/svg+xml;base64,…">`."""
    return base64.b64encode(_image(data).to_string()).decode()


def inline_svg(data: str, *, label: str, element_id: str = "qr") -> str:
    """The code as an `<svg>` element to put straight into a page, labelled for screen readers.

    `label` becomes the SVG's title (its accessible name). Every value is escaped by the serialiser, so the
    result is safe to mark safe in a template.
    """
    root = _image(data).get_image()
    modules = int(root.get("viewBox", "0 0 0 0").split()[2])
    size = str(modules * MODULE_PIXELS)
    root.set("width", size)
    root.set("height", size)
    root.set("role", "img")
    root.set("aria-labelledby", f"{element_id}-title")
    root.set("id", element_id)
    # qrcode builds the tree with the SVG namespace as a plain xmlns attribute and unqualified children.
    title = ET.Element("title", {"id": f"{element_id}-title"})
    title.text = label
    root.insert(0, title)
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)
