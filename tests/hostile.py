"""Hostile and awkward image files, made from real photos on the spot; each maker writes one file and returns it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def truncated_jpeg(photo: Path, out: Path) -> Path:
    data = photo.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def lying_png(photo: Path, out: Path) -> Path:
    """A PNG whose IHDR claims a larger size than its data holds (CRC fixed, so only the data can tell)."""
    buffer = io.BytesIO()
    Image.open(photo).convert("RGB").resize((64, 48)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, 640, 480)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    struct.pack_into(">I", data, ihdr + 17, crc)
    out.write_bytes(bytes(data))
    return out


def bomb_png(out: Path, side: int = 20_000) -> Path:
    """A 20000x20000 grey PNG of a few hundred kilobytes: 400 million pixels if anyone decodes it."""
    raw_row = b"\x00" + b"\x00" * side
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    out.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return out


def zero_bytes(out: Path) -> Path:
    out.write_bytes(b"")
    return out


def text_as_jpeg(out: Path) -> Path:
    out.write_text("This is a shopping list, not a photo.\nmilk\neggs\n", encoding="utf-8")
    return out


def animated_gif(photo: Path, out: Path) -> Path:
    base = Image.open(photo).convert("RGB").resize((48, 32))
    frames = [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.rotate(180)]
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out


def cmyk_jpeg(photo: Path, out: Path) -> Path:
    Image.open(photo).convert("RGB").resize((80, 60)).convert("CMYK").save(out, format="JPEG", quality=95)
    return out


def png16(photo: Path, out: Path) -> Path:
    grey = np.asarray(Image.open(photo).convert("L").resize((40, 30)), dtype=np.uint16) * 257
    Image.fromarray(grey).save(out, format="PNG")
    return out


def exif_rotated_jpeg(photo: Path, out: Path, orientation: int = 6) -> Path:
    """A JPEG stored landscape with EXIF orientation 6: it is displayed rotated 90 degrees clockwise (portrait)."""
    img = Image.open(photo).convert("RGB").resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(out, format="JPEG", quality=95, exif=exif.tobytes())
    return out


def zip_bomb(out: Path, members: int = 64, inflated: int = 150_000_000) -> Path:
    """A zip of ``members`` files named ``NN.png``, each ``inflated`` zero bytes deflated to a few hundred
    kilobytes: one deflated stream written under every name (its CRC computed once), so it takes a second to make."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    parts, crc, left = [], 0, inflated
    while left > 0:
        chunk = block[: min(left, len(block))]
        parts.append(compressor.compress(chunk))
        crc = zlib.crc32(chunk, crc)
        left -= len(chunk)
    body = b"".join(parts) + compressor.flush()
    local, central = bytearray(), bytearray()
    for index in range(members):
        name = f"{index:02d}.png".encode()
        fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0, crc, len(body), inflated)
        offset = len(local)
        local += b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name + body
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset)
            + name
        )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, members, members, len(central), len(local), 0)
    out.write_bytes(bytes(local + central + end))
    return out


def idx_gzip_bomb(out: Path, members: int = 8, inflated_mb: int = 600) -> Path:
    """An IDX images file, gzip-compressed, whose header says 60,000 28x28 images and whose data inflates to
    ``members`` x ``inflated_mb`` MB of zeros (one gzip member made once, repeated: gzip allows several)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    header = b"\x00\x00\x08\x03" + struct.pack(">III", 60000, 28, 28)
    block = bytes(1 << 20)
    member = compressor.compress(header) + b"".join(compressor.compress(block) for _ in range(inflated_mb))
    member += compressor.flush()
    out.write_bytes(member * members)
    return out
