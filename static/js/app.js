// Small progressive enhancements; every page works without them. Polling lives in hx-trigger, not here.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#target">. The text stays selectable when the clipboard is refused.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const target = document.querySelector(button.dataset.copy);
    if (!target) return;
    const text = target.textContent.trim();
    const done = function () {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1800);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(target); });
    } else {
      selectText(target);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected: the user can copy */ }
    }
  });

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // After a form comes back with errors, move focus to the first invalid input (keyboard, screen readers);
  // after a successful Try, bring the new card into view when it is below the fold (phones).
  document.addEventListener("htmx:afterSettle", function (event) {
    const config = event.detail.requestConfig;
    if (!config || config.verb !== "post") return;
    const invalid = document.querySelector("form [aria-invalid='true'], form [role='alert']");
    if (invalid) {
      if (!invalid.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA)$/.test(invalid.tagName)) {
        invalid.setAttribute("tabindex", "-1");
      }
      invalid.focus();
      return;
    }
    const card = document.querySelector("#results > .card");
    if (card && event.detail.xhr.status === 201 && card.getBoundingClientRect().top > window.innerHeight) {
      card.scrollIntoView({behavior: "smooth", block: "center"});
    }
  });

  // A request that fails (server error, network down) says so briefly instead of failing silently.
  function showError(message) {
    let box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "htmx-error";
      box.className = "alert alert-error";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = message;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.remove(); }, 6000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    if (status === 404) showError("That item no longer exists.");
    else if (status === 403) showError("Your session has expired: reload the page and sign in again.");
    else showError("Something went wrong (" + status + "). Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    showError("The server cannot be reached. Retrying…");
  });
})();
