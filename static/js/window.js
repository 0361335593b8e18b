// A long room keeps a bounded window of messages in the page (#older-messages' data-window,
// CHAT_DOM_WINDOW): while you read at the bottom, the oldest leave as new ones arrive, and the
// older-messages trigger at the top is set to bring them back, fresh from the server, when you
// scroll up. Pushed changes to a message that is not in the window (trimmed, or never loaded)
// and to replies' quotes of it are dropped before htmx swaps: nothing is there to change,
// and the server sends the message as it is now when it comes back. Loaded after chat.js.
(function () {
  "use strict";

  var scroller = function () { return document.getElementById("message-scroller"); };
  var older = function () { return document.getElementById("older-messages"); };

  function shown() {
    return document.querySelectorAll("#older-messages > [data-message-id], #messages > [data-message-id]");
  }
  function nearBottom() {
    var s = scroller();
    return s && s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  // The trigger that loads the page before message `before` (as rooms/_older_trigger.html).
  function triggerBefore(before) {
    var box = older();
    var trigger = document.createElement("div");
    trigger.id = "older-trigger";
    trigger.setAttribute("hx-get", box.dataset.olderUrl + "?before=" + before);
    trigger.setAttribute("hx-trigger", "intersect once, parley:retry");
    trigger.setAttribute("hx-swap", "outerHTML");
    trigger.className = "text-center text-sm opacity-60 py-2";
    var link = document.createElement("a");
    link.className = "link";
    link.href = box.dataset.historyUrl + "?before=" + before;
    link.textContent = "Older messages";
    trigger.append(link);
    return trigger;
  }

  // Remove the oldest messages beyond the window, keeping what the reader sees in place.
  function trim() {
    var box = older(), s = scroller();
    var limit = box ? Number(box.dataset.window) : 0;
    if (!limit || !s) return;
    var messages = shown();
    var extra = messages.length - limit;
    if (extra <= 0) return;
    var fromBottom = s.scrollHeight - s.scrollTop;
    for (var i = 0; i < extra; i++) {
      messages[i].remove();
    }
    var first = messages[extra];
    var trigger = document.getElementById("older-trigger");
    var fresh = triggerBefore(first.dataset.messageId);
    if (trigger) trigger.replaceWith(fresh); else box.prepend(fresh);
    htmx.process(fresh);
    s.scrollTop = s.scrollHeight - fromBottom;
  }

  var atBottom = true;
  document.addEventListener("htmx:wsBeforeMessage", function () { atBottom = nearBottom(); });
  document.addEventListener("htmx:wsAfterMessage", function () { if (atBottom) trim(); });
  document.addEventListener("DOMContentLoaded", function () {
    var s = scroller();
    if (!s || !older()) return;
    var soon = null;
    s.addEventListener("scroll", function () {
      clearTimeout(soon);
      soon = setTimeout(function () { if (nearBottom()) trim(); }, 200);
    });
  });

  // ---- Changes to messages outside the window -------------------------------------------
  // A frame's top-level elements each swap by id (or by the selector after "swap:"). One that
  // aims at a message, or at the quotes of one, that this page does not show is dropped.
  function outsideWindow(el) {
    var oob = el.getAttribute("hx-swap-oob") || "";
    var colon = oob.indexOf(":");
    var selector = colon >= 0 ? oob.slice(colon + 1) : el.id ? "#" + CSS.escape(el.id) : null;
    if (!selector || document.querySelector(selector)) return false;
    return /^message-\d+$/.test(el.id) || /^\.quote-of-\d+$/.test(selector);
  }
  htmx.defineExtension("parley-window", {
    transformResponse: function (text, xhr) {
      if (xhr || (text.indexOf('id="message-') < 0 && text.indexOf("quote-of-") < 0)) return text;
      var frame = document.createElement("template");
      frame.innerHTML = text;
      var dropped = false;
      Array.prototype.slice.call(frame.content.children).forEach(function (el) {
        if (outsideWindow(el)) { el.remove(); dropped = true; }
      });
      return dropped ? frame.innerHTML : text;
    },
  });
})();
