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

  // Connection status: connecting, connected, reconnecting (with the next try), disconnected.
  var nextTryAt = 0;
  var countdown = null;
  // Exponential backoff with jitter: about 1 s, 2 s, 4 s, 8 s … at most 30 s.
  htmx.config.wsReconnectDelay = function (retryCount) {
    var base = Math.min(30000, 1000 * Math.pow(2, retryCount));
    var delay = base / 2 + Math.random() * (base / 2);
    nextTryAt = Date.now() + delay;
    return delay;
  };

  var LABELS = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected — reload the page",
  };
  var BADGES = {
    connecting: "badge-ghost",
    connected: "badge-success",
    reconnecting: "badge-warning",
    disconnected: "badge-error",
  };

  function showStatus(state) {
    var chat = document.getElementById("chat");
    var badge = document.getElementById("connection-status");
    if (!chat || !badge) return;
    chat.dataset.connection = state;
    badge.classList.remove("hidden", "badge-ghost", "badge-success", "badge-warning", "badge-error");
    badge.classList.add(BADGES[state]);
    clearInterval(countdown);
    function label() {
      var text = LABELS[state];
      if (state === "reconnecting" && nextTryAt > Date.now()) {
        text = "Reconnecting in " + Math.ceil((nextTryAt - Date.now()) / 1000) + " s…";
      }
      badge.textContent = text;
    }
    label();
    if (state === "reconnecting") countdown = setInterval(label, 1000);
  }

  var RETRIED_BY_HTMX = [1006, 1011, 1012, 1013];
  document.addEventListener("htmx:wsConnecting", function () {
    var chat = document.getElementById("chat");
    if (chat && chat.dataset.connection !== "reconnecting") showStatus("connecting");
  });
  document.addEventListener("htmx:wsOpen", function () { showStatus("connected"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    showStatus(RETRIED_BY_HTMX.indexOf(code) >= 0 ? "reconnecting" : "disconnected");
  });

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
