"""QR codes of configs and links, as SVG or PNG (pure Python: qrcode's PyPNG writer, no Pillow)."""

from __future__ import annotations

import io

from vpnsmm.domain.errors import NotFoundError, ValidationError

QR_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
#: A version-40 QR code holds at most 2953 bytes (level L); refuse more with a clear error instead of a 500.
QR_MAX_BYTES = 2953


def qr_format(raw: str | None) -> str:
    fmt = (raw or "svg").strip().lower()
    if fmt not in QR_FORMATS:
        raise ValidationError(f"format must be one of {', '.join(QR_FORMATS)}", field="format")
    return fmt


def render_qr(data: str, fmt: str) -> bytes:
    """``data`` as a QR code image in ``fmt`` ("svg" or "png"). ValidationError (QR_TOO_LONG) when it does not fit
    in a QR code; NotFoundError (QR_UNAVAILABLE) when the optional packages are missing."""
    if len(data.encode()) > QR_MAX_BYTES:
        raise ValidationError(f"too long for a QR code ({len(data.encode())} bytes, at most {QR_MAX_BYTES})",
                              field="data", code="QR_TOO_LONG")
    try:
        import qrcode
        import qrcode.image.pure
        import qrcode.image.svg
    except ImportError:  # optional dependency: the rest of the API works without it
        raise NotFoundError("QR codes are not available on this server (install 'qrcode' and 'pypng')",
                            code="QR_UNAVAILABLE") from None
    if fmt == "svg":
        image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
        svg: bytes | str = image.to_string()
        return svg if isinstance(svg, bytes) else svg.encode()
    try:
        image = qrcode.make(data, image_factory=qrcode.image.pure.PyPNGImage, box_size=8, border=2)
    except ImportError:
        raise NotFoundError("PNG QR codes need the 'pypng' package", code="QR_UNAVAILABLE") from None
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
