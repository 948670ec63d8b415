"""The BANDWIDTH check: peak segment bit rate by RFC 8216's definition, and a master held to it."""

from __future__ import annotations

import pytest

from tests.support.hls_bandwidth import check_bandwidth, peak_bit_rate


@pytest.mark.parametrize(("segments", "target", "peak"), [
    ([(2.0, 250_000)], 2, 1_000_000),
    ([(2.0, 100_000), (2.0, 300_000), (2.0, 100_000)], 2, 1_200_000),
    # A short last segment alone is under half the target duration: it counts only with its neighbour.
    ([(2.0, 100_000), (0.5, 100_000)], 2, (200_000 * 8) / 2.5),
    ([(0.5, 1_000)], 2, 0.0),
    ([], 2, 0.0),
])
def test_peak_segment_bit_rate_follows_the_rfc(segments, target, peak) -> None:  # noqa: ANN001
    assert peak_bit_rate(segments, target) == pytest.approx(peak)


MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="pl",LANGUAGE="pl",DEFAULT=YES,AUTOSELECT=YES,URI="a.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH={bw},AVERAGE-BANDWIDTH={avg},CODECS="avc1.64001e,mp4a.40.2",AUDIO="aud"
v.m3u8
"""


def _media(name: str) -> str:
    return "#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + "".join(f"#EXTINF:2.0,\n{name}/{i}.m4s\n" for i in range(4))


def _check(bw: int, avg: int, video_bytes: int, audio_bytes: int = 25_000) -> list:
    sizes = {"v": video_bytes, "a": audio_bytes}
    return check_bandwidth("http://o/live/c/cmaf/master.m3u8", MASTER.format(bw=bw, avg=avg),
                           lambda url: sizes[url.rsplit("/", 2)[1]],
                           lambda url: _media(url.rsplit("/", 1)[1][:-5]))


def test_a_variant_is_held_to_its_video_plus_its_heaviest_audio() -> None:
    # 200 kB per 2 s of video is 800 kbit/s, 25 kB of audio 100 kbit/s: 900 kbit/s in all.
    assert _check(900_000, 700_000, 200_000) == []
    assert _check(820_000, 700_000, 200_000) == []  # within 10%
    (v,) = _check(800_000, 700_000, 200_000)
    assert v.rule == "4.3.4.2-bandwidth" and "900000" in v.message
    (v,) = _check(900_000, 950_000, 200_000)
    assert v.rule == "4.3.4.2-average-bandwidth"


def test_a_variant_with_nothing_in_the_store_is_not_weighed() -> None:
    assert check_bandwidth("http://o/m.m3u8", MASTER.format(bw=1, avg=1), lambda url: None,
                           lambda url: _media("v")) == []
