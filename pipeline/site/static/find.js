// The Atlas's client-side search: filters find.html's rows by name, alias or ID as you type.
// Without JavaScript the page lists every row and this file is not needed.
(function () {
  "use strict";
  var form = document.getElementById("find-form");
  var input = document.getElementById("find-input");
  var status = document.getElementById("find-status");
  var index = JSON.parse(document.getElementById("find-index").textContent);
  // The same folding as the pipeline's fold_name: accents dropped, case folded, only
  // letters and digits kept ("qwen3.5:27b" -> "qwen3527b").
  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^\p{L}\p{N}]/gu, "");
  }
  function apply() {
    var query = fold(input.value);
    var shown = 0;
    index.forEach(function (entry) {
      var hit = !query || entry.keys.some(function (key) { return key.indexOf(query) !== -1; });
      document.getElementById(entry.row).hidden = !hit;
      if (hit) { shown += 1; }
    });
    status.textContent = shown + " of " + index.length + " shown";
  }
  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  input.addEventListener("input", apply);
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { input.value = query; }
  apply();
})();
