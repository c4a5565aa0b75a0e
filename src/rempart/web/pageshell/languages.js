// Her two pages' languages (the hashing page and the case page; rempart.web.pageshell): the
// catalogues inlined in the page (#catalogues), her language picked from the browser's, a
// text by key with its {name} parts filled in, the chooser (#lang), and a language applied
// to every element marked data-i18n. Plain script, no import, no build step: each page's
// builder inlines it before the page's own script, in the same <script> (one CSP hash).
// eslint-disable-next-line no-unused-vars
function rempartLanguages(onApply) {
  "use strict";
  const catalogues = JSON.parse(document.getElementById("catalogues").textContent);
  let lang = "en";

  function pick() {
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (const tag of wanted) {
      const code = String(tag).toLowerCase();
      if (catalogues[code]) return code;
      const primary = code.split("-")[0];
      if (catalogues[primary]) return primary;
    }
    return catalogues.en ? "en" : Object.keys(catalogues)[0];
  }

  function t(key, vars = {}) {
    const own = catalogues[lang] && catalogues[lang].strings[key];
    const text = own ?? (catalogues.en && catalogues.en.strings[key]) ?? key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }

  // The page's fixed texts in her language, then the page's own (onApply: what it shows).
  function apply() {
    const cat = catalogues[lang];
    document.documentElement.lang = lang;
    document.documentElement.dir = cat.dir === "rtl" ? "rtl" : "ltr";
    document.title = t("page_title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    onApply();
  }

  // The chooser lists every catalogue (English first), starts on her browser's language.
  function setupChooser() {
    const select = document.getElementById("lang");
    const codes = Object.keys(catalogues).sort((a, b) => (a === "en" ? -1 : b === "en" ? 1 : a.localeCompare(b)));
    for (const code of codes) {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = catalogues[code].name || code;
      option.lang = code;
      select.append(option);
    }
    lang = pick();
    select.value = lang;
    select.addEventListener("change", () => {
      lang = select.value;
      apply();
    });
  }

  return Object.freeze({ t, apply, setupChooser, lang: () => lang });
}
