"""The rooms intelligence report for people: an HTML page readable offline (no script, no
CDN, every outside string escaped: chat names, sender names and captions are hostile
input), PNG charts and a network picture of the links between rooms, and report.json; in
English, French and Korean.

Why apart from rooms_report.py: the figures are computed once (rooms_report.collect), and
the command line writes them to a folder while the web UI shows the same body inside its
own page (charts as data: URLs, no inline style: its CSP allows neither script nor style
from the page). Charts use the Okabe-Ito palette (told apart with colour-blindness) and
show room numbers (#3), never names: a name is shown only as escaped text.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from rempart.cases.stats import _hangul_fonts

LANGUAGES = ("en", "fr", "ko")
# Okabe & Ito's palette (colour-blind safe), black last
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
LINK_COLOURS = {
    "renamed": "#0072B2",
    "re-exported": "#56B4E9",
    "re-created": "#D55E00",
    "same-name": "#F0E442",
    "forwarded": "#CC79A7",
    "shared-media": "#E69F00",
    "shared-members": "#009E73",
    "shared-bots": "#000000",
}
TOP_ROOMS = 8  # rooms drawn one by one in the activity chart (the rest: "other")
MAX_ROWS = 200  # rows of a long table in the HTML (report.json has them all)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Rooms intelligence report",
        "generated": "Generated {at} by {generator}. Scope: {scope}.",
        "scope_all": "all cases",
        "scope_org": "your organisation's cases",
        "not_found": "Rooms named but not found: {names}",
        "summary": "Summary",
        "rooms": "Rooms",
        "messages": "Messages",
        "media": "Media",
        "matched_media": "Media matching banked cases",
        "cases_targeted": "Cases (people) targeted",
        "face_matches": "Face matches",
        "members": "Members seen",
        "bots": "Bots used",
        "links": "Links between rooms",
        "banked_seen": "Banked photos seen",
        "room": "Room",
        "names": "Names",
        "chat_id": "Chat id",
        "dates": "First - last message",
        "synthetic": "Synthetic-media signals",
        "export": "Export",
        "activity": "Activity per day (media)",
        "activity_room": "Activity per day",
        "day": "Day",
        "media_vs_matched": "Media and matches per room",
        "network": "Network of rooms",
        "network_note": "Each circle is a room (its number); each line a link, coloured by kind.",
        "kinds": "Kinds",
        "strength": "Strength",
        "evidence": "Evidence",
        "spread": "How banked photos spread",
        "spread_chart": "Sightings of banked photos over time",
        "entry": "Bank entry",
        "case": "Case",
        "first_seen": "First seen",
        "then": "Then seen in",
        "sender": "Sender",
        "forwarded_from": "Forwarded from",
        "bot": "Bot",
        "none": "none",
        "no_signal": "no signal yet",
        "no_rooms": "No Telegram room in the scans in this scope yet: scan an export first.",
        "more_rows": "{n} more in report.json.",
        "footer": "Counts, names, ids and dates only: this report holds no picture of anyone.",
        "kind.renamed": "renamed (same chat id)",
        "kind.re-exported": "exported again (same chat id)",
        "kind.re-created": "re-created (same name, new chat id)",
        "kind.same-name": "same name (the export gives no chat id)",
        "kind.forwarded": "forwarded media",
        "kind.shared-media": "shared media",
        "kind.shared-members": "shared members",
        "kind.shared-bots": "shared bots",
        "other": "other",
    },
    "fr": {
        "title": "Rapport de renseignement sur les salons",
        "generated": "Produit le {at} par {generator}. Périmètre : {scope}.",
        "scope_all": "tous les dossiers",
        "scope_org": "les dossiers de votre organisation",
        "not_found": "Salons demandés mais introuvables : {names}",
        "summary": "Résumé",
        "rooms": "Salons",
        "messages": "Messages",
        "media": "Médias",
        "matched_media": "Médias correspondant à des dossiers",
        "cases_targeted": "Dossiers (personnes) visés",
        "face_matches": "Correspondances de visage",
        "members": "Membres vus",
        "bots": "Bots utilisés",
        "links": "Liens entre salons",
        "banked_seen": "Photos enregistrées retrouvées",
        "room": "Salon",
        "names": "Noms",
        "chat_id": "Identifiant du salon",
        "dates": "Premier - dernier message",
        "synthetic": "Signaux de média synthétique",
        "export": "Export",
        "activity": "Activité par jour (médias)",
        "activity_room": "Activité par jour",
        "day": "Jour",
        "media_vs_matched": "Médias et correspondances par salon",
        "network": "Réseau des salons",
        "network_note": "Chaque cercle est un salon (son numéro) ; chaque trait un lien, coloré "
        "selon son type.",
        "kinds": "Types",
        "strength": "Force",
        "evidence": "Éléments",
        "spread": "Diffusion des photos enregistrées",
        "spread_chart": "Apparitions des photos enregistrées dans le temps",
        "entry": "Entrée de la banque",
        "case": "Dossier",
        "first_seen": "Vue pour la première fois",
        "then": "Puis vue dans",
        "sender": "Expéditeur",
        "forwarded_from": "Transféré de",
        "bot": "Bot",
        "none": "aucun",
        "no_signal": "pas encore de signal",
        "no_rooms": "Aucun salon Telegram dans les analyses de ce périmètre : analysez d'abord "
        "un export.",
        "more_rows": "{n} de plus dans report.json.",
        "footer": "Des nombres, des noms, des identifiants et des dates seulement : ce rapport "
        "ne contient l'image de personne.",
        "kind.renamed": "renommé (même identifiant)",
        "kind.re-exported": "exporté à nouveau (même identifiant)",
        "kind.re-created": "recréé (même nom, nouvel identifiant)",
        "kind.same-name": "même nom (l'export ne donne pas d'identifiant)",
        "kind.forwarded": "médias transférés",
        "kind.shared-media": "médias en commun",
        "kind.shared-members": "membres en commun",
        "kind.shared-bots": "bots en commun",
        "other": "autres",
    },
    "ko": {
        "title": "대화방 정보 보고서",
        "generated": "{at}에 {generator}(으)로 생성. 범위: {scope}.",
        "scope_all": "모든 사건",
        "scope_org": "소속 기관의 사건",
        "not_found": "찾을 수 없는 대화방: {names}",
        "summary": "요약",
        "rooms": "대화방",
        "messages": "메시지",
        "media": "미디어",
        "matched_media": "등록된 사건과 일치한 미디어",
        "cases_targeted": "피해 사건(사람) 수",
        "face_matches": "얼굴 일치",
        "members": "확인된 참여자",
        "bots": "사용된 봇",
        "links": "대화방 간 연결",
        "banked_seen": "발견된 등록 사진",
        "room": "대화방",
        "names": "이름",
        "chat_id": "채팅 ID",
        "dates": "첫 메시지 - 마지막 메시지",
        "synthetic": "합성 미디어 신호",
        "export": "내보내기",
        "activity": "일별 활동 (미디어)",
        "activity_room": "일별 활동",
        "day": "날짜",
        "media_vs_matched": "대화방별 미디어와 일치",
        "network": "대화방 네트워크",
        "network_note": "원 하나가 대화방 하나(번호)이며, 선은 연결을 종류별 색으로 나타냅니다.",
        "kinds": "종류",
        "strength": "강도",
        "evidence": "근거",
        "spread": "등록 사진의 확산",
        "spread_chart": "시간에 따른 등록 사진 발견",
        "entry": "뱅크 항목",
        "case": "사건",
        "first_seen": "최초 발견",
        "then": "이후 발견된 대화방",
        "sender": "보낸 사람",
        "forwarded_from": "전달 출처",
        "bot": "봇",
        "none": "없음",
        "no_signal": "아직 신호 없음",
        "no_rooms": "이 범위의 스캔에 텔레그램 대화방이 없습니다. 먼저 내보내기를 스캔하세요.",
        "more_rows": "나머지 {n}개는 report.json에 있습니다.",
        "footer": "숫자, 이름, ID, 날짜만 담았습니다. 이 보고서에는 누구의 사진도 없습니다.",
        "kind.renamed": "이름 변경 (같은 채팅 ID)",
        "kind.re-exported": "다시 내보냄 (같은 채팅 ID)",
        "kind.re-created": "재생성 (같은 이름, 새 채팅 ID)",
        "kind.same-name": "같은 이름 (내보내기에 채팅 ID 없음)",
        "kind.forwarded": "전달된 미디어",
        "kind.shared-media": "공유된 미디어",
        "kind.shared-members": "공통 참여자",
        "kind.shared-bots": "공통 봇",
        "other": "기타",
    },
}


def words(lang: str) -> dict[str, str]:
    """The report's words in `lang` (English for an unknown language or a missing word)."""
    return {**WORDS["en"], **WORDS.get(lang, {})}


# ---- charts ------------------------------------------------------------------------------


def charts(report: dict[str, Any], out: Path, lang: str = "en") -> dict[str, Path]:
    """The PNG charts (activity, media and matches, network, spread) in `out`; only those
    with something to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ticker import MaxNLocator

    w = words(lang)
    plt.rcParams["font.family"] = ["DejaVu Sans", *_hangul_fonts(font_manager)]
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    rooms = report["rooms"]
    if not rooms:
        return files

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        files[name] = out / f"{name}.png"
        fig.savefig(files[name], dpi=90)
        plt.close(fig)

    days = sorted({d["day"] for r in rooms for d in r["timeline"]})
    if days:
        top = sorted(rooms, key=lambda r: (-r["media"], r["number"]))[:TOP_ROOMS]
        top_numbers = {r["number"] for r in top}
        fig, ax = plt.subplots(figsize=(8, 3.2))
        x = list(range(len(days)))
        for i, r in enumerate(sorted(top, key=lambda r: r["number"])):
            per = {d["day"]: d["media"] for d in r["timeline"]}
            ax.plot(
                x,
                [per.get(d, 0) for d in days],
                marker="o",
                markersize=3,
                color=PALETTE[i % len(PALETTE)],
                label=f"#{r['number']}",
            )
        rest = [r for r in rooms if r["number"] not in top_numbers]
        if rest:
            other: dict[str, int] = {}
            for r in rest:
                for d in r["timeline"]:
                    other[d["day"]] = other.get(d["day"], 0) + d["media"]
            ax.plot(x, [other.get(d, 0) for d in days], color="#999999", linestyle="--")
            ax.lines[-1].set_label(w["other"])
        step = max(1, len(days) // 8)
        ax.set_xticks(x[::step], days[::step], rotation=30, ha="right", fontsize=7)
        ax.set_title(w["activity"])
        ax.set_ylabel(w["media"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, ncol=3)
        save(fig, "activity")

    shown = sorted(rooms, key=lambda r: r["number"])[:40]
    fig, ax = plt.subplots(figsize=(8, max(2.4, 0.9 + 0.25 * len(shown))))
    y = list(range(len(shown)))
    ax.barh(y, [r["media"] for r in shown], color=PALETTE[0], label=w["media"])
    ax.barh(y, [r["matched_media"] for r in shown], color=PALETTE[1], label=w["matched_media"])
    ax.set_yticks(y, [f"#{r['number']}" for r in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_title(w["media_vs_matched"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    save(fig, "media")

    files.update(_network(report, out, w, plt))
    spread = report["banked"][:30]
    if spread and any(s["first_seen"]["date"] for s in spread):
        all_days = sorted({x["date"][:10] for s in spread for x in s["sightings"] if x["date"]})
        pos = {d: i for i, d in enumerate(all_days)}
        fig, ax = plt.subplots(figsize=(8, 0.8 + 0.3 * len(spread)))
        for row, s in enumerate(spread):
            pts = [x for x in s["sightings"] if x["date"]]
            xs = [pos[x["date"][:10]] for x in pts]
            ax.plot(xs, [row] * len(xs), color="#999999", linewidth=0.8, zorder=1)
            colours = [PALETTE[(p["room_number"] - 1) % len(PALETTE)] for p in pts]
            ax.scatter(xs, [row] * len(xs), color=colours, s=22, zorder=3)
            for at, p in list(zip(xs, pts, strict=True))[:12]:
                ax.text(at + 0.05, row - 0.15, f"#{p['room_number']}", fontsize=6)
        ax.set_yticks(
            list(range(len(spread))),
            [f"{w['entry']} {s['bank_entry']}" for s in spread],
            fontsize=7,
        )
        step = max(1, len(all_days) // 8)
        idx = list(range(len(all_days)))
        ax.set_xticks(idx[::step], all_days[::step], rotation=30, ha="right", fontsize=7)
        ax.invert_yaxis()
        ax.set_title(w["spread_chart"])
        save(fig, "spread")
    return files


def _network(report: dict[str, Any], out: Path, w: dict[str, str], plt: Any) -> dict[str, Path]:
    """The rooms on a circle in number order (a deterministic layout: the same report draws
    the same picture), a line per link coloured by its first kind, thicker when stronger."""
    rooms = sorted(report["rooms"], key=lambda r: r["number"])[:60]
    numbers = {r["number"] for r in rooms}
    links = [k for k in report["links"] if k["a_number"] in numbers and k["b_number"] in numbers]
    n = len(rooms)
    pos = {
        r["number"]: (
            math.cos(2 * math.pi * i / n + math.pi / 2),
            math.sin(2 * math.pi * i / n + math.pi / 2),
        )
        for i, r in enumerate(rooms)
    }
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(6, 6))
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for k in sorted(links, key=lambda k: k["strength"]):
        by_kind.setdefault(k["kinds"][0] if k["kinds"] else "shared-media", []).append(k)
    for kind, group in by_kind.items():  # one collection per kind: thousands of links
        ax.add_collection(
            LineCollection(
                [[pos[k["a_number"]], pos[k["b_number"]]] for k in group],
                colors=LINK_COLOURS.get(kind, "#999999"),
                linewidths=[0.8 + min(4.0, math.log1p(max(k["strength"], 0)) / 1.5) for k in group],
                label=w.get(f"kind.{kind}", kind),
                zorder=1,
            )
        )
    drawn = set(by_kind)
    size = max(80, 900 // max(1, n))
    xs, ys = zip(*(pos[r["number"]] for r in rooms), strict=True)
    ax.scatter(xs, ys, s=size * 3, color="white", edgecolors="#333333", zorder=2)
    for r in rooms:
        x, y = pos[r["number"]]
        ax.text(x, y, f"#{r['number']}", ha="center", va="center", fontsize=8, zorder=3)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(w["network"])
    if drawn:
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    path = out / "network.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {"network": path}


# ---- HTML --------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(head: list[str], rows: list[list[str]], ident: str, w: dict[str, str]) -> str:
    """A table of already escaped cells; the first MAX_ROWS rows."""
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows[:MAX_ROWS]
    )
    more = (
        f"<p class='more'>{_e(w['more_rows'].format(n=len(rows) - MAX_ROWS))}</p>"
        if len(rows) > MAX_ROWS
        else ""
    )
    return f"<table id='{ident}'><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>{more}"


def _img(images: dict[str, str], name: str, alt: str) -> str:
    src = images.get(name)
    return f"<img id='chart-{name}' src='{_e(src)}' alt='{_e(alt)}'>" if src else ""


def body(report: dict[str, Any], lang: str = "en", images: dict[str, str] | None = None) -> str:
    """The report as an HTML fragment (no script, no style attribute; every outside string
    escaped); `images`: chart name -> the src to show it by (file name or data: URL)."""
    w = words(lang)
    images = images or {}
    t = report["totals"]
    scope = w["scope_all"] if report["scope"]["cases"] == "all" else w["scope_org"]
    meta = w["generated"].format(
        at=report["generated_at"], generator=report["generator"], scope=scope
    )
    parts = [f"<p class='meta'>{_e(meta)}</p>"]
    if report["scope"]["rooms_not_found"]:
        names = ", ".join(report["scope"]["rooms_not_found"])
        parts.append(
            f"<p class='warning' id='rooms-not-found'>{_e(w['not_found'].format(names=names))}</p>"
        )
    if not report["rooms"]:
        parts.append(f"<p id='no-rooms'>{_e(w['no_rooms'])}</p>")
        return "\n".join(parts)
    summary = [
        ("rooms", t["rooms"]),
        ("messages", t["messages"]),
        ("media", t["media"]),
        ("matched_media", t["matched_media"]),
        ("cases_targeted", t["cases_targeted"]),
        ("face_matches", t["face_matches"]),
        ("members", t["members"]),
        ("bots", t["bots"]),
        ("links", t["links"]),
        ("banked_seen", t["banked_photos_seen"]),
    ]
    parts.append(f"<h2>{_e(w['summary'])}</h2>")
    parts.append(
        "<table id='rooms-summary'><tbody>"
        + "".join(
            f"<tr><th>{_e(w[k])}</th><td data-key='{k}'>{_e(v)}</td></tr>" for k, v in summary
        )
        + "</tbody></table>"
    )
    parts.append(_img(images, "activity", w["activity"]))
    parts.append(f"<h2>{_e(w['rooms'])}</h2>")
    none = _e(w["none"])
    rows = []
    for r in report["rooms"]:
        members = ", ".join(f"{_e(m['name'] or m['id'])} ({m['media']})" for m in r["members"][:20])
        if len(r["members"]) > 20:
            members += f", … (+{len(r['members']) - 20})"
        bots = ", ".join(f"{_e(b['bot'])} ({b['media']})" for b in r["bots"]) or none
        synthetic = _e(w["no_signal"]) if r["synthetic_media"] is None else _e(r["synthetic_media"])
        rows.append(
            [
                f"#{r['number']}",
                "<br>".join(_e(n) for n in r["names"]),
                _e(r["chat_id"]),
                _e(f"{r['first_date'][:10]} - {r['last_date'][:10]}"),
                _e(r["messages"]),
                _e(r["media"]),
                _e(r["matched_media"]),
                _e(r["cases_targeted"]),
                _e(r["face_matches"]),
                synthetic,
                f"{_e(len(r['members']))}: {members}" if r["members"] else "0",
                bots,
                _e(r["export"]),
            ]
        )
    head = [
        "#",
        w["names"],
        w["chat_id"],
        w["dates"],
        w["messages"],
        w["media"],
        w["matched_media"],
        w["cases_targeted"],
        w["face_matches"],
        w["synthetic"],
        w["members"],
        w["bots"],
        w["export"],
    ]
    parts.append(_table(head, rows, "rooms-table", w))
    parts.append(_img(images, "media", w["media_vs_matched"]))
    parts.append(f"<h2>{_e(w['activity_room'])}</h2>")
    rows = [
        [f"#{r['number']}", _e(d["day"]), _e(d["messages"]), _e(d["media"])]
        for r in report["rooms"]
        for d in r["timeline"]
    ]
    parts.append(_table(["#", w["day"], w["messages"], w["media"]], rows, "rooms-timeline", w))
    parts.append(f"<h2>{_e(w['links'])}</h2>")
    parts.append(f"<p>{_e(w['network_note'])}</p>")
    parts.append(_img(images, "network", w["network"]))
    rows = [
        [
            f"#{k['a_number']} – #{k['b_number']}",
            ", ".join(_e(w.get(f"kind.{kind}", kind)) for kind in k["kinds"]),
            _e(k["strength"]),
            _e(_evidence_text(k["evidence"])),
        ]
        for k in report["links"]
    ]
    parts.append(
        _table([w["rooms"], w["kinds"], w["strength"], w["evidence"]], rows, "rooms-links", w)
    )
    parts.append(f"<h2>{_e(w['spread'])}</h2>")
    parts.append(_img(images, "spread", w["spread_chart"]))
    rows = []
    for s in report["banked"]:
        first = s["first_seen"]
        later = "; ".join(f"#{x['room_number']} {x['date']}" for x in s["sightings"][1:])
        rows.append(
            [
                _e(f"{s['bank']} / {s['bank_entry']}"),
                _e(s["case"] or ""),
                _e(f"#{first['room_number']} {first['date']} (message {first['message_id']})"),
                _e(first["from"]),
                _e(first["forwarded_from"] or first["via_bot"]),
                _e(later) or none,
            ]
        )
    head = [w["entry"], w["case"], w["first_seen"], w["sender"], w["forwarded_from"], w["then"]]
    parts.append(_table(head, rows, "rooms-spread", w))
    return "\n".join(p for p in parts if p)


def _evidence_text(ev: dict[str, Any]) -> str:
    out = []
    if ev.get("same_chat_id"):
        out.append(f"chat id {ev['same_chat_id']}")
    if ev.get("renamed"):
        out.append(" → ".join(", ".join(n) for n in ev["renamed"]))
    if ev.get("same_name"):
        out.append("name " + ", ".join(ev["same_name"]))
    if ev.get("identical_media"):
        out.append(f"{len(ev['identical_media'])} identical media")
    if ev.get("similar_media"):
        out.append(f"{ev['similar_media']} similar media")
    if ev.get("shared_members"):
        out.append(f"{len(ev['shared_members'])} members: " + ", ".join(ev["shared_members"][:5]))
    if ev.get("shared_bots"):
        out.append("bots " + ", ".join(ev["shared_bots"]))
    out += ev.get("forwards", [])
    return "; ".join(out)


STYLE = (
    "body{font-family:'DejaVu Sans','Noto Sans CJK KR','NanumGothic',sans-serif;margin:2em;"
    "color:#111}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
    "padding:3px 6px;text-align:left;vertical-align:top;font-size:90%}img{max-width:100%;"
    "display:block;margin:1em 0}.warning{color:#a00}.meta,footer{color:#555}"
)


def page(report: dict[str, Any], lang: str = "en", images: dict[str, str] | None = None) -> str:
    """The whole offline page: `body` with a title, the style in the head, no script."""
    w = words(lang)
    return (
        f"<!doctype html>\n<html lang='{_e(lang)}'><head><meta charset='utf-8'>"
        f"<title>{_e(w['title'])}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(w['title'])}</h1>\n{body(report, lang, images)}\n"
        f"<footer>{_e(w['footer'])}</footer></body></html>\n"
    )


def write(report: dict[str, Any], out: Path, fmt: str = "html", lang: str = "en") -> list[Path]:
    """Write report.json, and with fmt "html" the charts and report.html too, in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.json"]
    files[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if fmt == "html":
        drawn = charts(report, out, lang)
        files += list(drawn.values())
        files.append(out / "report.html")
        files[-1].write_text(
            page(report, lang, {k: p.name for k, p in drawn.items()}), encoding="utf-8"
        )
    return files
