// Parley's service worker: shows Web Push notifications and opens their message on click.
// Served from /sw.js (scope "/"). Payloads are JSON {title, body, url, tag}, plain text only.
"use strict";

function sameOriginPath(url) {
  // Only our own pages: a push can never send the browser elsewhere.
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "/";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = {};
  }
  const title = typeof data.title === "string" && data.title ? data.title : "Parley";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof data.body === "string" ? data.body : "",
      tag: typeof data.tag === "string" ? data.tag : undefined,
      data: { url: sameOriginPath(data.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(sameOriginPath(event.notification.data && event.notification.data.url), self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});

// The push service replaced our subscription (expiry, key rotation on its side): subscribe
// again if the browser has not, and tell the server, which knows us by the old endpoint.
// Without an old subscription there is nothing to name; the settings page subscribes anew.
self.addEventListener("pushsubscriptionchange", (event) => {
  const old = event.oldSubscription;
  const renew = async () => {
    if (!old) return;
    let fresh = event.newSubscription;
    if (!fresh) {
      const key = old.options && old.options.applicationServerKey;
      if (!key) return;
      fresh = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    await fetch("/api/push/renew", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ old_endpoint: old.endpoint, subscription: fresh.toJSON() }),
    });
  };
  event.waitUntil(renew());
});
