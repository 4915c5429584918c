"""TFRecord framing without TensorFlow (protocol section 2.2): per record an 8-byte little-endian length, a masked
CRC-32C of those 8 bytes, the payload, a masked CRC-32C of the payload. CRC-32C comes from `google-crc32c`
(Google's C implementation, a 30 kB wheel), imported only when a checksum is computed: with TensorFlow (the
platform, which may lack that package) only the framing walk of this module runs. Every problem is a DatasetError
naming the file.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

from autodl_format.errors import DatasetError

HEADER = 12  # uint64 length + uint32 masked crc of the length
FOOTER = 4   # uint32 masked crc of the payload
_MASK_DELTA = 0xA282EAD8


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C: the checksum rotated right by 15 bits plus a constant, modulo 2**32."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def count_tfrecords(path: Path) -> int:
    """Walk the TFRecord framing (without reading payloads) and return the record count.
    DatasetError when the file is truncated or a length field is impossible."""
    size = path.stat().st_size
    count = offset = 0
    with path.open("rb") as handle:
        while offset < size:
            if size - offset < HEADER:
                raise DatasetError(f"{path}: truncated TFRecord: {size - offset} stray bytes after record {count}")
            handle.seek(offset)
            (length,) = struct.unpack("<Q", handle.read(8))
            end = offset + HEADER + length + FOOTER
            if end > size:
                raise DatasetError(f"{path}: truncated or corrupt TFRecord: record {count} at byte {offset} "
                                   f"claims {length} bytes but the file ends at byte {size}")
            offset = end
            count += 1
    return count


def iter_tfrecords(path: Path, verify: bool = True) -> Iterator[bytes]:
    """The payloads of `path` in file order. verify: check both CRCs of every record (as TensorFlow's reader
    does); a mismatch or a truncated record raises DatasetError naming the file and the byte offset."""
    with path.open("rb") as handle:
        offset = 0
        while header := handle.read(HEADER):
            if len(header) < HEADER:
                raise DatasetError(f"{path}: corrupt TFRecord (truncated record at {offset})")
            length_bytes = header[:8]
            (length,), (length_crc,) = struct.unpack("<Q", length_bytes), struct.unpack("<I", header[8:])
            if verify and masked_crc(length_bytes) != length_crc:
                raise DatasetError(f"{path}: corrupt TFRecord (corrupted record at {offset})")
            payload = handle.read(length)
            footer = handle.read(FOOTER)
            if len(payload) < length or len(footer) < FOOTER:
                raise DatasetError(f"{path}: corrupt TFRecord (truncated record at {offset})")
            if verify and masked_crc(payload) != struct.unpack("<I", footer)[0]:  # TF names the payload's offset
                raise DatasetError(f"{path}: corrupt TFRecord (corrupted record at {offset + HEADER})")
            yield payload
            offset += HEADER + length + FOOTER


def verify_checksums(path: Path) -> int:
    """One pass over every record of `path`, checking both CRCs. Returns the record count."""
    return sum(1 for _ in iter_tfrecords(path))
