// carescore's pages work without this script; with it, questions show and hide as
// answers change (the server decides which, by the questionnaire's own skip logic),
// and the report has a print button.
(function () {
  "use strict";
  function encode(form) {
    return new URLSearchParams(new FormData(form)).toString();
  }
  function refresh(form) {
    fetch(form.dataset.relevance, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: encode(form),
      credentials: "same-origin",
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer) { return; }
        var shown = new Set(answer.visible);
        form.querySelectorAll(".question[data-question]").forEach(function (q) {
          q.hidden = !shown.has(q.dataset.question);
        });
      })
      .catch(function () { /* the form still works: the server shows them on save */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-relevance]").forEach(function (form) {
      var timer = null;
      var later = function () {
        clearTimeout(timer);
        timer = setTimeout(function () { refresh(form); }, 200);
      };
      form.addEventListener("change", later);
      form.addEventListener("input", later);  // a number typed shows what it opens
    });
    document.querySelectorAll("button[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
