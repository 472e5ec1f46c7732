from pipeline.schema import Reason, Record
from pipeline.text import TextConfig, caption_ok, clean_caption, filter_record, load_list, url_ok

CFG = TextConfig()


def test_clean_caption_unescapes_and_collapses():
    assert clean_caption("  a &amp;amp; b\u200b\n\tc ") == "a & b c"
    assert clean_caption("caf\u0065\u0301") == "caf\u00e9"  # NFC


def test_caption_rules():
    assert caption_ok("a red circle", CFG) == (True, "")
    assert caption_ok("", CFG) == (False, Reason.EMPTY_CAPTION)
    assert caption_ok("Logo", CFG) == (False, Reason.BOILERPLATE_CAPTION)
    assert caption_ok("click here!", CFG) == (False, Reason.BOILERPLATE_CAPTION)
    assert caption_ok("redcircle", CFG) == (False, Reason.CAPTION_TOO_SHORT)
    assert caption_ok("x" * 2000 + " y", CFG) == (False, Reason.CAPTION_TOO_LONG)
    assert caption_ok("蓝色背景上的红色圆圈", CFG) == (True, "")  # no spaces, judged by characters


def test_url_rules():
    assert url_ok("http://a.example/x.jpg", CFG) == (True, "")
    assert url_ok("data:image/gif;base64,AAAA", CFG) == (False, Reason.DATA_URI)
    assert url_ok("ftp://a.example/x.jpg", CFG) == (False, Reason.UNSUPPORTED_SCHEME)
    assert url_ok("http://a.example/x.svg", CFG) == (False, Reason.UNSUPPORTED_EXTENSION)
    assert url_ok("http:///x.jpg", CFG) == (False, Reason.BAD_URL)
    assert url_ok("http://a.example:99999999/x.jpg", CFG) == (False, Reason.BAD_URL)


def test_filter_record_returns_cleaned_record_and_reason():
    record, reason = filter_record(
        Record(url="http://a.example/1.jpg", caption=" a  red&nbsp;circle "), CFG
    )
    assert (record.caption, reason) == ("a red circle", "")
    record, reason = filter_record(
        Record(url="http://a.example/1.svg", caption="a red circle"), CFG
    )
    assert reason == Reason.UNSUPPORTED_EXTENSION


def test_blocklists():
    cfg = TextConfig(
        blocked_words=load_list("# words\nSpam\n"), blocked_domains=load_list("ads.example\n")
    )
    assert caption_ok("buy cheap SPAM now", cfg) == (False, Reason.BLOCKED_WORD)
    assert caption_ok("a spammy caption", cfg) == (True, "")  # whole tokens only
    assert url_ok("http://cdn.ads.example/x.jpg", cfg) == (False, Reason.BLOCKED_DOMAIN)
    assert url_ok("http://notads.example/x.jpg", cfg) == (True, "")
