// Web Push opt-in on the order page (wismo.web.push_routes). Progressive enhancement:
// the block stays hidden unless this browser has a service worker and PushManager, and
// everything it talks to is this site.
(function () {
  "use strict";
  var box = document.getElementById("push");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window) ||
      !("Notification" in window) || !window.fetch) {
    return;
  }
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var state = document.getElementById("push-state");
  var d = box.dataset;
  var flag = "wismo-push:" + d.action;

  function bytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function remember(enabled) {
    try {
      if (enabled) localStorage.setItem(flag, "1"); else localStorage.removeItem(flag);
    } catch (e) { /* storage blocked: the buttons still work */ }
  }
  function remembered() {
    try { return localStorage.getItem(flag) === "1"; } catch (e) { return false; }
  }
  function show(enabled, text) {
    on.hidden = enabled;
    off.hidden = !enabled;
    state.textContent = text || "";
  }
  function send(method, body) {
    return fetch(d.action, {
      method: method,
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); });
  }
  function failed() {
    show(false, Notification.permission === "denied" ? d.tDenied : d.tFailed);
  }

  var ready = navigator.serviceWorker.register(d.sw)
    .then(function () { return navigator.serviceWorker.ready; });
  ready.then(function (reg) { return reg.pushManager.getSubscription(); })
    .then(function (sub) {
      box.hidden = false;
      var enabled = !!sub && remembered() && Notification.permission === "granted";
      show(enabled, enabled ? d.tEnabled : "");
    })
    .catch(function () { /* no service worker here (not https): no push offer */ });

  on.addEventListener("click", function () {
    on.disabled = true;
    ready.then(function (reg) {
      return reg.pushManager.getSubscription().then(function (sub) {
        return sub || reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: bytes(d.key)
        });
      });
    }).then(function (sub) {
      var body = sub.toJSON();
      body.language = d.lang;
      return send("POST", body);
    }).then(function () {
      remember(true);
      show(true, d.tEnabled);
    }, failed).then(function () { on.disabled = false; });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    ready.then(function (reg) { return reg.pushManager.getSubscription(); })
      .then(function (sub) { return sub ? send("DELETE", {endpoint: sub.endpoint}) : null; })
      .then(function () {
        // The browser's subscription may serve other orders: only this one is turned off.
        remember(false);
        show(false, d.tDisabled);
      }, failed).then(function () { off.disabled = false; });
  });
})();
