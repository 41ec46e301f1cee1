"""What the local API server answers for the dashboard's paths (``twinledger.local.api_server.dashboard_answer``)."""

from __future__ import annotations

import json
from pathlib import Path

from twinledger.local.api_server import dashboard_answer, dashboard_url


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>t</title>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (dist / "assets" / "index-abc.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("not served")
    return dist


def test_the_pages_assets_and_config_are_served_with_their_types(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    config = {"rpc_url": "http://127.0.0.1:8545", "anchor_registry": "0x" + "ab" * 20}
    status, headers, body = dashboard_answer("/dashboard/", dist, config)  # type: ignore[misc]
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8") and b"<title>" in body
    assert "connect-src 'self' http://127.0.0.1:8545" in headers["Content-Security-Policy"]
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    answer = dashboard_answer("/dashboard/assets/index-abc.js?v=1", dist, config)
    assert answer is not None and answer[1]["Content-Type"] == "text/javascript; charset=utf-8"
    assert "immutable" in answer[1]["Cache-Control"]
    css = dashboard_answer("/dashboard/assets/index-abc.css", dist, config)
    assert css is not None and css[1]["Content-Type"] == "text/css; charset=utf-8"
    served = dashboard_answer("/dashboard/config.json", dist, config)
    assert served is not None and json.loads(served[2]) == config and "token" not in served[2].decode()


def test_api_paths_are_not_the_dashboards_and_the_root_redirects(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    for path in ("/machines", "/openapi.json", "/dashboards", "/fleet?at=x"):
        assert dashboard_answer(path, dist, {}) is None, path
    for path in ("/", "/dashboard", "/?x=1"):
        answer = dashboard_answer(path, dist, {})
        assert answer is not None and answer[0] == 302 and answer[1]["Location"] == "/dashboard/"


def test_nothing_outside_the_build_is_served(tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    for path in ("/dashboard/../secret.txt", "/dashboard/assets/../../secret.txt", "/dashboard/%2e%2e/secret.txt",
                 "/dashboard/nope.js", "/dashboard//etc/passwd"):  # fmt: skip
        answer = dashboard_answer(path, dist, {})
        assert answer is not None and answer[0] == 404 and b"not served" not in answer[2], path


def test_a_missing_build_says_how_to_make_it(tmp_path: Path) -> None:
    answer = dashboard_answer("/dashboard/", tmp_path / "missing", {})
    assert answer is not None and answer[0] == 404 and b"npm run build --prefix dashboard" in answer[2]


def test_the_printed_url_carries_the_token_in_the_fragment_only() -> None:
    url = dashboard_url("http://127.0.0.1:8000", "a.b.c")
    assert url == "http://127.0.0.1:8000/dashboard/#token=a.b.c"
    assert "token" not in url.split("#", 1)[0]
