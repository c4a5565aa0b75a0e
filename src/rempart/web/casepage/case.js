// The case page's script. She signs in with her case number and secret (or opens a case
// where the helpline allows it), sends the fingerprint file her hashing page saved, sees her
// case as counts, and can withdraw everything. It talks to its own origin only (the CSP's
// connect-src 'self'), sends only what she typed and the fingerprint file she chose (never a
// picture), keeps her session token in this script's memory only (no cookie, no
// localStorage, sessionStorage, IndexedDB or cache), and forgets it when the page closes.
// Plain script, no import: inlined as it is by rempart.web.casepage (no build step), after
// the language code both her pages share (rempart.web.pageshell's languages.js).
(() => {
  "use strict";
  const MAX_FILE_BYTES = 8 * 1024 * 1024; // as rempart.cases.self_service.MAX_FILE_BYTES
  const FORMAT = "rempart-hash-submission";
  const API = "/v1/case-page";
  const $ = (id) => document.getElementById(id);

  // ---- languages (rempart.web.pageshell's languages.js, inlined before this script) -------
  /* global rempartLanguages */
  const languages = rempartLanguages(() => {
    for (const [id, value] of Object.entries(shown)) $(id).textContent = value ? t(value[0], value[1]) : "";
    if (lastStatus) renderStatus(lastStatus);
  });
  const t = languages.t;
  // Messages shown are kept as keys, so a change of language re-renders them.
  const shown = { notice: null, "signin-error": null, "send-status": null, "withdraw-status": null };
  function say(id, key, vars) {
    shown[id] = key ? [key, vars || {}] : null;
    $(id).textContent = key ? t(key, vars) : "";
  }
  // ---- her session: in memory only --------------------------------------------------------
  let token = null;
  let caseNumber = null;
  let lastStatus = null;
  let pendingText = null; // the fingerprint file being sent (kept to send again or save)
  let laterUrl = null;

  class Offline extends Error {}

  async function call(method, path, body, raw = false) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["X-Case-Session"] = token;
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
        redirect: "error",
      });
    } catch (err) {
      throw new Offline(String(err));
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = {};
    }
    return { status: response.status, data };
  }

  function show(step) {
    for (const id of ["signin-step", "opened-step", "case-step"]) $(id).hidden = id !== step;
  }

  function sessionEnded(key = "notice.session_ended") {
    token = null;
    caseNumber = null;
    lastStatus = null;
    $("case-secret").value = "";
    say("notice", key);
    show("signin-step");
  }

  // ---- signing in, opening a case ----------------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    say("signin-error", null);
    const number = $("case-number").value.trim();
    const secret = $("case-secret").value.trim();
    if (!number || !secret) {
      say("signin-error", "signin.missing");
      return;
    }
    $("signin-submit").disabled = true;
    try {
      const { status, data } = await call("POST", "/sign-in", { case: number, secret });
      if (status === 200) {
        $("case-secret").value = "";
        startCase(data);
      } else if (status === 409) {
        say("signin-error", "case.closed");
      } else if (status === 422 || status === 403) {
        say("signin-error", "signin.not_recognised");
      } else {
        say("signin-error", "error.server");
      }
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      say("signin-error", "error.offline");
    } finally {
      $("signin-submit").disabled = false;
    }
  }

  async function openCase() {
    say("notice", null);
    $("open-case").disabled = true;
    try {
      const { status, data } = await call("POST", "/open", {});
      if (status === 201) {
        token = data.token;
        caseNumber = data.case;
        $("opened-case").textContent = data.case;
        $("opened-secret").textContent = data.secret;
        $("opened-ok").checked = false;
        $("opened-continue").disabled = true;
        show("opened-step");
        $("opened-h").focus();
      } else if (status === 429) {
        say("notice", "open.too_many");
      } else if (status === 403) {
        say("notice", "open.off");
      } else {
        say("notice", "error.server");
      }
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      say("notice", "error.offline");
    } finally {
      $("open-case").disabled = false;
    }
  }

  function startCase(data) {
    token = data.token;
    caseNumber = data.case;
    say("notice", null);
    $("opened-case").textContent = "";
    $("opened-secret").textContent = "";
    show("case-step");
    $("case-label").textContent = caseNumber;
    $("send-box").hidden = false;
    $("withdraw-box").hidden = false;
    $("case-closed").hidden = true;
    say("send-status", null);
    say("withdraw-status", null);
    refresh();
  }

  // ---- her case ------------------------------------------------------------------------------
  function renderStatus(st) {
    for (const dd of document.querySelectorAll("[data-count]")) dd.textContent = String(st[dd.dataset.count] ?? 0);
    $("case-waiting").hidden = !!st.seen_by_caseworker;
    $("checked-at").textContent = t("case.checked", { time: new Date().toLocaleTimeString(languages.lang()) });
  }

  async function refresh() {
    if (!token) return;
    try {
      const { status, data } = await call("GET", "/status");
      if (status === 200) {
        lastStatus = data;
        renderStatus(data);
      } else if (status === 409) {
        closed();
      } else if (status === 401) {
        sessionEnded();
      } else {
        say("notice", "error.server");
      }
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      say("notice", "error.offline");
    }
  }

  function closed() {
    $("case-closed").hidden = false;
    $("send-box").hidden = true;
    $("withdraw-box").hidden = true;
  }

  function offerLater(text) {
    if (laterUrl) URL.revokeObjectURL(laterUrl);
    laterUrl = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    $("send-download").href = laterUrl;
    $("send-later").hidden = false;
  }

  async function send(event) {
    event.preventDefault();
    say("send-status", null);
    $("send-later").hidden = true;
    const file = $("hash-file").files[0];
    if (!file) {
      say("send-status", "send.none");
      return;
    }
    if (file.size > MAX_FILE_BYTES) {
      say("send-status", "send.too_large", { mb: Math.round(MAX_FILE_BYTES / 1048576) });
      return;
    }
    let text;
    try {
      text = await file.text();
    } catch (err) {
      say("send-status", "send.unreadable");
      return;
    }
    let doc = null;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      doc = null;
    }
    if (!doc || typeof doc !== "object" || doc.format !== FORMAT || !Array.isArray(doc.items)) {
      say("send-status", "send.not_hash_file");
      return;
    }
    if (!doc.items.length) {
      say("send-status", "send.empty");
      return;
    }
    if (!doc.consent) {
      say("send-status", "send.no_consent");
      return;
    }
    pendingText = text;
    $("send-submit").disabled = true;
    say("send-status", "send.sending");
    try {
      const { status, data } = await call("POST", "/send", pendingText, true);
      if (status === 200) {
        say("send-status", data.held ? "send.held" : "send.done", { n: data.items });
        pendingText = null;
        $("hash-file").value = "";
        refresh();
      } else if (status === 413) {
        say("send-status", "send.too_large", { mb: Math.round(MAX_FILE_BYTES / 1048576) });
      } else if (status === 422) {
        say("send-status", "send.not_hash_file");
      } else if (status === 409) {
        closed();
        say("send-status", "case.closed");
      } else if (status === 401) {
        offerLater(pendingText);
        sessionEnded();
      } else {
        offerLater(pendingText);
        say("send-status", "send.failed");
      }
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      offerLater(pendingText);
      say("send-status", "send.offline");
    } finally {
      $("send-submit").disabled = false;
    }
  }

  async function withdraw(event) {
    event.preventDefault();
    if (!$("withdraw-ok").checked) {
      say("withdraw-status", "withdraw.need_confirm");
      return;
    }
    $("withdraw-submit").disabled = true;
    say("withdraw-status", "withdraw.working");
    try {
      const { status } = await call("POST", "/withdraw", { confirm: true });
      if (status === 200) {
        closed();
        say("withdraw-status", "withdraw.done");
        $("withdraw-box").hidden = false;
        $("withdraw-form").hidden = true;
        refreshCountsZero();
      } else if (status === 409) {
        closed();
        say("withdraw-status", "case.closed");
        $("withdraw-box").hidden = false;
        $("withdraw-form").hidden = true;
      } else if (status === 401) {
        sessionEnded();
      } else {
        say("withdraw-status", "error.server");
      }
    } catch (err) {
      if (!(err instanceof Offline)) throw err;
      say("withdraw-status", "error.offline");
    } finally {
      $("withdraw-submit").disabled = false;
    }
  }

  function refreshCountsZero() {
    for (const dd of document.querySelectorAll("[data-count]")) dd.textContent = "0";
  }

  function signOut() {
    if (laterUrl) URL.revokeObjectURL(laterUrl);
    laterUrl = null;
    pendingText = null;
    $("send-later").hidden = true;
    $("hash-file").value = "";
    $("withdraw-ok").checked = false;
    $("withdraw-form").hidden = false;
    sessionEnded("notice.signed_out");
  }

  async function loadConfig() {
    try {
      const { status, data } = await call("GET", "/config");
      $("open-box").hidden = !(status === 200 && data.self_open);
    } catch (err) {
      $("open-box").hidden = true;
    }
  }

  languages.setupChooser();
  languages.apply();
  $("signin-form").addEventListener("submit", signIn);
  $("open-case").addEventListener("click", openCase);
  $("opened-ok").addEventListener("change", () => {
    $("opened-continue").disabled = !$("opened-ok").checked;
  });
  $("opened-continue").addEventListener("click", () => startCase({ token, case: caseNumber }));
  $("refresh").addEventListener("click", refresh);
  $("sign-out").addEventListener("click", signOut);
  $("send-form").addEventListener("submit", send);
  $("withdraw-form").addEventListener("submit", withdraw);
  loadConfig();
  // A test's window into the page's state (nothing of hers: whether signed in, the case shown)
  window.rempartCasePage = Object.freeze({ signedIn: () => token !== null, caseNumber: () => caseNumber });
})();
