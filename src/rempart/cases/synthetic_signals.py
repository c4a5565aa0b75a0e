"""Matches with a synthetic-media signal, counted for `rempart report` (its JSON and page).

Why a module of its own: the counts read each match's found item's stored findings
(`scan_items.synthetic`) and its derivation (from the match's details) through the one domain
function that the scan report, the review queue and the API use (scan/synthetic.py), so a
count and a badge never disagree. Evidence, never a verdict: a match without a signal is "no
signal found", never counted as "real".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rempart.scan.synthetic import match_findings, strong
from rempart.store.models import BankItem, Case, Match, ScanItem


def counts(
    s: Session, case: str | None = None, cases: Collection[str] | None = None
) -> dict[str, Any]:
    """Matches (of one case, of `cases`, or all) with at least one AI signal; matches by
    what their signals indicate (a match counts once per kind); confirmed matches with a
    strong signal (those a notice may state); findings by signal type."""
    q = (
        select(Match.review_status, Match.details, ScanItem.synthetic)
        .join(ScanItem, Match.scan_item_id == ScanItem.id)
        .join(BankItem, Match.bank_item_id == BankItem.id)
        .outerjoin(Case, BankItem.case_id == Case.id)
    )
    if case:
        q = q.where(Case.number == case)
    elif cases is not None:
        q = q.where(Case.number.in_(list(cases)))
    with_signal = confirmed_strong = 0
    by_indicates: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    for status, details, item_synthetic in s.execute(q):
        findings = match_findings(item_synthetic, details)
        if not findings:
            continue
        with_signal += 1
        for indicates in {str(f.get("indicates")) for f in findings}:
            by_indicates[indicates] += 1
        for f in findings:
            by_type[str(f.get("type"))] += 1
        if status == "confirmed" and strong(findings):
            confirmed_strong += 1
    return {
        "matches_with_ai_signal": with_signal,
        "by_indicates": dict(sorted(by_indicates.items())),
        "by_type": dict(sorted(by_type.items())),
        "confirmed_with_strong_signal": confirmed_strong,
    }
