"""Reading PostgreSQL's JSON plans (`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`) for the staff search
benchmark's report: a one-line summary and a compact tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def node_label(node: dict[str, Any]) -> str:
    label = node["Node Type"]
    if node.get("Index Name"):
        label += f" {node['Index Name']}"
    elif node.get("Relation Name"):
        label += f" {node['Relation Name']}"
    if node.get("Strategy") and node["Node Type"] == "Aggregate":
        label = f"{node['Strategy'].capitalize()} Aggregate"
    if node.get("Sort Method"):
        label += f" ({node['Sort Method']})"
    if node.get("Subplan Name"):  # an InitPlan such as the ARRAY(SELECT …) of the proposed kana search
        label = f"[{node['Subplan Name']}] {label}"
    return label


def plan_summary(plan: dict[str, Any]) -> dict[str, str]:
    root = plan["Plan"]
    spine = []
    node = root
    while True:  # the top of the plan, down to the first join or scan
        spine.append(node_label(node))
        children = node.get("Plans", [])
        if len(children) != 1 or "Join" in node["Node Type"] or node["Node Type"] == "Nested Loop":
            break
        node = children[0]
    nodes = list(walk(root))
    indexes = sorted({f"{n['Index Name']} ({n['Node Type'].lower()})" for n in nodes if n.get("Index Name")})
    seq = sorted(
        {
            f"{n['Relation Name']} ({n['Actual Rows'] * n['Actual Loops']:,} rows)"
            for n in nodes
            if n["Node Type"] == "Seq Scan"
        }
    )
    jit = plan.get("JIT", {}).get("Timing", {}).get("Total")
    return {
        "top": " → ".join(spine),
        "indexes": ", ".join(indexes) or "none",
        "seq": ", ".join(seq) or "none",
        "time": f"{plan['Planning Time']:.1f} ms planning, {plan['Execution Time']:.1f} ms execution"
        + (f" (JIT {jit:.0f} ms)" if jit else ""),
        "buffers": f"{root.get('Shared Hit Blocks', 0):,} hit, {root.get('Shared Read Blocks', 0):,} read",
        "workers": str(max((n.get("Workers Launched", 0) for n in nodes), default=0)),
    }


def plan_tree(node: dict[str, Any], depth: int = 0) -> Iterator[str]:
    """One line per plan node: what it is, the rows it returned (× loops) against the planner's estimate,
    and its time, inclusive."""
    rows, loops = node.get("Actual Rows", 0), node.get("Actual Loops", 1)
    detail = f"{rows:,} rows (est. {node.get('Plan Rows', 0):,})" + (
        f" × {loops:,} loops" if loops > 1 else ""
    )
    yield f"{'  ' * depth}{node_label(node)}: {detail}, {node.get('Actual Total Time', 0):.1f} ms"
    for child in node.get("Plans", []):
        yield from plan_tree(child, depth + 1)
