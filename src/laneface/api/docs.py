"""``/docs`` (``service.docs``, off by default): the OpenAPI schema as one self-contained HTML page.

FastAPI's Swagger UI loads its script and style from a public CDN, which an agency's offline network cannot
reach; this page has no script, no style sheet and no link outside the service. The machine-readable schema
stays at ``/openapi.json``.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["docs_page"]

_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em}"
    "h2{border-top:1px solid #ccc;padding-top:.5em}code{background:#f4f4f4}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}"
)


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    return str(schema.get("format") or schema.get("type") or "any")


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    out = [f"<h3><code>{escape(method.upper())} {escape(path)}</code></h3>"]
    if op.get("summary"):
        out.append(f"<p>{escape(str(op['summary']))}</p>")
    params = op.get("parameters", [])
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>values</th><th>description</th></tr>")
        for p in params:
            out.append(
                f"<tr><td><code>{escape(str(p.get('name')))}</code></td><td>{escape(str(p.get('in')))}</td>"
                f"<td>{'yes' if p.get('required') else 'no'}</td><td>{escape(_type(p.get('schema', {})))}</td>"
                f"<td>{escape(str(p.get('description', '')))}</td></tr>"
            )
        out.append("</table>")
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        out.append(f"<p>body <code>{escape(media)}</code>: {escape(_type(content.get('schema', {})))}</p>")
    codes = ", ".join(escape(str(code)) for code in op.get("responses", {}))
    out.append(f"<p>responses: {codes}</p>")
    return "\n".join(out)


def docs_page(schema: dict[str, Any]) -> str:
    """The HTML page of an OpenAPI schema: operations by tag, their parameters (with the allowed values),
    bodies and response codes."""
    info = schema.get("info", {})
    title = escape(str(info.get("title", "API")))
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{escape(str(info.get('summary', '')))}</p>",
        "<p>Machine-readable schema: <a href='openapi.json'>openapi.json</a>. Credentials: header "
        "<code>X-API-Key</code>, or <code>Authorization: Bearer</code> with an OAuth2 token or an API key.</p>",
    ]
    by_tag: dict[str, list[str]] = {}
    for path, ops in schema.get("paths", {}).items():
        for method in _METHODS:
            if method in ops:
                tag = str((ops[method].get("tags") or ["other"])[0])
                by_tag.setdefault(tag, []).append(_operation(method, path, ops[method]))
    for tag, items in by_tag.items():
        parts.append(f"<h2>{escape(tag)}</h2>")
        parts.extend(items)
    parts.append("</body></html>")
    return "\n".join(parts)
