"""Hash lists, the unsafe scorer plug-ins, face blurring and the image stage's safety hook."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from PIL import Image, ImageChops

from pipeline.detectors import Detections, NudeNetDetector, OnnxClassifier
from pipeline.hashlist import HashLists, load_lists, parse_list, pdq_hex
from pipeline.imaging import ImageConfig, ImageRejected, process_image
from pipeline.safety import Blocked, SafetyConfig, SafetyGuard, blocked_record, blur_boxes
from pipeline.sampleimages import encode, render_picture
from pipeline.schema import Record
from tests.pipeline.onnxmodel import mean_brightness_model


def _picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    return render_picture(random.Random(seed), *size)[0]


def _lists(text: str, distance: int = 31) -> HashLists:
    return load_lists(["lists/ncmec.txt"], lambda _: text.encode(), distance)


def test_list_lines_are_typed_by_prefix_or_length():
    md5, sha1, pdq = "a" * 32, "b" * 40, "c" * 64
    kinds = parse_list(f"# comment\n{md5}\nsha1:{sha1}  # trailing\n\nPDQ:{pdq.upper()}\n")
    assert kinds == {"md5": {md5}, "sha1": {sha1}, "pdq": {pdq}}
    for bad in ("md5:" + "a" * 40, "z" * 32, "1234"):
        with pytest.raises(ValueError):
            parse_list(bad)


def test_exact_hashes_match_the_original_bytes_only():
    body = encode(_picture(1), "JPEG")
    lists = _lists(f"sha1:{hashlib.sha1(body).hexdigest()}\n")
    match = lists.match_bytes(body)
    assert match and match.list_name == "ncmec.txt" and match.kind == "sha1"
    assert lists.match_bytes(body + b"\0") is None
    assert _lists(hashlib.md5(body).hexdigest()).match_bytes(body).kind == "md5"


def test_pdq_matches_a_reencoded_resized_copy_and_not_another_image():
    img = _picture(2, (400, 300))
    lists = _lists(f"pdq:{pdq_hex(img)}\n")
    copy = Image.open(io.BytesIO(encode(img.resize((300, 225)), "JPEG", quality=50)))
    match = lists.match_image(copy.convert("RGB"))
    assert match and match.kind == "pdq" and match.distance <= 31
    assert lists.match_image(_picture(3, (400, 300))) is None
    for turned in (img.transpose(Image.Transpose.ROTATE_90), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):  # fmt: skip
        assert lists.match_image(turned).kind == "pdq"  # the dihedral variants are hashed too
    assert _lists(f"pdq:{pdq_hex(img)}\n", distance=0).match_image(copy.convert("RGB")) is None


def test_blocked_rows_keep_the_key_and_list_but_no_url_or_caption():
    record = Record(url="http://x.test/a.jpg", caption="a red circle", page_url="http://x.test/")
    body = encode(_picture(4), "JPEG")
    row = blocked_record(record, _lists(hashlib.md5(body).hexdigest()).match_bytes(body))
    assert (row.url, row.caption, row.page_url, row.image) == ("", "", "", b"")
    assert row.key == record.key and row.stage == "safety" and row.reason == "hash_blocklist"
    assert row.detail == "list=ncmec.txt kind=md5 distance=0"


def test_a_listed_image_is_blocked_before_the_size_checks():
    tiny = _picture(5, (40, 30))  # too small to keep: the list must still win
    guard = SafetyGuard(SafetyConfig(hash_lists=_lists(f"pdq:{pdq_hex(tiny)}")), (None, None))
    with pytest.raises(Blocked):
        process_image(encode(tiny, "PNG"), ImageConfig(), guard)
    with pytest.raises(ImageRejected, match="too_small"):
        process_image(encode(tiny, "PNG"), ImageConfig(), SafetyGuard(SafetyConfig(), (None, None)))


class _Fixed:
    """A plug-in detector with a fixed answer."""

    def __init__(self, punsafe: float, faces: tuple = ()) -> None:
        self.answer = Detections(punsafe, faces)

    def detect(self, rgb: Image.Image) -> Detections:
        return self.answer


def test_policies_tag_drop_and_off():
    body = encode(_picture(6), "JPEG")
    fixed = _Fixed(0.7)
    tagged = process_image(body, ImageConfig(), SafetyGuard(SafetyConfig(), (fixed, None)))
    assert tagged.safety.punsafe == 0.7
    drop = SafetyConfig(unsafe_policy="drop", unsafe_threshold=0.7)
    with pytest.raises(ImageRejected, match="unsafe"):
        process_image(body, ImageConfig(), SafetyGuard(drop, (fixed, None)))
    kept = process_image(body, ImageConfig(), SafetyGuard(drop, (_Fixed(0.69), None)))
    assert kept.safety.punsafe == 0.69
    off = SafetyConfig(unsafe_policy="off", detect_faces=False, blur_faces=False)
    assert process_image(body, ImageConfig(), SafetyGuard(off)).safety.punsafe is None


def test_faces_are_blurred_in_the_stored_bytes_only_inside_their_boxes():
    body = encode(_picture(7, (320, 240)), "PNG")
    cfg = ImageConfig(encode_format="png")
    box = (100, 60, 80, 80)
    plain = process_image(body, cfg, SafetyGuard(SafetyConfig(blur_faces=False), (None, _Fixed(0, (box,)))))  # fmt: skip
    blurred = process_image(body, cfg, SafetyGuard(SafetyConfig(), (None, _Fixed(0, (box,)))))
    assert plain.safety.faces == blurred.safety.faces == (box,) and blurred.safety.blurred
    a, b = (Image.open(io.BytesIO(p.jpeg)).convert("RGB") for p in (plain, blurred))
    diff = ImageChops.difference(a, b)
    assert diff.crop((100, 60, 180, 140)).getbbox() is not None  # the face changed
    x1, y1, x2, y2 = diff.getbbox()
    assert x1 >= 100 - 12 and y1 >= 60 - 12 and x2 <= 180 + 12 and y2 <= 140 + 12
    assert blurred.sha256 == hashlib.sha256(body).hexdigest()  # sha256 names the original bytes


def test_blur_boxes_clips_boxes_at_the_border():
    img = Image.effect_noise((320, 240), 80).convert("RGB")
    out = blur_boxes(img, ((300, 220, 100, 100), (0, 0, 0, 0)))
    assert out.size == img.size and ImageChops.difference(img, out).getbbox() is not None


def test_nudenet_detector_scores_in_unit_range_deterministically():
    detector = NudeNetDetector()
    img = _picture(9, (300, 200))
    first, second = detector.detect(img), detector.detect(img)
    assert first == second and 0.0 <= first.punsafe <= 1.0
    assert all(w > 0 and h > 0 and x + w <= 300 and y + h <= 200 for x, y, w, h in first.faces)


def test_a_users_onnx_classifier_plugs_in(tmp_path):
    model = OnnxClassifier(mean_brightness_model(str(tmp_path / "bright.onnx")))
    assert model.detect(Image.new("RGB", (50, 40), "white")).punsafe == pytest.approx(1.0)
    assert model.detect(Image.new("RGB", (50, 40), "black")).punsafe == pytest.approx(0.0)
    classes = OnnxClassifier(mean_brightness_model(str(tmp_path / "rgb.onnx"), per_channel=True))
    blue, red, white = (classes.detect(Image.new("RGB", (40, 40), c)).punsafe for c in ("blue", "red", "white"))  # fmt: skip
    assert blue == pytest.approx(1.0) and red == pytest.approx(0.0)  # probabilities: the last
    assert white == pytest.approx(1 / 3)  # (1, 1, 1) are scores, not probabilities: softmax
    cfg = SafetyConfig(unsafe_policy="drop", unsafe_model=str(tmp_path / "bright.onnx"),
                       detect_faces=False, blur_faces=False)  # fmt: skip
    with pytest.raises(ImageRejected, match="unsafe"):
        process_image(encode(Image.new("RGB", (90, 90), "white"), "PNG"), ImageConfig(), SafetyGuard(cfg))  # fmt: skip


def test_config_rejects_bad_policies_and_records_no_hashes():
    with pytest.raises(ValueError):
        SafetyConfig(unsafe_policy="maybe")
    with pytest.raises(ValueError):
        SafetyConfig(unsafe_threshold=1.5)
    recorded = SafetyConfig(hash_lists=_lists("a" * 32)).to_json()
    assert recorded["hash_lists"] == {"ncmec.txt": {"md5": 1, "sha1": 0, "pdq": 0}}
    assert "a" * 32 not in str(recorded)
