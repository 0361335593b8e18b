// Desktop notifications for an open but hidden room tab. New messages arrive on the socket
// and are appended to #messages; while the tab is hidden, one the viewer's level for this room
// lets through (#chat's data-notify) shows as a Notification, with a sound if the settings
// page turned it on. Permission is asked for only on the settings page, from a button.
//
// Mentions: a message element that mentions people carries data-mentions="<user ids>" (space
// separated) and, for the whole room, data-mentions-everyone="true"; the level "mentions"
// lets through those naming the viewer. Same rule as models.notifications.level_allows.
"use strict";

(() => {
  const SOUND_KEY = "parley.notify.sound";
  const SOUND_GAP_MS = 5000;
  const EXCERPT_CHARS = 140;
  let lastSound = 0;
  const notified = new Set(); // an edit swaps the element in again: not news twice

  const levelAllows = (level, mentioned, everyone) =>
    level === "all" || (level === "mentions" && (mentioned || everyone));

  const textOf = (node) => (node ? node.textContent.replace(/\s+/g, " ").trim() : "");
  const authorOf = (message) => textOf(message.querySelector("[data-role=author]")) || "Someone";

  function consider(chat, message, newestAtLoad) {
    const id = Number(message.dataset.messageId);
    if (!id || id <= newestAtLoad || notified.has(id) || !document.hidden) return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (message.dataset.authorId === chat.dataset.viewerId) return;
    const mentioned = (message.dataset.mentions || "").split(/\s+/).includes(chat.dataset.viewerId);
    if (!levelAllows(chat.dataset.notify, mentioned, message.dataset.mentionsEveryone === "true")) return;
    notified.add(id);
    let body = textOf(message.querySelector('[data-role="content"]'));
    if (body.length > EXCERPT_CHARS) body = body.slice(0, EXCERPT_CHARS - 1) + "…";
    const notification = new Notification(`${authorOf(message)} in #${chat.dataset.roomName || ""}`, {
      body,
      tag: `room-${chat.dataset.roomId || ""}`,
    });
    notification.onclick = () => {
      window.focus();
      const shown = document.getElementById(message.id);
      if (shown) shown.scrollIntoView({ block: "center" });
      notification.close();
    };
    const now = Date.now();
    if (localStorage.getItem(SOUND_KEY) === "1" && now - lastSound > SOUND_GAP_MS) {
      lastSound = now;
      new Audio("/static/sounds/notify.wav").play().catch(() => {});
    }
  }

  function start() {
    const chat = document.getElementById("chat");
    const list = document.getElementById("messages");
    if (!chat || !list || !chat.dataset.notify) return;
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
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
