"""Reading just enough of an MP4 file to check what was written (no decoder needed)."""

from __future__ import annotations

from pathlib import Path


def mp4_video_codec(path: str | Path) -> str:
    """The sample-entry code of the first video track of an MP4 ('avc1' for H.264), read from the
    box tree (ISO/IEC 14496-12: moov > trak > mdia > minf > stbl > stsd); '' if none."""
    data = Path(path).read_bytes()

    def boxes(start: int, end: int):
        while start + 8 <= end:
            size = int.from_bytes(data[start:start + 4], "big")
            kind = data[start + 4:start + 8].decode("latin-1")
            header = 8
            if size == 1:
                size, header = int.from_bytes(data[start + 8:start + 16], "big"), 16
            elif size == 0:
                size = end - start
            if size < header:
                return
            yield kind, start + header, start + size
            start += size

    def find(start: int, end: int, path: list[str]):
        for kind, body, stop in boxes(start, end):
            if kind == path[0]:
                if len(path) == 1:
                    return body, stop
                found = find(body, stop, path[1:])
                if found:
                    return found
        return None

    moov = find(0, len(data), ["moov"])
    if moov is None:
        return ""
    for kind, body, stop in boxes(*moov):
        if kind != "trak":
            continue
        stsd = find(body, stop, ["mdia", "minf", "stbl", "stsd"])
        if stsd is not None:
            entry = stsd[0] + 8  # version/flags (4) + entry count (4)
            code = data[entry + 4:entry + 8].decode("latin-1")
            if code in ("avc1", "avc3", "hvc1", "hev1", "mp4v", "av01"):
                return code
    return ""


def mp4_frame_count(path: str | Path) -> int:
    """Frames of the first video track: the sample count of its ``stsz`` box; 0 if none."""
    data = Path(path).read_bytes()
    index = data.find(b"stsz")
    while index >= 4:
        # stsz: size(4) 'stsz' version/flags(4) sample_size(4) sample_count(4)
        count = int.from_bytes(data[index + 12:index + 16], "big")
        if count:
            return count
        index = data.find(b"stsz", index + 4)
    return 0
