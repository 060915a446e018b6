// latchkey's service worker: shows the notices the server pushes (a title, one sentence, the
// page to open) and opens that page, on this site only, when one is tapped.
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

// Only a path of this site: anything else (another origin, "//host", "/\host") opens "/".
function pageOf(path) {
  try {
    var url = new URL(typeof path === "string" ? path : "/", self.location.origin);
    if (url.origin === self.location.origin) {
      return url.href;
    }
  } catch (e) {
    // fall through
  }
  return new URL("/", self.location.origin).href;
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  var title = typeof data.title === "string" ? data.title : "latchkey";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof data.body === "string" ? data.body : "",
      tag: typeof data.tag === "string" ? data.tag : undefined,
      icon: "__ICON__",
      data: { page: pageOf(data.path) }
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var page = (event.notification.data && event.notification.data.page) || pageOf("/");
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (open) {
      for (var i = 0; i < open.length; i++) {
        if (open[i].url === page && "focus" in open[i]) {
          return open[i].focus();
        }
      }
      return self.clients.openWindow(page);
    })
  );
});
