// Copy buttons: <button data-copy-target="#id" data-copied-text="Copied"> copies the target's
// value (an input) or text, and says so in the element its aria-describedby names (a live
// region), so keyboard and screen-reader users hear the confirmation too. No inline code (CSP).
(function () {
  "use strict";

  function fallbackCopy(text) {
    // Older browsers and plain-http pages have no async clipboard: select and copy instead.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return fallbackCopy(text);
      });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-target]") : null;
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) return;
    var text = "value" in target && target.tagName !== "OUTPUT" ? target.value : target.textContent;
    var statusId = (button.getAttribute("aria-describedby") || "").split(" ")[0];
    var status = statusId ? document.getElementById(statusId) : null;
    copy(text.trim()).then(
      function () {
        button.classList.add("copied");
        if (status) status.textContent = button.getAttribute("data-copied-text") || "Copied";
        setTimeout(function () {
          button.classList.remove("copied");
          if (status) status.textContent = "";
        }, 4000);
      },
      function () {
        // Could not copy: select it so Ctrl+C / long-press works.
        if (target.select) target.select();
        if (status) status.textContent = button.getAttribute("data-failed-text") || "";
      }
    );
  });
})();
