"""Writes docs/sdk-methods.md: every public method of the Python `langsmith.Client` and of the
JS `Client` that calls the API, the endpoints it calls (found in the SDKs' own source, through
the helpers it calls), whether docs/openapi.json has every one of them, and which
end-to-end client scripts (tests/python, tests/js) call it.

Run with the test venv's Python from the repository root, after `scripts/stores install`:
    ~/.cache/ironsmith/venv/bin/python tools/sdk-methods/generate.py
"""

import inspect
import json
import re
import sys
from pathlib import Path

import langsmith
from langsmith import Client

ROOT = Path(__file__).resolve().parents[2]
JS_CLIENT = ROOT / "tests/js/node_modules/langsmith/lib/client.js"
JS_VERSION = json.loads((ROOT / "tests/js/node_modules/langsmith/package.json").read_text())["version"]


def untemplate(text: str) -> str:
    """`${…}` (JS, nested braces allowed) and `{…}` (Python f-strings) become `{}`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("${", i) or text[i] == "{":
            depth, i = 1, i + (2 if text.startswith("${", i) else 1)
            while i < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            out.append("{}")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def normalise(path: str) -> str:
    path = untemplate(path).split("?")[0]
    # A placeholder glued to text (`/sessions${query}`) is a query string, not a segment.
    path = re.sub(r"(?<=[^/])\{\}", "", path)
    path = path.rstrip("/") or "/"
    if path.startswith("/v1/platform/"):
        return "/api" + path
    if path.startswith("/api/"):
        return path
    return "/api/v1" + path


def documented(offered: bool = True) -> list:
    """The document's paths as patterns: a parameter is one segment. `offered`: the paths with an
    operation that can succeed; otherwise the paths whose every operation answers 501 and no
    success (a feature the server says it does not offer)."""
    spec = json.loads((ROOT / "docs/openapi.json").read_text())

    def not_offered(item: dict) -> bool:
        operations = [op.get("responses", {}) for op in item.values() if isinstance(op, dict)]
        return all("501" in codes and not any(c.startswith("2") for c in codes) for codes in operations)

    return [
        re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(p.rstrip("/"))) + "$")
        for p, item in spec["paths"].items()
        if not_offered(item) != offered
    ]


def answered(path: str, known: list) -> bool:
    """Whether some documented route answers `path`; an SDK placeholder may span segments
    (`/commits/{owner/repo}`)."""
    holes = path.count("{}")
    for fill in range(2 ** holes):
        concrete, bit = path, 0
        while "{}" in concrete:
            concrete = concrete.replace("{}", "a/b" if fill >> bit & 1 else "a", 1)
            bit += 1
        if any(pattern.match(concrete) for pattern in known):
            return True
    return False


def longest_literal_paths(source: str) -> list:
    # The hub's directory routes are built from the API URL by a helper.
    source = source.replace("{platform_hub_path(self.api_url)}", "/v1/platform/hub/repos")
    found = []
    for match in re.finditer(r"""f?["'](/(?:v1/platform/|api/v2/)?[a-z][a-zA-Z0-9_\-/{}.]*)["'?]""", source):
        text = match.group(1)
        if text.startswith(("/tmp", "/dev", "/usr")) or text.rstrip("/") in ("/v1", "/api"):
            continue
        # Share links the SDK builds for people (`…/public/{token}/r`, `/d`), not API calls.
        if re.fullmatch(r"/public/\{[^}]*\}/[rd]", text):
            continue
        found.append(text)
    return found


def python_methods() -> dict:
    members = dict(inspect.getmembers(Client, inspect.isfunction))
    direct, calls = {}, {}
    for name, fn in members.items():
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        direct[name] = {normalise(p) for p in longest_literal_paths(source)}
        calls[name] = set(re.findall(r"self\.([a-zA-Z_][a-zA-Z0-9_]*)\(", source)) & members.keys()
    return {
        name: closure(name, direct, calls)
        for name in members
        if not name.startswith("_") and name in direct
    }


def js_methods() -> dict:
    text = JS_CLIENT.read_text()
    heads = list(re.finditer(r"^    (?:async \*?|\*)?([a-zA-Z_][a-zA-Z0-9_]*)\([^)]*\) \{$", text, re.M))
    direct, calls = {}, {}
    for i, head in enumerate(heads):
        name = head.group(1)
        body = text[head.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        paths = set()
        for m in re.finditer(r"`\$\{this\.apiUrl\}(/(?:[^`$]|\$\{(?:[^{}]|\{[^{}]*\})*\})*)`", body):
            paths.add(m.group(1))
        for m in re.finditer(r"_getPlatformEndpointPath\(`([^`]*)`\)", body):
            paths.add("/v1/platform/" + m.group(1))
        for m in re.finditer(r"""this\._(?:get|getPaginated|getCursorPaginatedList|post|patch|delete)\([`"'](/[^`"'?]*)""", body):
            paths.add(m.group(1))
        direct.setdefault(name, set()).update(normalise(p) for p in paths)
        calls.setdefault(name, set()).update(re.findall(r"this\.([a-zA-Z_][a-zA-Z0-9_]*)\(", body))
    for name in calls:
        calls[name] &= direct.keys()
    return {
        name: closure(name, direct, calls)
        for name in direct
        if not name.startswith("_") and name != "constructor"
    }


def closure(name: str, direct: dict, calls: dict) -> set:
    seen, stack, paths = set(), [name], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        paths |= direct.get(current, set())
        stack.extend(calls.get(current, ()))
    return paths


def callers(directory: str, suffix: str, name: str) -> list:
    pattern = re.compile(r"\." + re.escape(name) + r"\(")
    return sorted(
        p.name for p in (ROOT / directory).glob(f"*{suffix}") if pattern.search(p.read_text())
    )


def table(methods: dict, known: set, refused: list, directory: str, suffix: str) -> list:
    rows = ["| Method | Endpoints | Status | Driven by |", "|---|---|---|---|"]
    counts = {"yes": 0, "partly": 0, "no": 0}
    for name in sorted(methods):
        paths = methods[name]
        if not paths:
            continue
        missing = sorted(p for p in paths if not answered(p, known))
        status = "yes" if not missing else ("no" if len(missing) == len(paths) else "partly")
        counts[status] += 1
        shown = ", ".join(f"`{p}`" for p in sorted(paths))
        not_offered = [p for p in missing if answered(p, refused)]
        gaps = [p for p in missing if p not in not_offered]
        note = status + "".join(
            f"{': ' if i == 0 else '; '}{label} " + ", ".join(f"`{p}`" for p in group)
            for i, (label, group) in enumerate(
                [(label, group) for label, group in [("missing", gaps), ("not offered (501)", not_offered)] if group]
            )
        )
        tests = ", ".join(f"`{t}`" for t in callers(directory, suffix, name)) or "—"
        rows.append(f"| `{name}` | {shown} | {note} | {tests} |")
    rows.append("")
    rows.append(
        f"{counts['yes']} methods answered in full, {counts['partly']} in part, "
        f"{counts['no']} not yet."
    )
    return rows


def main() -> None:
    known = documented()
    refused = documented(offered=False)
    out = [
        "# SDK methods",
        "",
        "Generated by `tools/sdk-methods/generate.py` from the SDKs' own source: every public",
        "method of the Python `langsmith.Client` "
        f"({langsmith.__version__}) and of the JS `Client` ({JS_VERSION}) that calls the API, the",
        "endpoints it calls (through the helpers it uses; `{}` is a path parameter), whether",
        "`docs/openapi.json` has every one (**yes**), some (**partly**) or none (**no**), and",
        "which end-to-end client scripts call it (`tests/python/*.py`, `tests/js/*.mjs`, run by",
        "the Rust tests in `tests/e2e/`). An endpoint Ironsmith does not have answers 404 with a",
        '`{"detail": …}` body, which the SDKs raise as their not-found error; one it does not offer',
        "(a feature that needs a hosted service) answers 501 with the reason. The endpoint table",
        "in [sdk-compatibility.md](sdk-compatibility.md) says which issue adds what is missing.",
        "",
        "## Python `Client`",
        "",
        *table(python_methods(), known, refused, "tests/python", ".py"),
        "",
        "## JS `Client`",
        "",
        *table(js_methods(), known, refused, "tests/js", ".mjs"),
        "",
    ]
    (ROOT / "docs/sdk-methods.md").write_text("\n".join(out))
    print("wrote docs/sdk-methods.md", file=sys.stderr)


if __name__ == "__main__":
    main()
