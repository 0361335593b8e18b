// Unread state on a room page: tell the server what this tab has shown while visible (a
// throttled read receipt), count in the title what arrives while it is hidden, scroll to the
// "New messages" divider on opening, and mark the mentions of this viewer in pushed copies
// (one render serves everyone). Loaded after chat.js; the sidebar entries need no script.
(function () {
  "use strict";

  var READ_EVERY_MS = 1500;
  var chat = function () { return document.getElementById("chat"); };
  var viewerId = function () { return chat() ? chat().dataset.viewerId : null; };

  function newestChange() {
    var cursor = document.getElementById("change-cursor");
    return cursor ? Number(cursor.dataset.change) || 0 : 0;
  }

  // ---- Read receipts: {"read": N}, at most one per READ_EVERY_MS, only while visible ---
  var sentRead = 0;
  var readTimer = null;
  function sendRead() {
    readTimer = null;
    var form = document.getElementById("read-receipt");
    var n = newestChange();
    if (!form || document.visibilityState !== "visible" || n <= sentRead) return;
    sentRead = n;
    form.querySelector("[name=read]").value = String(n);
    htmx.trigger(form, "parley:read");
  }
  function readSoon() { if (!readTimer) readTimer = setTimeout(sendRead, READ_EVERY_MS); }

  // ---- The title counts messages of others that came while the tab was hidden ---------
  var baseTitle = document.title;
  var seenUpTo = 0; // the newest message id shown while visible
  function newestMessageId() {
    var last = document.querySelector("#messages > [data-message-id]:last-child");
    return last ? Number(last.dataset.messageId) : 0;
  }
  function unseen() {
    var me = viewerId();
    return Array.prototype.filter.call(
      document.querySelectorAll("#messages > [data-message-id]"),
      function (el) { return Number(el.dataset.messageId) > seenUpTo && el.dataset.authorId !== me; }
    );
  }
  function showTitle() {
    var n = document.visibilityState === "visible" ? 0 : unseen().length;
    document.title = n ? "(" + n + ") " + baseTitle : baseTitle;
  }
  function dividerBefore(el) {
    var divider = document.getElementById("unread-divider");
    if (!divider) {
      divider = document.createElement("div");
      divider.id = "unread-divider";
      divider.className = "divider divider-error text-sm my-1";
      divider.setAttribute("role", "separator");
      divider.setAttribute("aria-label", "New messages");
      divider.textContent = "New messages";
    }
    el.parentNode.insertBefore(divider, el);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    var fresh = unseen();
    if (fresh.length) dividerBefore(fresh[0]); // where the reader left off
    seenUpTo = Math.max(seenUpTo, newestMessageId());
    showTitle();
    sendRead();
  });
  document.addEventListener("htmx:wsAfterMessage", function () {
    if (document.visibilityState === "visible") {
      seenUpTo = Math.max(seenUpTo, newestMessageId());
      readSoon();
    }
    showTitle();
  });

  // ---- A room added to the sidebar that the page had already: keep the first entry ----
  function dropDuplicateEntries() {
    var seen = {};
    document.querySelectorAll("#room-list > li, #direct-list > li").forEach(function (li) {
      if (seen[li.id]) li.remove();
      seen[li.id] = true;
    });
  }
  document.addEventListener("htmx:wsAfterMessage", dropDuplicateEntries);

  // ---- Mentions of this viewer, in copies rendered for everyone ------------------------
  function markMine(root) {
    var me = viewerId();
    if (!me || !root.querySelectorAll) return;
    root.querySelectorAll('.mention[data-user="' + CSS.escape(me) + '"]').forEach(function (el) {
      el.classList.add("mention-me");
    });
  }
  document.addEventListener("htmx:load", function (event) { markMine(event.target); });

  // ---- Opening: scroll to the first unread message; the jump control ------------------
  document.addEventListener("DOMContentLoaded", function () {
    if (!chat()) return;
    var form = document.getElementById("read-receipt");
    sentRead = form ? Number(form.querySelector("[name=read]").value) || 0 : 0;
    seenUpTo = newestMessageId();
    var scroller = document.getElementById("message-scroller");
    var divider = document.getElementById("unread-divider");
    var jump = document.getElementById("jump-unread");
    if (divider && scroller) scroller.scrollTop = divider.offsetTop - scroller.offsetTop - 8;
    if (!jump || jump.dataset.above === "true") return; // older than the page: a plain link
    jump.addEventListener("click", function (event) {
      var here = document.getElementById("unread-divider");
      if (!here) return;
      event.preventDefault();
      scroller.scrollTop = here.offsetTop - scroller.offsetTop - 8;
    });
    scroller.addEventListener("scroll", function () {
      var here = document.getElementById("unread-divider");
      var above = here && here.offsetTop - scroller.offsetTop < scroller.scrollTop;
      jump.classList.toggle("hidden", !above);
    });
  });
})();
