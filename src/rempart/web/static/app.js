// Rempart caseworker UI: the only script. It follows a scan's progress (polling the server
// every 300 ms until the scan has finished or failed). Served from this server; no CDN.
"use strict";
(function () {
  const box = document.getElementById("scan");
  if (!box) return;
  const bar = document.getElementById("scan-bar");
  const state = document.getElementById("scan-state");
  const count = document.getElementById("scan-count");
  const current = document.getElementById("scan-current");
  const result = document.getElementById("scan-result");
  const matches = document.getElementById("scan-matches");
  const error = document.getElementById("scan-error");
  function show(job) {
    bar.max = Math.max(job.total, 1);
    bar.value = job.state === "finished" ? bar.max : job.done;
    count.textContent = job.done + " / " + job.total;
    current.textContent = job.current || "";
    state.dataset.state = job.state;
    state.textContent = box.dataset["t" + job.state.charAt(0).toUpperCase() + job.state.slice(1)] || job.state;
    if (job.state === "finished") { matches.textContent = String(job.matches); result.hidden = false; }
    if (job.error) { error.textContent = job.error; error.hidden = false; }
    return job.state === "finished" || job.state === "failed";
  }
  function poll() {
    fetch(box.dataset.progress, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (job) { if (!show(job)) setTimeout(poll, 300); })
      .catch(function () { setTimeout(poll, 1000); });
  }
  if (state.dataset.state !== "finished" && state.dataset.state !== "failed") poll();
})();
