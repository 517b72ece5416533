// Wismo's service worker (wismo.web.push_routes): shows an order's push message and opens
// the order's page when the notification is clicked. It caches nothing.
"use strict";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  var options = {
    body: data.body || "",
    data: {url: data.url || "/"}
  };
  if (data.tag) {
    // One notification per parcel: a newer status replaces the older one on screen.
    options.tag = data.tag;
    options.renotify = true;
  }
  if (data.lang) options.lang = data.lang;
  event.waitUntil(self.registration.showNotification(data.title || "", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data || {}).url;
  if (!url) return;
  event.waitUntil(
    self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
