import glob
import hashlib
import json
import os

import urllib3

from pipeline.sampleweb import SampleWebConfig, generate


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(glob.glob(f"{root}/**/*", recursive=True)):
        if os.path.isdir(path):
            continue
        h.update(path[len(root) :].encode())
        h.update(open(path, "rb").read())
    return h.hexdigest()


def test_generation_is_deterministic_by_seed(tmp_path):
    cfg = SampleWebConfig(seed=3, pages=4, eval_images=4, planted_copies=2)
    a, b = generate(str(tmp_path / "a"), cfg), generate(str(tmp_path / "b"), cfg)
    c = generate(
        str(tmp_path / "c"), SampleWebConfig(seed=4, pages=4, eval_images=4, planted_copies=2)
    )
    assert _digest(a) == _digest(b) != _digest(c)


def test_eval_set_and_ground_truth(small_web):
    labels = open(f"{small_web}/evalset/labels.tsv").read().splitlines()
    assert labels[0] == "id\tfile\tlabel" and len(labels) == 9
    truth = [json.loads(line) for line in open(f"{small_web}/evalset/ground_truth.jsonl")]
    assert len(truth) == 4 and {t["transform"] for t in truth} == {
        "resize",
        "reencode",
        "crop",
        "flip",
    }


def test_server_routes_by_host_and_special_routes(web_server, small_web):
    http = urllib3.PoolManager()
    base = f"http://127.0.0.1:{web_server.port}"
    page = http.request("GET", base + "/pages/0000.html", headers={"Host": "www.sample.test"})
    assert page.status == 200 and b"<img" in page.data
    assert (
        http.request("GET", base + "/pages/0000.html", headers={"Host": "cdn.sample.test"}).status
        == 404
    )
    routes = json.load(open(f"{small_web}/routes.json"))
    status_route = next(k for k, v in routes.items() if v.get("status") == 500)
    host, _, path = status_route.partition("/")
    assert (
        http.request("GET", f"{base}/{path}", headers={"Host": host}, retries=False).status == 500
    )
