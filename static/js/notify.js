// Desktop notifications. A room tab that is open but hidden notifies of the new messages of
// its own room that the viewer's level lets through (#chat's data-notify); every tab also
// gets, on the user's own channel, notices of messages in the viewer's other rooms that their
// level lets through (#desktop-notices: the server applied the level). Permission is asked
// for only on the settings page, from a button; a sound if that page turned it on.
//
// One notification per message however many tabs hear of it: the first tab to claim its id
// (localStorage) shows it, and the tag (the room) makes a newer one replace an older one. No
// notification for a room that a visible tab of this browser is showing (it is being read).
//
// Mentions: a message element that mentions people carries data-mentions="<user ids>" (space
// separated) and, for the whole room, data-mentions-everyone="true"; the level "mentions"
// lets through those naming the viewer. Same rule as models.notifications.level_allows.
"use strict";

(() => {
  const SOUND_KEY = "parley.notify.sound";
  const LOOKING_PREFIX = "parley.notify.looking."; // + tab: {room, at} while that tab is visible
  const CLAIM_PREFIX = "parley.notify.claim.";
  const LOOKING_FRESH_MS = 4000;
  const SOUND_GAP_MS = 5000;
  const EXCERPT_CHARS = 140;
  let lastSound = 0;
  const notified = new Set(); // an edit swaps the element in again: not news twice

  const levelAllows = (level, mentioned, everyone) =>
    level === "all" || (level === "mentions" && (mentioned || everyone));

  const textOf = (node) => (node ? node.textContent.replace(/\s+/g, " ").trim() : "");
  const authorOf = (message) => textOf(message.querySelector("[data-role=author]")) || "Someone";
  const allowed = () => "Notification" in window && Notification.permission === "granted";

  function store(fn) {
    try {
      return fn(window.localStorage);
    } catch (_) {
      return null; // storage off: every tab decides alone
    }
  }

  // A visible tab says which room it shows, every couple of seconds, under its own key.
  const TAB = Math.random().toString(36).slice(2);
  function lookingAt(roomId) {
    if (!document.hidden && roomId) {
      store((s) => s.setItem(LOOKING_PREFIX + TAB, JSON.stringify({ room: roomId, at: Date.now() })));
    } else {
      store((s) => s.removeItem(LOOKING_PREFIX + TAB));
    }
  }
  function someoneLooksAt(roomId) {
    return store((s) => {
      for (let i = 0; i < s.length; i++) {
        const key = s.key(i);
        if (!key || !key.startsWith(LOOKING_PREFIX) || key === LOOKING_PREFIX + TAB) continue;
        const seen = JSON.parse(s.getItem(key) || "null");
        if (seen && String(seen.room) === String(roomId) && Date.now() - seen.at < LOOKING_FRESH_MS) return true;
      }
      return false;
    }) === true;
  }
  // The first tab to claim a message shows it; old claims are swept now and then.
  function claim(messageId) {
    return store((s) => {
      const key = CLAIM_PREFIX + messageId;
      if (s.getItem(key)) return false;
      s.setItem(key, String(Date.now()));
      return true;
    }) !== false;
  }
  function sweepClaims() {
    store((s) => {
      const old = Date.now() - 60000;
      for (let i = s.length - 1; i >= 0; i--) {
        const key = s.key(i);
        if (!key) continue;
        if (key.startsWith(CLAIM_PREFIX) && Number(s.getItem(key)) < old) s.removeItem(key);
        if (key.startsWith(LOOKING_PREFIX) && (JSON.parse(s.getItem(key) || "{}").at || 0) < old) s.removeItem(key);
      }
    });
  }

  function show(messageId, title, body, tag, onclick) {
    if (notified.has(messageId) || !claim(messageId)) return;
    notified.add(messageId);
    if (body.length > EXCERPT_CHARS) body = body.slice(0, EXCERPT_CHARS - 1) + "…";
    const notification = new Notification(title, { body, tag });
    notification.onclick = () => {
      window.focus();
      onclick();
      notification.close();
    };
    const now = Date.now();
    if (localStorage.getItem(SOUND_KEY) === "1" && now - lastSound > SOUND_GAP_MS) {
      lastSound = now;
      new Audio("/static/sounds/notify.wav").play().catch(() => {});
    }
  }

  // A message of this tab's own room, appended while the tab is hidden.
  function consider(chat, message, newestAtLoad) {
    const id = Number(message.dataset.messageId);
    if (!id || id <= newestAtLoad || notified.has(id) || !document.hidden || !allowed()) return;
    if (message.dataset.authorId === chat.dataset.viewerId) return;
    if (someoneLooksAt(chat.dataset.roomId)) return;
    const mentioned = (message.dataset.mentions || "").split(/\s+/).includes(chat.dataset.viewerId);
    if (!levelAllows(chat.dataset.notify, mentioned, message.dataset.mentionsEveryone === "true")) return;
    show(id, `${authorOf(message)} in #${chat.dataset.roomName || ""}`,
      textOf(message.querySelector('[data-role="content"]')), `room-${chat.dataset.roomId || ""}`,
      () => {
        const shown = document.getElementById(message.id);
        if (shown) shown.scrollIntoView({ block: "center" });
      });
  }

  // A notice of another room's message (the server checked the level; never our own).
  function noticed(notice) {
    notice.remove();
    const d = notice.dataset;
    const id = Number(d.messageId);
    const room = (d.tag || "").replace(/^room-/, "");
    if (!id || !allowed() || someoneLooksAt(room)) return;
    const url = d.url && d.url.startsWith("/") && !d.url.startsWith("//") ? d.url : "/";
    show(id, d.title || "Parley", d.body || "", d.tag || undefined, () => { window.location.href = url; });
  }

  function start() {
    const chat = document.getElementById("chat");
    const list = document.getElementById("messages");
    const notices = document.getElementById("desktop-notices");
    if (!chat || !list || !chat.dataset.notify) return;
    lookingAt(chat.dataset.roomId);
    setInterval(() => lookingAt(chat.dataset.roomId), LOOKING_FRESH_MS / 2);
    document.addEventListener("visibilitychange", () => lookingAt(chat.dataset.roomId));
    window.addEventListener("pagehide", () => store((s) => s.removeItem(LOOKING_PREFIX + TAB)));
    setInterval(sweepClaims, 30000);
    // Messages already on the page (and a catch-up's older ones) are not news.
    let newestAtLoad = 0;
    for (const m of list.querySelectorAll("[data-message-id]")) {
      newestAtLoad = Math.max(newestAtLoad, Number(m.dataset.messageId) || 0);
    }
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node.nodeType === Node.ELEMENT_NODE && node.dataset.messageId) consider(chat, node, newestAtLoad);
        }
      }
    }).observe(list, { childList: true });
    if (!notices) return;
    new MutationObserver(() => {
      for (const notice of notices.querySelectorAll("[data-notice]")) noticed(notice);
    }).observe(notices, { childList: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
