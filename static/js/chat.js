// The few behaviours htmx has no attribute for. Loaded after htmx and its ws extension.
(function () {
  "use strict";

  // Reconnect where we left off: tell the server the newest message this tab shows, so it
  // replays only what was posted meanwhile (see design.md, "no message is lost").
  function newestMessageId() {
    var newest = 0;
    document.querySelectorAll("#messages [data-message-id]").forEach(function (el) {
      newest = Math.max(newest, Number(el.dataset.messageId) || 0);
    });
    return newest;
  }

  htmx.createWebSocket = function (url) {
    var u = new URL(url, location.href);
    if (u.searchParams.has("after")) u.searchParams.set("after", String(newestMessageId()));
    return new WebSocket(u.toString());
  };

  // Enter sends, Shift+Enter adds a line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!(box instanceof HTMLTextAreaElement) || box.id !== "composer-content") return;
    event.preventDefault();
    if (box.form) box.form.requestSubmit();
  });

  // Keep the newest message in view when the reader is already at the bottom.
  document.addEventListener("htmx:wsBeforeMessage", function () {
    var scroller = document.getElementById("message-scroller");
    if (!scroller) return;
    var nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    if (nearBottom) {
      document.addEventListener("htmx:wsAfterMessage", function () {
        scroller.scrollTop = scroller.scrollHeight;
      }, { once: true });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var scroller = document.getElementById("message-scroller");
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  });
})();
