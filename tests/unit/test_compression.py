"""Pages are sent gzip-compressed to a browser that accepts it, and plain to one that does not."""

import gzip

from django.test import Client


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


def test_two_compressions_of_one_page_differ_in_length_against_breach(db: None) -> None:
    sizes = {len(Client().get("/", headers={"accept-encoding": "gzip"}).content) for _ in range(8)}
    assert len(sizes) > 1
