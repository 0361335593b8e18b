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
    var files = item.attachments ? item.attachments.split(",").length : 0;
    bubble.textContent = item.content || "📎 " + files + (files === 1 ? " file" : " files");
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
    var frame = { content: item.content, client_id: item.client_id, HEADERS: {} };
    if (item.reply_to) frame.reply_to = item.reply_to;
    if (item.attachments) frame.attachments = item.attachments;
    if (wrapper) wrapper.send(JSON.stringify(frame));
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
    if (params.attachments) item.attachments = String(params.attachments); // uploaded files' ids
    if (!item.content.trim() && !item.attachments) return; // the server explains; nothing pending
    var reply = replyShown();
    if (reply) { item.reply_to = reply.id; item.reply = reply; } // kept for a resend or a refusal
    savePending(loadPending().concat([item]));
    pendingBubble(item);
    // A fresh composer at once, so the next message can be written while this one goes out.
    form.querySelector("[name=content]").value = "";
    form.querySelector("[name=client_id]").value = crypto.randomUUID().replace(/-/g, "");
    clearReply();
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
      updatePending(clientId, function (item, items) {
        items.splice(items.indexOf(item), 1);
        if (item.reply) showReply(item.reply); // the composer got the text back: and its reply
      });
    }
  });

  // Never show a message twice, whichever path (catch-up, live, the sender's own copy, poll)
  // brought it: a copy of a message already shown replaces it (it is as new or newer).
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "messages") return;
    event.detail.fragment.querySelectorAll("[data-message-id]").forEach(function (el) {
      var shown = document.getElementById(el.id);
      if (!shown) return;
      if (shown.classList.contains("message-editor")) { el.remove(); keepForCancel(el); return; }
      rememberFocus(shown);
      shown.replaceWith(el); htmx.process(el); markOwnReactions(el);
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

  // ---- Message actions: edit, delete, react, reply -------------------------------------
  // Each action is a plain link that works without JavaScript (a page, then back). Here the
  // same links open the inline editor (htmx, hx-get), the page's one delete confirmation and
  // reaction picker, or fill the composer's reply, without leaving the page.
  function viewerId() { return chat() && chat().dataset.viewerId; }
  function composerBox() { return document.getElementById("composer-content"); }
  function messageOf(el) { return el && el.closest ? el.closest("[data-message-id]") : null; }

  function authorOf(message) {
    var author = message.querySelector("[data-role=author]");
    return author ? author.textContent.trim() : "";
  }
  var EXCERPT_CHARS = 140; // as models.messages.excerpt on the server
  function excerptOf(message) {
    var content = message.querySelector("[data-role=content]");
    var line = (content ? content.textContent : "").split(/\s+/).filter(Boolean).join(" ");
    if (line.length <= EXCERPT_CHARS) return line;
    return line.slice(0, EXCERPT_CHARS - 1).replace(/\s+$/, "") + "…";
  }

  // A live copy that replaces a message while focus is inside it (a reaction just clicked,
  // an edit just saved) would drop focus to the page: it moves to the same control instead.
  var refocus = null;
  function rememberFocus(target) {
    var active = document.activeElement;
    if (!target || !active || active === document.body || !target.contains(active)) return;
    refocus = {
      id: target.id,
      action: active.dataset.action || null,
      emoji: active.classList.contains("reaction") ? active.value : null,
    };
  }
  function restoreFocus() {
    var wanted = refocus;
    refocus = null;
    if (!wanted) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return; // it stayed somewhere
    var message = document.getElementById(wanted.id);
    if (!message) { if (composerBox()) composerBox().focus(); return; } // it was deleted
    var control = null;
    if (wanted.emoji) {
      control = Array.prototype.filter.call(message.querySelectorAll(".reaction"), function (b) {
        return b.value === wanted.emoji;
      })[0];
    }
    control = control || (wanted.action && message.querySelector('[data-action="' + wanted.action + '"]'))
      || message.querySelector('[data-action="react"]');
    if (control) control.focus();
  }
  document.addEventListener("htmx:wsAfterMessage", restoreFocus);

  // ---- Editing in place: Enter saves, Shift+Enter adds a line, Esc cancels ----------------
  // The message as it was shown is kept while its editor is open, to come back on cancel.
  // A live copy of it meanwhile (someone reacted) must not close the editor: it is kept
  // instead, so cancelling shows the newest copy.
  var beforeEdit = {};  // "message-42" → the message element to restore
  var editing = {};     // "message-42" → "composer" | "message": where focus goes afterwards

  function keepForCancel(copy) { beforeEdit[copy.id] = copy; }

  function editLastOwnMessage() {
    var me = viewerId();
    if (!me) return false;
    var own = document.querySelectorAll('#messages [data-author-id="' + CSS.escape(me) + '"] [data-action="edit"]');
    var link = own[own.length - 1];
    if (!link) return false;
    editing[messageOf(link).id] = "composer";
    link.click();  // htmx's hx-get brings the editor
    return true;
  }

  function finishEdit(id) {
    if (!(id in editing) && !(id in beforeEdit)) return;
    var back = editing[id];
    delete beforeEdit[id];
    delete editing[id];
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    var message = document.getElementById(id);
    var link = message && message.querySelector('[data-action="edit"]');
    if (back === "composer" || !link) { if (composerBox()) composerBox().focus(); } else link.focus();
  }

  function cancelEdit(editor) {
    var original = beforeEdit[editor.id];
    if (!original) return false; // the edit page (no room around it): its Cancel link goes back
    editor.replaceWith(original);
    htmx.process(original);
    markOwnReactions(original);
    finishEdit(original.id);
    return true;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.classList && elt.classList.contains("message-editor") && !(chat() && chat().contains(elt))) {
      event.preventDefault(); // the edit page, not the room: save as a plain form, then go back
      elt.submit();
      return;
    }
    if (elt && elt.dataset && elt.dataset.action === "edit") {
      var message = messageOf(elt);
      if (message && !(message.id in editing)) editing[message.id] = "message";
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    // (detail.elt is the target here: the element that asked is the request's.)
    var config = event.detail.requestConfig, target = event.detail.target;
    var elt = config && config.elt;
    if (!event.detail.shouldSwap || !elt || !elt.dataset || elt.dataset.action !== "edit") return;
    if (target && target.dataset.messageId) beforeEdit[target.id] = target.cloneNode(true);
  });

  document.addEventListener("htmx:load", function (event) {
    var el = event.target;
    if (!el || !el.classList) return;
    if (el.classList.contains("message-editor")) {
      var box = el.querySelector("textarea");
      if (box && document.activeElement !== box) {
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
      }
    } else if (el.dataset.messageId && el.id in editing) {
      finishEdit(el.id); // saved: the message is back, with its new text
    }
  });

  // Live copies: an open editor stays; focus inside a replaced message is carried over.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.dataset || !target.dataset.messageId) return;
    var fragment = event.detail.fragment;
    var copy = fragment && fragment.querySelector ? fragment.querySelector("[data-message-id]") : null;
    if (target.classList.contains("message-editor")) {
      if (copy) { event.detail.shouldSwap = false; keepForCancel(copy.cloneNode(true)); }
      else { delete beforeEdit[target.id]; delete editing[target.id]; } // deleted meanwhile
      if (!copy) rememberFocus(target);
      return;
    }
    rememberFocus(target);
  });

  // ---- The page's dialogs: delete confirmation and reaction picker -------------------------
  // Opening one points its forms at the message; closing it (Esc, Cancel, the backdrop, or
  // done) puts focus back on the link that opened it, found again by id since a live copy
  // may have replaced the message meanwhile.
  var opened = null; // { dialog, id: "message-42", action: "react" }

  function dialogError(dialog, text) {
    var line = dialog.querySelector("[data-role=dialog-error]");
    if (line) line.textContent = text || "";
  }

  function openDialog(dialog, link, url, formSelector) {
    var message = messageOf(link);
    if (!dialog || !message) return false;
    dialog.querySelectorAll(formSelector).forEach(function (form) {
      form.setAttribute("action", url);
      form.setAttribute("hx-post", url);
      htmx.process(form); // htmx sees the changed attribute and re-binds the form
    });
    dialogError(dialog, "");
    opened = { dialog: dialog, id: message.id, action: link.dataset.action };
    dialog.showModal();
    return true;
  }

  function closeDialog(dialog) { if (dialog && dialog.open) dialog.close(); }

  function openPicker(link) {
    var dialog = document.getElementById("reaction-picker");
    var message = messageOf(link);
    if (!dialog || !message) return false;
    var id = message.dataset.messageId;
    dialog.querySelector("[data-role=picker-author]").textContent = authorOf(message) + "’s message";
    var any = dialog.querySelector("input[name=emoji]");
    if (any) any.value = "";
    // The quick row says which of its reactions are already yours (a click takes it back).
    var me = viewerId();
    var mine = {};
    message.querySelectorAll(".reaction[data-users]").forEach(function (button) {
      if (me && button.dataset.users.indexOf(" " + me + " ") !== -1) mine[button.value] = true;
    });
    dialog.querySelectorAll("button[name=emoji]").forEach(function (button) {
      var yours = !!mine[button.value];
      button.setAttribute("aria-pressed", yours ? "true" : "false");
      button.classList.toggle("btn-active", yours);
    });
    return openDialog(dialog, link, "/messages/" + id + "/reactions", "[data-role=picker-form]");
  }

  function openDelete(link) {
    var dialog = document.getElementById("delete-dialog");
    var message = messageOf(link);
    if (!dialog || !message) return false;
    var quote = dialog.querySelector("[data-role=delete-excerpt]");
    quote.textContent = "";
    var who = document.createElement("strong");
    who.textContent = authorOf(message) + ": ";
    quote.append(who, document.createTextNode(excerptOf(message)));
    return openDialog(dialog, link, "/messages/" + message.dataset.messageId + "/delete", "[data-role=delete-form]");
  }

  document.addEventListener("DOMContentLoaded", function () {
    ["reaction-picker", "delete-dialog"].forEach(function (id) {
      var dialog = document.getElementById(id);
      if (!dialog) return;
      dialog.addEventListener("close", function () {
        var was = opened;
        opened = null;
        if (!was || was.dialog !== dialog) return;
        var message = document.getElementById(was.id);
        var link = message && was.action && message.querySelector('[data-action="' + was.action + '"]');
        // After focus settles where the browser put it back (the opener, perhaps replaced).
        setTimeout(function () { (link || composerBox() || document.body).focus(); }, 0);
      });
    });
  });

  // A form of a dialog or a message answered: done closes the dialog; a refusal says why.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var dialog = elt && elt.closest ? elt.closest("dialog") : null;
    var xhr = event.detail.xhr;
    if (!xhr || (elt && elt.classList && elt.classList.contains("message-editor"))) return;
    if (xhr.status >= 200 && xhr.status < 300) { // (a 422 counts as "successful": it swaps)
      // Deleted: its link goes with the message, so focus goes back to the composer.
      if (dialog && opened && dialog.id === "delete-dialog") opened.action = null;
      if (dialog) closeDialog(dialog);
      return;
    }
    if (!dialog) return; // errors.js says it beside what asked
    dialogError(dialog, window.Parley.failureText(xhr, xhr.status ? "response" : "network"));
    var field = dialog.querySelector("input[type=text]");
    if (field && elt.contains(field)) field.focus();
  });

  // ---- Replying: the composer says what it answers, and sends its id -----------------------
  function replyBox() { return document.getElementById("composer-reply"); }

  function replyShown() {
    var box = replyBox();
    var field = box && box.querySelector("[name=reply_to]");
    if (!field || !field.value) return null;
    return {
      id: field.value,
      author: box.querySelector("[data-role=reply-author]").textContent,
      excerpt: box.querySelector("[data-role=reply-excerpt]").textContent,
    };
  }

  function showReply(reply) {
    var box = replyBox();
    if (!box) return;
    box.querySelector("[name=reply_to]").value = reply ? reply.id : "";
    box.querySelector("[data-role=reply-author]").textContent = reply ? reply.author : "";
    box.querySelector("[data-role=reply-excerpt]").textContent = reply ? reply.excerpt : "";
    box.classList.toggle("hidden", !reply);
  }

  function clearReply() {
    showReply(null);
    // A page opened from a reply link (?reply_to=…) would fill it again on reload.
    var url = new URL(location.href);
    if (url.searchParams.has("reply_to")) {
      url.searchParams.delete("reply_to");
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    }
  }

  // ---- Clicks and keys ----------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var link = event.target.closest && event.target.closest("a[data-action]");
    if (!link || !chat() || !chat().contains(link)) return;
    var action = link.dataset.action, message = messageOf(link), handled = false;
    if (action === "react") handled = openPicker(link);
    else if (action === "delete") handled = openDelete(link);
    else if (action === "reply" && message) {
      showReply({ id: message.dataset.messageId, author: authorOf(message), excerpt: excerptOf(message) });
      handled = true;
      if (composerBox()) composerBox().focus();
    } else if (action === "cancel-reply") {
      clearReply();
      handled = true;
      if (composerBox()) composerBox().focus();
    } else if (action === "cancel-edit") {
      handled = cancelEdit(link.closest(".message-editor"));
    }
    if (handled) event.preventDefault();
  });

  // Enter sends (or saves an edit), Shift+Enter adds a line; Esc cancels an edit or a reply;
  // ↑ in an empty composer edits your last message.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || event.isComposing) return;
    var editor = box.closest(".message-editor");
    if (box.id !== "composer-content" && !editor) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      if (box.form) box.form.requestSubmit();
    } else if (event.key === "Escape" && editor) {
      if (cancelEdit(editor)) event.preventDefault();
    } else if (event.key === "Escape" && replyShown()) {
      event.preventDefault();
      clearReply();
    } else if (event.key === "ArrowUp" && !editor && box.value === "" &&
               !event.shiftKey && !event.altKey && !event.metaKey && !event.ctrlKey) {
      if (editLastOwnMessage()) event.preventDefault();
    }
  });

  // ---- First paint ----------------------------------------------------------------------
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
