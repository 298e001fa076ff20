// The live inbox: polls that swap only what changed, Enter to send, the unread count in the title.
// A poll sends the page's version stamp (If-None-Match) and a signed ticket; the server answers
// 204 with no body when nothing changed. When something did, only the message list (or the
// conversation rows) comes back, and only the children whose markup differs are replaced, so
// the reply box, keyboard focus and any text selection elsewhere are never touched.
(function () {
  "use strict";
  var EVERY_MS = 2000;
  var busy = false;

  // Django masks the CSRF token differently in each render: not a change anyone sees.
  var CSRF = /name="csrfmiddlewaretoken" value="[^"]*"/g;

  function sameNode(a, b) {
    return a.outerHTML.replace(CSRF, "") === b.outerHTML.replace(CSRF, "");
  }

  // Make `current`'s children look like `fresh`'s, keeping every child whose markup is unchanged
  // (matched by id, or by position for children without one).
  function patchChildren(current, fresh) {
    var old = Array.prototype.slice.call(current.children);
    var byId = {};
    old.forEach(function (child) {
      if (child.id) byId[child.id] = child;
    });
    var wanted = Array.prototype.slice.call(fresh.children).map(function (next, i) {
      var match = next.id ? byId[next.id] : old[i] && !old[i].id ? old[i] : null;
      return match && sameNode(match, next) ? match : next;
    });
    wanted.forEach(function (node, i) {
      var here = current.children[i] || null;
      if (here !== node) current.insertBefore(node, here);
    });
    while (current.children.length > wanted.length) current.lastElementChild.remove();
    current.dataset.pollStamp = fresh.dataset.pollStamp || current.dataset.pollStamp;
    if (window.htmx) window.htmx.process(current);
  }

  function nearBottom(box) {
    return box && box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function scrollToEnd() {
    var box = document.querySelector("[data-scroll-end]");
    if (box) box.scrollTop = box.scrollHeight;
  }

  function showUnread(count) {
    if (count === null || count === undefined || count === "") return;
    var n = parseInt(count, 10) || 0;
    var badge = document.getElementById("unread-count");
    if (badge) {
      badge.textContent = n > 99 ? "99+" : String(n);
      badge.hidden = n === 0;
    }
    var title = document.title.replace(/^\(\d+\+?\) /, "");
    document.title = n > 0 ? "(" + (n > 99 ? "99+" : n) + ") " + title : title;
  }

  function pollOne(el) {
    var headers = {
      "If-None-Match": '"' + el.dataset.pollStamp + '"',
      "X-Poll-Ticket": el.dataset.pollTicket,
    };
    return fetch(el.dataset.pollUrl, { headers: headers, credentials: "same-origin" }).then(
      function (response) {
        if (response.status !== 200) return;
        showUnread(response.headers.get("X-Unread"));
        return response.text().then(function (html) {
          var template = document.createElement("template");
          template.innerHTML = html.trim();
          var fresh = template.content.getElementById(el.id);
          if (!fresh || !document.body.contains(el)) return;
          var box = document.querySelector("[data-scroll-end]");
          var stick = el.id === "thread-messages" && nearBottom(box);
          patchChildren(el, fresh);
          if (stick) scrollToEnd();
        });
      }
    );
  }

  function tick() {
    if (busy || document.hidden) return;
    var watched = document.querySelectorAll("[data-poll-url]:not([data-poll-off])");
    if (!watched.length) return;
    busy = true;
    Promise.all(Array.prototype.map.call(watched, pollOne))
      .catch(function () {
        // Offline for a moment: the next tick tries again.
      })
      .then(function () {
        busy = false;
      });
  }

  // Enter sends; Shift+Enter (or Enter while an input method is composing) breaks the line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!box.matches || !box.matches("textarea[data-enter-sends]")) return;
    event.preventDefault();
    if (!box.value.trim() || !box.form) return;
    if (box.form.requestSubmit) box.form.requestSubmit();
    else box.form.submit();
  });

  // After a reply the panel is swapped in: keep the newest message in view and focus the box.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "thread-panel") scrollToEnd();
  });

  document.addEventListener("DOMContentLoaded", function () {
    scrollToEnd();
    var badge = document.getElementById("unread-count");
    if (badge) showUnread(badge.dataset.count);
    window.setInterval(tick, EVERY_MS);
  });
})();
