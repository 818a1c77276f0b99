"""Pages are sent gzip-compressed to a browser that accepts it, and plain to one that does not."""

import gzip

from django.test import Client

from mlopslab.compression import compress


def test_a_page_is_compressed_when_the_browser_accepts_gzip(db: None) -> None:
    plain = Client().get("/accounts/login/")
    packed = Client().get("/accounts/login/", headers={"accept-encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert int(packed["Content-Length"]) == len(packed.content) < len(plain.content)
    body = gzip.decompress(packed.content)
    assert b"<form" in body
    assert body.count(b"<html") == 1


def test_one_body_compresses_to_different_lengths_against_breach() -> None:
    body = b"<html>" + b"the same page, byte for byte " * 100 + b"</html>"
    packed = [compress(body, max_random_bytes=100) for _ in range(8)]
    assert all(gzip.decompress(p) == body for p in packed)
    assert len({len(p) for p in packed}) > 1
