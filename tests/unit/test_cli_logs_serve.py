"""``--log-format json`` (every command's logs as JSON lines) and the URLs ``serve`` prints at start."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from laneface.cli.logs import JsonFormatter, configure_logging
from laneface.cli.serve import service_urls


def test_json_formatter_writes_one_object_with_extras() -> None:
    record = logging.LogRecord("laneface.x", logging.ERROR, __file__, 1, "lane %s down", ("L1",), None)
    record.lane = "L1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR" and entry["logger"] == "laneface.x" and entry["message"] == "lane L1 down"
    assert entry["lane"] == "L1" and entry["time"].endswith("+00:00")


def test_configure_logging_json_includes_exceptions() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json", stream=stream, force=True)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("laneface.t").exception("failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "failed" and "ValueError: boom" in entry["exception"]


def test_log_format_json_option_of_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEFACE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "laneface", "-v", "--log-format", "json", "--data-dir", str(tmp_path), "db", "upgrade"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no log lines"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e["logger"] == "laneface.records.migrate" and e["level"] == "INFO" for e in entries)
    env["LANEFACE_LOG_FORMAT"] = "json"
    cmd.remove("--log-format")
    cmd.remove("json")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert all(json.loads(line) for line in result.stderr.splitlines() if line.strip())


def test_serve_prints_its_urls_and_where_keys_come_from(tmp_path: Path) -> None:
    lines = service_urls("127.0.0.1", 8080, docs=False, insecure_dev=True, data_dir=tmp_path)
    text = "\n".join(lines)
    for url in ("http://127.0.0.1:8080/dashboard/", "http://127.0.0.1:8080/metrics", "/openapi.json"):
        assert url in text
    assert "/docs" not in text
    assert str(tmp_path / "dev-api-keys.json") in text
    text = "\n".join(service_urls("0.0.0.0", 9000, docs=True, insecure_dev=False, data_dir=tmp_path))
    assert "http://127.0.0.1:9000/docs" in text and "LANEFACE_SERVICE__" in text
    assert "http://[::1]:81/" in "\n".join(service_urls("::1", 81, docs=False, insecure_dev=False, data_dir=tmp_path))
