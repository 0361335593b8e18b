// Failures you can see: every htmx request that fails (no answer, too slow, 4xx, 5xx) says so
// in a short notice beside what asked (a polite live region), with Retry where trying again
// can help; the older-messages trigger retries by itself, about 1 s, 2 s, 4 s … at most 30 s
// apart; a 401 (the session ended) goes to the login form, which comes back here afterwards.
// A fragment that could not be swapped (its target missing) is reported to the server once.
// Loaded after htmx and before chat.js (which asks it for the words); HTML by textContent.
(function () {
  "use strict";

  var TIMEOUT_MS = 20000;
  var RETRY_MAX_MS = 30000;
  htmx.config.timeout = TIMEOUT_MS;

  // ---- What to say ---------------------------------------------------------------------
  // A refusal (4xx) says why from the server's error page; the rest in a few words.
  function reasonOf(xhr, kind) {
    if (kind === "timeout") return "The server took too long to answer.";
    if (!xhr || kind === "network" || xhr.status === 0) return "The server could not be reached.";
    if (xhr.status === 429) return "Too many requests: wait a moment.";
    if (xhr.status >= 500) return "Something went wrong on the server (" + xhr.status + ").";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var reason = doc.querySelector(".card-body p");
      if (reason && reason.textContent.trim()) return reason.textContent.trim();
    } catch (e) { /* not HTML */ }
    return "That did not work (" + xhr.status + ").";
  }
  // No answer, too slow, busy or broken: the same request may work in a while.
  function worthRetrying(xhr, kind) {
    if (kind !== "response") return true;
    return xhr.status === 408 || xhr.status === 429 || xhr.status >= 500;
  }
  window.Parley = window.Parley || {};
  window.Parley.failureText = reasonOf;

  // ---- Where to say it: beside the element that asked --------------------------------------
  var notices = new WeakMap(); // element that asked → its notice
  function placeFor(elt) {
    // Inside a message, not beside it: #messages holds only messages (kept in id order).
    return (elt.closest && elt.closest("[data-message-id]")) || elt;
  }
  function clearNotice(elt) {
    var notice = notices.get(elt);
    if (notice) { notice.remove(); notices.delete(elt); }
  }
  function showNotice(elt, text, retry) {
    clearNotice(elt);
    var notice = document.createElement("div");
    notice.className = "request-notice alert alert-warning alert-soft text-base-content text-sm py-1 px-2 my-1";
    notice.setAttribute("role", "status");
    var line = document.createElement("span");
    line.textContent = text;
    notice.append(line);
    if (retry) {
      var again = document.createElement("button");
      again.type = "button";
      again.className = "btn btn-xs";
      again.textContent = "Retry";
      again.addEventListener("click", function () { clearNotice(elt); retry(); });
      notice.append(again);
    }
    var place = placeFor(elt);
    if (place === elt && (elt.id === "older-trigger" || elt.id === "notice")) elt.append(notice);
    else if (place !== elt) place.append(notice);
    else elt.after(notice);
    notices.set(elt, notice);
    return line;
  }

  // ---- Infinite scroll: retried with backoff, and at once on Retry ------------------------
  var olderAttempts = 0;
  var olderTimer = null;
  function retryOlder(trigger, reason) {
    clearTimeout(olderTimer);
    var base = Math.min(RETRY_MAX_MS, 1000 * Math.pow(2, olderAttempts++));
    var delay = base / 2 + Math.random() * (base / 2);
    var at = Date.now() + delay;
    function again() { clearTimeout(olderTimer); clearNotice(trigger); htmx.trigger(trigger, "parley:retry"); }
    var line = showNotice(trigger, "", again);
    (function count() {
      if (!line.isConnected) return;
      var seconds = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      line.textContent = "Older messages did not load: " + reason + " Retrying in " + seconds + " s…";
      if (Date.now() < at) olderTimer = setTimeout(count, Math.min(1000, at - Date.now()));
      else again();
    })();
  }

  // ---- Every failed request ---------------------------------------------------------------
  function loginAgain() {
    var here = location.pathname + location.search + location.hash;
    location.assign("/login?expired=1&next=" + encodeURIComponent(here));
  }

  function failed(event, kind) {
    var detail = event.detail;
    var xhr = detail.xhr;
    var config = detail.requestConfig || {};
    var elt = config.elt || detail.elt;
    if (kind === "response" && xhr.status === 401) return loginAgain();
    // Gone meanwhile, or asked on behalf of the page (htmx.ajax without a source): the page's line.
    if (!elt || !elt.isConnected || elt === document.body) elt = document.getElementById("notice");
    if (!elt) return;
    if (elt.closest && elt.closest("dialog")) return; // chat.js says it in the dialog
    var reason = reasonOf(xhr, kind);
    if (elt.id === "older-trigger") return retryOlder(elt, reason);
    var retry = null;
    if (worthRetrying(xhr, kind) && config.verb && elt.id !== "notice") {
      // The same request again, with what it sent (a form's clicked button included).
      var values = sentValues.get(elt);
      retry = function () {
        htmx.ajax(config.verb.toUpperCase(), config.path, { source: elt, values: values });
      };
    }
    showNotice(elt, reason + (retry ? " Try again?" : ""), retry);
  }

  var sentValues = new WeakMap(); // element → the fields its last request sent
  document.addEventListener("htmx:configRequest", function (event) {
    var formData = event.detail.formData;
    if (event.detail.elt && formData) sentValues.set(event.detail.elt, Object.fromEntries(formData));
  });

  document.addEventListener("htmx:responseError", function (event) { failed(event, "response"); });
  document.addEventListener("htmx:sendError", function (event) { failed(event, "network"); });
  document.addEventListener("htmx:timeout", function (event) { failed(event, "timeout"); });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!event.detail.successful || !elt) return;
    clearNotice(elt);
    if (elt.id === "older-trigger") olderAttempts = 0;
  });

  // ---- Fragments that could not be swapped: told to the server, once each ---------------------
  var reported = {};
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]; }
    catch (e) { return null; }
  }
  function report(kind, target) {
    var key = kind + " " + target;
    if (reported[key]) return;
    reported[key] = true;
    fetch("/client-errors", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() || "" },
      body: JSON.stringify({ kind: kind, target: String(target).slice(0, 200), page: location.pathname }),
    }).catch(function () { /* offline: the page goes on; nothing to tell */ });
  }
  function targetOf(detail) {
    var content = detail.content;
    if (content && content.id) return "#" + content.id;
    if (typeof detail.target === "string") return detail.target;
    if (detail.target && detail.target.id) return "#" + detail.target.id;
    return "(unknown)";
  }
  ["oobErrorNoTarget", "targetError", "swapError"].forEach(function (kind) {
    document.addEventListener("htmx:" + kind, function (event) { report(kind, targetOf(event.detail)); });
  });
})();
