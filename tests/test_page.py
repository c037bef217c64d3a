"""The gate explorer page over Flask's test client: HTML, static files, headers and keys."""

import re
from pathlib import Path

import pytest

from service import ServiceConfig, create_app
from service.routes.page import CSP, asset_version

SERVICE = Path(__file__).resolve().parents[1] / "service"
STATIC = SERVICE / "static"
TEMPLATE = SERVICE / "templates" / "index.html"
KEY = "page-test-key-0123456789"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# XML namespace names look like URLs but are never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg"}


def static_files() -> list[Path]:
    """Every file the page can load."""
    return sorted(p for p in STATIC.rglob("*") if p.is_file())


def test_page_links_its_versioned_script_and_style(client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    version = asset_version(str(STATIC))
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    assert f'<script type="module" src="/static/js/app.js?v={version}"></script>' in html
    assert f'<link rel="stylesheet" href="/static/css/explorer.css?v={version}">' in html
    assert f'href="/static/favicon.svg?v={version}"' in html
    assert 'data-models-url="/models"' in html and 'data-forecast-url="/forecast"' in html
    assert 'data-auth="none"' in html and 'id="key-field" hidden' in html
    assert '<form id="forecast-form"' in html and 'id="results"' in html


def test_page_headers_csp_and_revalidation(client) -> None:
    r = client.get("/")
    assert r.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "style-src 'self'" in CSP and "default-src 'none'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_page_has_no_inline_script_style_or_handlers() -> None:
    html = TEMPLATE.read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 and 'src="' in scripts[0][0] and scripts[0][1].strip() == ""
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html)


@pytest.mark.parametrize("path", static_files(), ids=lambda p: p.relative_to(STATIC).as_posix())
def test_static_file_is_served_with_its_type_and_etag(client, path: Path) -> None:
    url = f"/static/{path.relative_to(STATIC).as_posix()}"
    r = client.get(url)
    assert r.status_code == 200
    assert r.mimetype == TYPES[path.suffix]
    assert r.get_data() == path.read_bytes()
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-cache" in r.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_missing_static_file_is_a_json_404(client) -> None:
    r = client.get("/static/js/nope.js")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_no_static_file_names_another_host() -> None:
    found = {}
    for path in [*static_files(), TEMPLATE]:
        urls = set(re.findall(r"https?://[^\s\"'`<>)]+", path.read_text())) - NAMESPACES
        if urls:
            found[path.name] = urls
    assert found == {}


def test_module_imports_resolve_and_files_stay_small() -> None:
    scripts = sorted((STATIC / "js").glob("*.js"))
    assert {p.name for p in scripts} >= {"app.js", "api.js", "csv.js", "charts.js", "heatmap.js"}
    for path in scripts:
        text = path.read_text()
        for target in re.findall(r'^import .* from "(\./[^"]+)";$', text, re.M):
            assert (path.parent / target).is_file(), f"{path.name} imports {target}"
        assert "eval(" not in text and "innerHTML" not in text, path.name
    for path in [*scripts, *(STATIC / "css").glob("*.css")]:
        assert len(path.read_text().splitlines()) <= 300, path.name


def test_asset_version_follows_the_content(tmp_path: Path) -> None:
    version = asset_version.__wrapped__  # uncached
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n")
    first = version(str(tmp_path))
    assert version(str(tmp_path)) == first
    (tmp_path / "js" / "a.js").write_text("export const a = 2;\n")
    assert version(str(tmp_path)) != first


def test_with_keys_the_page_is_open_and_the_api_is_not(model_dir: Path) -> None:
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, api_keys=(KEY,))
    app = create_app(cfg)
    try:
        client = app.test_client()
        page = client.get("/")
        assert page.status_code == 200 and 'data-auth="required"' in page.get_data(as_text=True)
        for path in ("/static/js/app.js", "/static/css/explorer.css", "/static/favicon.svg"):
            assert client.get(path).status_code == 200, path
        body = {"model": "tiny", "sequence": [1.0, 2.0]}
        refused = [client.post("/forecast", json=body), client.get("/models")]
        for r in refused:
            assert r.status_code == 401
            assert r.get_json()["error"]["message"] == "missing or invalid API key"
        auth = {"Authorization": f"Bearer {KEY}"}
        assert client.post("/forecast", json=body, headers=auth).status_code == 200
        assert client.get("/models", headers=auth).status_code == 200
    finally:
        app.extensions["gatecast"].registry.close()
