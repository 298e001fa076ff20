// Device page: the QR countdown, and on a phone-sized screen the "Link with phone number" way
// first (a phone cannot scan a QR on its own screen). A static file: the CSP forbids inline code.
(function () {
  "use strict";
  var PHONE = window.matchMedia ? window.matchMedia("(max-width: 640px)") : null;

  function tick() {
    // Counts down from the server's "seconds left", so a skewed clock does not matter.
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = Date.now() + 1000 * Number(el.dataset.expiresIn || 0);
      }
      var left = Math.max(0, Math.round((Number(el.dataset.deadline) - Date.now()) / 1000));
      var text = left > 0 ? (el.dataset.textLeft || "{n} s").replace("{n}", left) : el.dataset.textExpired;
      if (text && el.textContent !== text) el.textContent = text;
      var card = el.closest(".qr-card");
      if (card) card.classList.toggle("expired", left === 0);
    });
  }

  function openOnPhone() {
    if (!PHONE || !PHONE.matches) return;
    document.querySelectorAll("details[data-open-on-phone]:not([data-opened])").forEach(function (el) {
      el.open = true;
      el.setAttribute("data-opened", "");
    });
  }

  function ready() {
    tick();
    openOnPhone();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", ready);
})();
