// What htmx has no attribute for: reconnecting with backoff from any close, the connection
// status, pending/queued/failed copies of sent messages (kept across reloads), keeping the
// scroll position, and a polling fallback when no WebSocket can be opened at all.
// Loaded after htmx and its ws extension; all HTML it adds is built with textContent.
(function () {
  "use strict";

  var chat = function () { return document.getElementById("chat"); };
  var scroller = function () { return document.getElementById("message-scroller"); };

  // ---- Where we left off -------------------------------------------------------------
  // The server replays every change (posts, edits, deletions, reactions) after the newest one
  // this tab has applied: each change it pushes ends by updating #change-cursor.
  function newestChange() {
    var cursor = document.getElementById("change-cursor");
    return cursor ? Number(cursor.dataset.change) || 0 : 0;
  }

  // ... and how long it has been away: a large room's people list then comes as the entries
  // that changed meanwhile. Up to date when the page loaded and until an open socket closed.
  var upToDateAt = Date.now();
  var openSocket = null;
  function secondsAway() { return Math.ceil((Date.now() - upToDateAt) / 1000); }

  // A form refused for its input (422: an edit too long, say) comes back with the reason
  // shown in place; other errors swap nothing.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
    { code: "...", swap: false },
  ];

  var currentSocket = null;
  htmx.createWebSocket = function (url) {
    var u = new URL(url, location.href);
    if (u.searchParams.has("after")) {
      u.searchParams.set("after", String(newestChange()));
      u.searchParams.set("away", String(secondsAway()));
    }
    currentSocket = new WebSocket(u.toString());
    return currentSocket;
  };

  // ---- Reconnecting: about 1 s, 2 s, 4 s … at most 30 s, with jitter ------------------
  var nextTryAt = 0;
  function backoff(attempt) {
    var base = Math.min(30000, 1000 * Math.pow(2, attempt));
    var delay = base / 2 + Math.random() * (base / 2);
    nextTryAt = Date.now() + delay;
    return delay;
  }
  htmx.config.wsReconnectDelay = backoff;

  var RETRIED_BY_HTMX = [1006, 1011, 1012, 1013];
  var SIGNED_OUT = 1008;
  var wrapper = null;     // the ws extension's socket wrapper (send, reconnect)
  var ownRetry = null;    // our timer for closes the extension does not retry (1000, 1001 …)
  var ownAttempts = 0;
  var everOpened = false;
  var failedOpens = 0;

  function reconnectNow() {
    clearTimeout(ownRetry);
    ownRetry = null;
    if (wrapper && state !== "connected") wrapper.reconnect();
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    wrapper = event.detail.socketWrapper;
    openSocket = currentSocket;
    everOpened = true;
    ownAttempts = 0;
    showStatus("connected");
    stopPolling();
    resendPending();
  });

  document.addEventListener("htmx:wsClose", function (event) {
    wrapper = event.detail.socketWrapper;
    var closed = event.detail.event;
    if (closed.target !== currentSocket) return; // a socket already replaced
    if (closed.target === openSocket) upToDateAt = Date.now();
    if (!everOpened && ++failedOpens >= 3) startPolling();
    if (closed.code === SIGNED_OUT) return showStatus("disconnected");
    if (RETRIED_BY_HTMX.indexOf(closed.code) < 0) {
      ownRetry = setTimeout(reconnectNow, backoff(ownAttempts++));
    }
    showStatus("reconnecting");
  });

  document.addEventListener("htmx:wsConnecting", function () {
    if (state !== "reconnecting") showStatus("connecting");
  });
  window.addEventListener("online", reconnectNow);

  // ---- Status: connecting, connected, reconnecting (next try), disconnected -----------
  var state = "connecting";
  var countdown = null;
  var LABELS = {
    connecting: "Connecting…",
    connected: "Connected",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected: reload the page",
    polling: "Live connection unavailable: checking every 5 s",
  };
  var BADGES = ["badge-ghost", "badge-success", "badge-warning", "badge-error", "badge-info"];
  var BADGE = {
    connecting: "badge-ghost",
    connected: "badge-success",
    reconnecting: "badge-warning",
    disconnected: "badge-error",
    polling: "badge-info",
  };

  function showStatus(next) {
    if (polling && next !== "connected") next = "polling";
    state = next;
    var badge = document.getElementById("connection-status");
    if (!chat() || !badge) return;
    chat().dataset.connection = next;
    BADGES.forEach(function (name) { badge.classList.remove(name); });
    badge.classList.remove("hidden");
    badge.classList.add(BADGE[next]);
    clearInterval(countdown);
    function label() {
      var text = LABELS[next];
      if (next === "reconnecting" && nextTryAt > Date.now()) {
        text = "Reconnecting in " + Math.ceil((nextTryAt - Date.now()) / 1000) + " s…";
      }
      badge.textContent = text;
    }
    label();
    if (next === "reconnecting") countdown = setInterval(label, 1000);
    refreshPending();
  }

  // ---- Pending messages: shown at once, confirmed by their own copy, retried -----------
  // A copy the server could not store yet (its database is away) says so and is resent with
  // the same client id, about 1 s, 2 s, 4 s … at most 30 s apart, until its own copy comes;
  // the client id makes the server keep one copy however many resends reach it.
  var CONFIRM_WITHIN_MS = 10000;
  var UNSAVED_RETRY_MAX_MS = 30000;
  var storageKey = "parley-pending:" + location.pathname;

  function loadPending() {
    try { return JSON.parse(sessionStorage.getItem(storageKey) || "[]"); } catch (e) { return []; }
  }
  function savePending(items) { sessionStorage.setItem(storageKey, JSON.stringify(items)); }
  function isConfirmed(item) {
    return document.querySelector('#messages [data-client-id="' + CSS.escape(item.client_id) + '"]');
  }

  function pendingBubble(item) {
    var id = "pending-" + item.client_id;
    var el = document.getElementById(id);
    if (el) return el;
    el = document.createElement("div");
    el.id = id;
    el.className = "chat chat-end";
    var bubble = document.createElement("div");
    bubble.className = "chat-bubble chat-bubble-primary opacity-60 whitespace-pre-wrap break-words";
    bubble.textContent = item.content;
    var footer = document.createElement("div");
    footer.className = "chat-footer text-xs opacity-80 gap-2";
    var note = document.createElement("span");
    note.className = "pending-state";
    var retry = document.createElement("button");
    retry.type = "button";
    retry.className = "btn btn-xs btn-error hidden";
    retry.textContent = "Retry";
    retry.addEventListener("click", function () { send(item); });
    footer.append(note, retry);
    el.append(bubble, footer);
    document.getElementById("pending-messages").append(el);
    return el;
  }

  function refreshPending() {
    var items = loadPending();
    var now = Date.now();
    var left = items.filter(function (item) {
      var el = document.getElementById("pending-" + item.client_id);
      if (isConfirmed(item)) { if (el) el.remove(); return false; }
      el = pendingBubble(item);
      var waiting = item.retryAt && item.retryAt > now; // a resend is scheduled: not failed
      var failed = state === "connected" && !waiting && now - item.sentAt > CONFIRM_WITHIN_MS;
      var shown = failed ? "failed" : item.unsaved ? "unsaved"
        : state === "connected" ? "sending" : "queued";
      el.querySelector(".pending-state").textContent = {
        failed: "Not delivered.",
        unsaved: waiting && state === "connected"
          ? "Not saved yet — retrying in " + Math.ceil((item.retryAt - now) / 1000) + " s…"
          : "Not saved yet — retrying…",
        sending: "Sending…",
        queued: "Queued: goes out when the connection is back.",
      }[shown];
      el.querySelector("button").classList.toggle("hidden", !failed);
      el.dataset.state = shown;
      return true;
    });
    if (left.length !== items.length) savePending(left);
  }

  function updatePending(clientId, change) {
    var items = loadPending();
    var item = items.filter(function (i) { return i.client_id === clientId; })[0];
    if (!item) return;
    change(item, items);
    savePending(items);
    refreshPending();
  }

  // The server could not store it yet: keep it and resend it after a growing delay.
  function markUnsaved(clientId) {
    updatePending(clientId, function (item) {
      item.unsaved = true;
      item.attempts = (item.attempts || 0) + 1;
      var base = Math.min(UNSAVED_RETRY_MAX_MS, 1000 * Math.pow(2, item.attempts - 1));
      item.retryAt = Date.now() + base / 2 + Math.random() * (base / 2);
    });
  }

  function retryUnsaved() {
    if (state !== "connected") return; // reopening resends every pending copy anyway
    loadPending().forEach(function (item) {
      if (item.retryAt && item.retryAt <= Date.now() && !isConfirmed(item)) send(item);
    });
  }

  function send(item) {
    item.sentAt = Date.now();
    item.retryAt = null; // until the server answers again
    savePending(loadPending().map(function (i) { return i.client_id === item.client_id ? item : i; }));
    if (wrapper) wrapper.send(JSON.stringify({ content: item.content, client_id: item.client_id, HEADERS: {} }));
    refreshPending();
  }

  function resendPending() {
    loadPending().forEach(function (item) { if (!isConfirmed(item)) send(item); });
  }

  document.addEventListener("htmx:wsConfigSend", function (event) {
    var form = event.detail.elt || event.target;
    if (!form || form.id !== "composer" || (event.detail.errors || []).length) return;
    var params = event.detail.parameters;
    var item = { content: String(params.content || ""), client_id: String(params.client_id), sentAt: Date.now() };
    if (!item.content.trim()) return; // the server explains; nothing to show as pending
    savePending(loadPending().concat([item]));
    pendingBubble(item);
    // A fresh composer at once, so the next message can be written while this one goes out.
    form.querySelector("[name=content]").value = "";
    form.querySelector("[name=client_id]").value = crypto.randomUUID().replace(/-/g, "");
    setTimeout(refreshPending, 0);
    stickToBottom();
  });

  setInterval(function () { retryUnsaved(); refreshPending(); }, 1000);

  // The server answers a pending copy itself: "not saved yet" swaps its state line, and a
  // rejection removes it (the composer then holds the text again): forget it here too.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    var bubble = target && target.closest && target.closest("#pending-messages > [id^='pending-']");
    if (!bubble) return;
    var clientId = bubble.id.slice("pending-".length);
    if (target.classList.contains("pending-state")) {
      event.detail.shouldSwap = false; // the state line is ours to write
      markUnsaved(clientId);
    } else if (target === bubble) {
      updatePending(clientId, function (item, items) { items.splice(items.indexOf(item), 1); });
    }
  });

  // Never show a message twice, whichever path (catch-up, live, the sender's own copy, poll)
  // brought it: a copy of a message already shown replaces it (it is as new or newer).
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "messages") return;
    event.detail.fragment.querySelectorAll("[data-message-id]").forEach(function (el) {
      var shown = document.getElementById(el.id);
      if (shown) { shown.replaceWith(el); htmx.process(el); markOwnReactions(el); }
    });
  });

  // One render of a message serves every viewer: mark the reactions that are this viewer's.
  function markOwnReactions(root) {
    var me = chat() && chat().dataset.viewerId;
    if (!me || !root.querySelectorAll) return;
    root.querySelectorAll(".reaction[data-users]").forEach(function (button) {
      var mine = button.dataset.users.indexOf(" " + me + " ") !== -1;
      button.setAttribute("aria-pressed", mine ? "true" : "false");
      button.classList.toggle("btn-primary", mine);
      button.classList.toggle("btn-ghost", !mine);
    });
  }
  document.addEventListener("htmx:load", function (event) { markOwnReactions(event.target); });

  // Messages stand in id order (the room's commit order) even if two arrive swapped.
  function keepInIdOrder() {
    var list = document.getElementById("messages");
    if (!list) return;
    var items = Array.prototype.slice.call(list.children);
    for (var i = 1; i < items.length; i++) {
      var id = Number(items[i].dataset.messageId);
      var j = i;
      while (j > 0 && Number(items[j - 1].dataset.messageId) > id) j--;
      if (j < i) {
        list.insertBefore(items[i], items[j]);
        items.splice(j, 0, items.splice(i, 1)[0]);
      }
    }
  }

  // ---- Scrolling: stay at the bottom if already there; jump button; older pages -------
  function nearBottom() {
    var s = scroller();
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
  function stickToBottom() { var s = scroller(); if (s) s.scrollTop = s.scrollHeight; }
  function jumpButton() { return document.getElementById("jump-newest"); }

  var wasNearBottom = true;
  document.addEventListener("htmx:wsBeforeMessage", function () { wasNearBottom = nearBottom(); });
  document.addEventListener("htmx:wsAfterMessage", function () {
    keepInIdOrder();
    if (wasNearBottom) stickToBottom();
    else if (jumpButton()) jumpButton().classList.remove("hidden");
    refreshPending();
  });

  var keepFromBottom = null; // older pages go above: keep what the reader sees in place
  document.addEventListener("htmx:beforeRequest", function (event) {
    var s = scroller();
    if (s && event.detail.elt && event.detail.elt.id === "older-trigger") {
      keepFromBottom = s.scrollHeight - s.scrollTop;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var s = scroller();
    if (s && keepFromBottom !== null) { s.scrollTop = s.scrollHeight - keepFromBottom; keepFromBottom = null; }
  });

  // ---- Polling fallback: when no WebSocket opens at all ---------------------------------
  var polling = null;
  function startPolling() {
    if (polling || !chat()) return;
    polling = setInterval(poll, 5000);
    // Post by plain form: a copy of the composer without the ws-send handler.
    var form = document.getElementById("composer");
    var plain = form.cloneNode(true);
    plain.removeAttribute("ws-send");
    form.replaceWith(plain);
    showStatus("polling");
    poll();
  }
  function stopPolling() { clearInterval(polling); polling = null; }
  function poll() {
    var url = location.pathname.replace(/\/$/, "") + "/poll?after=" + newestChange();
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html.trim()) return;
        var stay = nearBottom();
        htmx.swap("#messages", html, { swapStyle: "none" });
        keepInIdOrder();
        if (stay) stickToBottom();
      })
      .catch(function () { /* offline: the next round tries again */ });
  }

  // ---- Keys and first paint ------------------------------------------------------------
  // Enter sends, Shift+Enter adds a line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!(box instanceof HTMLTextAreaElement) || box.id !== "composer-content") return;
    event.preventDefault();
    if (box.form) box.form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!chat()) return;
    refreshPending();
    stickToBottom();
    var s = scroller();
    s.addEventListener("scroll", function () {
      if (nearBottom() && jumpButton()) jumpButton().classList.add("hidden");
    });
    if (jumpButton()) {
      jumpButton().addEventListener("click", function () {
        stickToBottom();
        jumpButton().classList.add("hidden");
      });
    }
  });
})();
