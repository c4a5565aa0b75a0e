"""C2PA Content Credentials: what a file's signed manifest store says about AI.

Why c2pa-python (the reference c2pa-rs library): validating a manifest means COSE
signatures, certificate chains, hashed JUMBF boxes and asset hash bindings; a partial
re-implementation would report forged claims as valid. We read its JSON report and keep:

- the validation state and failure codes (a tampered manifest is `provenance-invalid`, with
  the codes, e.g. claimSignature.mismatch, assertion.dataHash.mismatch);
- the active manifest (what the last signer claims about THIS file) told apart from its
  ingredients (what earlier manifests claimed about the material it was made from);
- each c2pa.actions action's IPTC digitalSourceType, mapped exactly (base.py);
- the signer (certificate subject and issuer), the claim generator and the signing time.

Never a network call: OCSP and remote manifests are off in the reader's settings (a test
runs the reader with sockets blocked). Trust: anchors come only from the lists trust.py
names (the vendored C2PA trust list, the organisation's own, or REMPART_C2PA_TRUST); a
signer not chaining to one is reported as not trusted.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from rempart.signals.synthetic import trust
from rempart.signals.synthetic.base import (
    Finding,
    Indicates,
    Limits,
    Unreadable,
    source_type_indicates,
    source_type_term,
)

TRUST_ENV = trust.TRUST_ENV
VENDORED_TRUST = trust.VENDORED_TRUST

_MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmff": "video/mp4",
}
_UNTRUSTED = "signingCredential.untrusted"
_RANK: dict[Indicates, int] = {"ai-generated": 2, "ai-modified": 1, "provenance-invalid": 0}


def load_trust(source: Path | None = None) -> tuple[str, list[str]]:
    """The trust anchors (PEM text) and the labels of the lists they came from (trust.py:
    `source` or REMPART_C2PA_TRUST alone, else the vendored lists and the organisation's).
    A listed file whose digest differs is refused (SetupError)."""
    return trust.load_anchors(trust.configured_lists(source))


def reader_settings(trust_pem: str, limits: Limits) -> dict[str, Any]:
    """The c2pa reader's settings: nothing fetched (no OCSP, no remote manifest), trust
    checked against the given anchors only, the manifest size bounded."""
    settings: dict[str, Any] = {
        "verify": {
            "verify_trust": True,
            "ocsp_fetch": False,
            "remote_manifest_fetch": False,
        },
        "core": {
            "allowed_network_hosts": [],
            "max_decompressed_manifest_size_in_mb": max(1, limits.max_manifest_bytes >> 20),
        },
    }
    if trust_pem.strip():
        settings["trust"] = {"trust_anchors": trust_pem}
    return settings


@lru_cache(maxsize=4)
def _context(trust_key: str, limits: Limits) -> tuple[Any, tuple[str, ...]]:
    import c2pa

    del trust_key  # the cache key only: it changes when the lists in effect may have
    pem, names = load_trust()
    return c2pa.Context.from_dict(reader_settings(pem, limits)), tuple(names)


def read_store(
    path: Path, kind: str, limits: Limits
) -> tuple[dict[str, Any], str, tuple[str, ...]] | None:
    """The manifest store's JSON report, the validation state and the trust lists used;
    None when the file carries no manifest (or is a format C2PA does not cover)."""
    import c2pa

    mime = _MIME.get(kind)
    if mime is None:
        return None
    context, names = _context(trust.cache_key(), limits)
    try:
        with path.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, context)
            if reader is None:
                return None
            with reader:
                text = reader.json()
                state = reader.get_validation_state() or "unknown"
    except c2pa.C2paError.NotSupported:
        return None
    except c2pa.C2paError as exc:
        raise Unreadable(f"C2PA manifest unreadable: {str(exc)[:200]}") from exc
    if len(text) > limits.max_manifest_bytes:
        raise Unreadable(f"C2PA manifest report larger than {limits.max_manifest_bytes} bytes")
    try:
        store = json.loads(text)
    except ValueError as exc:
        raise Unreadable(f"C2PA manifest report not JSON: {exc}") from exc
    if not isinstance(store, dict):
        raise Unreadable("C2PA manifest report not an object")
    return store, state, names


def _agent(action: dict[str, Any]) -> str | None:
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):
        agent = agent.get("name")
    return str(agent) if agent else None


def ai_actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's c2pa.actions (v1 and v2) whose digitalSourceType names a trained model:
    action, IPTC term, what it indicates, software agent."""
    found: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        for action in actions if isinstance(actions, list) else []:
            if not isinstance(action, dict):
                continue
            source = action.get("digitalSourceType")
            indicates = source_type_indicates(source)
            if indicates is None:
                continue
            item = {
                "action": str(action.get("action", "")),
                "digital_source_type": source_type_term(source),
                "indicates": indicates,
            }
            agent = _agent(action)
            if agent:
                item["software_agent"] = agent
            found.append(item)
    return found


def _signer(manifest: dict[str, Any]) -> dict[str, Any]:
    info = manifest.get("signature_info")
    info = info if isinstance(info, dict) else {}
    return {
        "signer": {"subject": info.get("common_name"), "issuer": info.get("issuer")},
        "claim_generator": manifest.get("claim_generator")
        or ", ".join(
            str(g.get("name", ""))
            for g in manifest.get("claim_generator_info") or []
            if isinstance(g, dict)
        )
        or None,
        "signed_at": info.get("time"),
    }


def _codes(results: object, key: str) -> list[str]:
    block = results.get(key) if isinstance(results, dict) else None
    failures = block.get("failure") if isinstance(block, dict) else None
    return [str(f.get("code")) for f in failures or [] if isinstance(f, dict) and f.get("code")]


def failure_codes(store: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The active manifest's failure codes and its ingredients' (untrusted signer excluded:
    it is reported as signer_trusted, it says nothing of tampering)."""
    results = store.get("validation_results")
    active = _codes(results, "activeManifest")
    ingredients: list[str] = []
    deltas = results.get("ingredientDeltas") if isinstance(results, dict) else None
    for delta in deltas if isinstance(deltas, list) else []:
        if isinstance(delta, dict):
            ingredients += _codes({"deltas": delta.get("validationDeltas")}, "deltas")
    if not results:  # older report form: one flat list
        for status in store.get("validation_status") or []:
            if isinstance(status, dict) and status.get("code"):
                active.append(str(status["code"]))
    keep = [c for c in dict.fromkeys(active) if c != _UNTRUSTED]
    return keep, [c for c in dict.fromkeys(ingredients) if c != _UNTRUSTED]


def detect(path: Path, kind: str, limits: Limits) -> list[Finding]:
    """The C2PA findings of one file: provenance-invalid when the active manifest does not
    validate; the strongest AI claim of the active manifest, with its ingredients' AI claims
    as ingredient evidence; an ingredient's AI claim alone when the active manifest makes
    none (weaker: the last signer did not repeat it)."""
    read = read_store(path, kind, limits)
    if read is None:
        return []
    store, state, trust_lists = read
    manifests = store.get("manifests")
    manifests = manifests if isinstance(manifests, dict) else {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) if isinstance(active_label, str) else None
    codes, ingredient_codes = failure_codes(store)
    trusted = state.lower() == "trusted"
    common = {
        "validation_state": state,
        "signer_trusted": trusted,
        "trust_list": ", ".join(trust_lists) if trust_lists else "none configured",
    }
    findings: list[Finding] = []
    if state.lower() == "invalid" or (codes and not isinstance(active, dict)):
        findings.append(
            Finding(
                "c2pa",
                "provenance-invalid",
                "strong",
                {
                    **common,
                    "manifest": "active",
                    "label": active_label,
                    "failure_codes": codes or ingredient_codes or ["unknown"],
                    "ingredient_failure_codes": ingredient_codes,
                    **(_signer(active) if isinstance(active, dict) else {}),
                },
            )
        )
    ingredient_claims: list[dict[str, Any]] = []
    for label, manifest in manifests.items():
        if label == active_label or not isinstance(manifest, dict):
            continue
        actions = ai_actions(manifest)
        if actions:
            ingredient_claims.append({"label": label, **_signer(manifest), "actions": actions})
    valid = state.lower() in ("valid", "trusted")
    if isinstance(active, dict):
        actions = ai_actions(active)
        if actions:
            indicates = max((a["indicates"] for a in actions), key=lambda i: _RANK[i])
            evidence: dict[str, Any] = {
                **common,
                "manifest": "active",
                "label": active_label,
                **_signer(active),
                "actions": actions,
            }
            if ingredient_claims:
                evidence["ingredients"] = ingredient_claims
            if ingredient_codes:
                evidence["ingredient_failure_codes"] = ingredient_codes
            findings.append(Finding("c2pa", indicates, "strong" if valid else "weak", evidence))
            return findings
    for claim in ingredient_claims:
        indicates = max((a["indicates"] for a in claim["actions"]), key=lambda i: _RANK[i])
        findings.append(
            Finding(
                "c2pa",
                indicates,
                "weak",
                {**common, "manifest": "ingredient", **claim},
            )
        )
    return findings
