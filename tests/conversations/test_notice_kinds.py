"""Every notice kind core enqueues has words: a renderer registered with
registry.add_notice (a kind without one would fail when due, in production, one by one).
The kinds are read from core's source with ast: `enqueue_notice(kind=...)`, and the
`kind` of the items handed to `enqueue_notices`."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.conversations.notices import NoticeRendering
from bot.conversations.registry import build_registry

CORE = Path(__file__).resolve().parents[2] / "core"
# Written by SQL (core.followups' set-based sweep: INSERT ... SELECT literal(kind)).
BY_SQL = {"followup.due"}


def enqueued_kinds() -> dict[str, str]:
    """kind -> the core module that enqueues it."""
    found: dict[str, str] = {}
    for path in sorted(CORE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        constants = {target.id: node.value.value for node in tree.body
                     if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                     for target in node.targets if isinstance(target, ast.Name)}
        batched = "enqueue_notices(" in source
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "enqueue_notice" or (batched and name == "dict"):
                for keyword in node.keywords:
                    if keyword.arg != "kind":
                        continue
                    value = keyword.value
                    if isinstance(value, ast.Name):
                        value = ast.Constant(constants.get(value.id))
                    if name == "dict" and not isinstance(value, ast.Constant):
                        continue  # core.notices' own batch (item["kind"]), not a kind
                    assert isinstance(value, ast.Constant) and isinstance(value.value, str), (
                        f"{path.name}: a notice kind core cannot name statically: "
                        f"{ast.unparse(keyword.value)}")
                    found[value.value] = path.name
    return found


def test_every_kind_core_enqueues_has_a_renderer() -> None:
    kinds = enqueued_kinds()
    assert len(kinds) >= 25 and "delivery.failed" in kinds and "lead.announce" in kinds
    rendering = NoticeRendering(build_registry())
    missing = {kind: module for kind, module in {**kinds, **dict.fromkeys(BY_SQL, "sql")}
               .items() if kind not in rendering.kinds}
    assert missing == {}


def test_a_batch_loader_is_registered_with_its_renderer() -> None:
    registry = build_registry()
    assert set(registry.notice_prefetch) <= set(registry.notices)
    assert {"followup.due", "followup.meeting"} <= set(registry.notice_prefetch)
