// Rempart match page: keyboard shortcuts for the decision (issue 20). c, n or u chooses
// confirmed, not-her or unsure and puts the cursor in the reason field; Enter there submits
// the form as any form (nothing is saved without the reason). The form works without this
// script. Served from this server (the CSP allows only its own script files); no CDN.
"use strict";
(function () {
  const form = document.getElementById("decide-form");
  const reason = document.getElementById("reason");
  if (!form || !reason) return;
  const keys = { c: "confirmed", n: "not-her", u: "unsure" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    const decision = keys[event.key];
    if (!decision) return;
    const radio = document.getElementById("decision-" + decision);
    if (!radio) return;
    event.preventDefault();
    radio.checked = true;
    form.dataset.chosen = decision;
    reason.focus();
  });
})();
