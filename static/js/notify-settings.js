// The notification settings page: desktop-notification permission (asked for only from the
// button), the sound toggle, and this browser's Web Push subscription.
"use strict";

(() => {
  const section = document.getElementById("browser-notifications");
  if (!section) return;
  section.hidden = false;
  const SOUND_KEY = "parley.notify.sound";
  const csrf = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (_) {
      return "";
    }
  };

  // Desktop notifications.
  const permissionButton = document.getElementById("notify-permission");
  const permissionState = document.getElementById("notify-permission-state");
  const showPermission = () => {
    if (!("Notification" in window)) {
      permissionButton.hidden = true;
      permissionState.textContent = "This browser has no desktop notifications.";
      return;
    }
    const state = Notification.permission;
    permissionButton.hidden = state !== "default";
    permissionState.textContent =
      state === "granted" ? "Desktop notifications are allowed." :
      state === "denied" ? "Desktop notifications are blocked in this browser's site settings." : "";
  };
  permissionButton.addEventListener("click", async () => {
    await Notification.requestPermission();
    showPermission();
  });
  showPermission();

  const sound = document.getElementById("notify-sound");
  sound.checked = localStorage.getItem(SOUND_KEY) === "1";
  sound.addEventListener("change", () => localStorage.setItem(SOUND_KEY, sound.checked ? "1" : "0"));

  // Web Push.
  const key = section.dataset.vapidPublicKey;
  const subscribeButton = document.getElementById("push-subscribe");
  if (!key || !subscribeButton) return;
  const unsubscribeButton = document.getElementById("push-unsubscribe");
  const testButton = document.getElementById("push-test");
  const status = document.getElementById("push-status");
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    subscribeButton.hidden = true;
    status.textContent = "This browser cannot receive push notifications.";
    return;
  }

  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `The server answered ${response.status}.`);
    return answer;
  };
  const keyBytes = (base64url) => {
    const base64 = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  };
  const registration = () => navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const show = (subscription, message) => {
    subscribeButton.hidden = Boolean(subscription);
    unsubscribeButton.hidden = !subscription;
    testButton.hidden = !subscription;
    status.textContent = message || (subscription ? "Push is on for this browser." : "Push is off for this browser.");
  };
  const guard = (work) => async () => {
    try {
      await work();
    } catch (error) {
      status.textContent = error.message || String(error);
    }
  };

  subscribeButton.addEventListener("click", guard(async () => {
    if ((await Notification.requestPermission()) !== "granted") {
      show(null, "Notifications are blocked for this site, so push cannot be turned on.");
      showPermission();
      return;
    }
    showPermission();
    const worker = await registration();
    let subscription = await worker.pushManager.getSubscription();
    const made = subscription && subscription.options.applicationServerKey;
    if (made && new Uint8Array(made).join() !== keyBytes(key).join()) {
      await subscription.unsubscribe(); // made with keys this server no longer has
      subscription = null;
    }
    if (!subscription) {
      subscription = await worker.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    }
    await post(section.dataset.subscribeUrl, subscription.toJSON());
    show(subscription);
  }));

  unsubscribeButton.addEventListener("click", guard(async () => {
    const worker = await registration();
    const subscription = await worker.pushManager.getSubscription();
    if (subscription) {
      await post(section.dataset.unsubscribeUrl, { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    show(null);
  }));

  testButton.addEventListener("click", guard(async () => {
    const answer = await post(section.dataset.testUrl);
    status.textContent = `Test sent to ${answer.sent} browser${answer.sent === 1 ? "" : "s"}` +
      (answer.failed ? `; ${answer.failed} did not answer.` : ".");
  }));

  guard(async () => {
    const worker = await navigator.serviceWorker.getRegistration("/");
    show(worker ? await worker.pushManager.getSubscription() : null);
  })();
})();
