// latchkey's one hand-written script. The pages work without it (plain forms); htmx adds
// in-place updates. This file only adds what plain HTML cannot do.
"use strict";

// A page that showed a secret once (a new PIN) must not come back from the back/forward cache.
window.addEventListener("pageshow", function (event) {
  if (event.persisted && document.querySelector("[data-shown-once]")) {
    window.location.reload();
  }
});

// "Copy" next to a code shown once.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) {
    return;
  }
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (source) {
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  }
});
