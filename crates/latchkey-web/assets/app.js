// latchkey's one hand-written script. The pages work without it (plain forms); htmx adds
// in-place updates. This file only adds what plain HTML cannot do.
"use strict";

// A page that showed a secret once (a new PIN) must not come back from the back/forward cache.
window.addEventListener("pageshow", function (event) {
  if (event.persisted && document.querySelector("[data-shown-once]")) {
    window.location.reload();
  }
});

// "Copy" next to a code shown once.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) {
    return;
  }
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (source) {
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  }
});

// Live updates on the home page: each door's state, and an Unlock or Lock from "sent" to
// "confirmed by the lock" (or the failure and why), from the live stream (GET /api/v1/stream,
// see README.md). The page was rendered at log position `data-stream`; the stream starts right
// after it, so nothing in between is missed.
(function () {
  var root = document.querySelector("[data-stream]");
  if (!root || !window.EventSource) {
    return;
  }
  var words = {
    locked: "Locked",
    unlocked: "Unlocked",
    open: "Open",
    closed: "Closed",
    jammed: "Jammed: the bolt is stuck",
    offline: "Offline: the lock does not answer",
    unknown: "No report from the lock yet"
  };
  var source = new EventSource(
    "/api/v1/stream?after=" + encodeURIComponent(root.getAttribute("data-stream"))
  );

  function card(id) {
    return document.getElementById("door-" + id);
  }

  // What a card shows, from what its lock said last: offline, then jammed, then open, then
  // the bolt (as the server decides when it renders the card).
  function show(c, at) {
    var s = c.querySelector(".state");
    var d = c.dataset;
    if (!d.bolt) {
      var was = s.getAttribute("data-state");
      d.bolt = was === "locked" || was === "unlocked" ? was : "";
      d.open = was === "open" ? "1" : "";
      d.jammed = was === "jammed" ? "1" : "";
      d.offline = was === "offline" ? "1" : "";
    }
    var shown = d.offline ? "offline" : d.jammed ? "jammed" : d.open ? "open" : d.bolt || "closed";
    s.className = "state state-" + shown;
    s.setAttribute("data-state", shown);
    s.setAttribute("data-at", at);
    s.textContent = words[shown];
    var action = shown === "unlocked" || shown === "open" ? "lock" : "unlock";
    var form = c.querySelector("form[hx-post]");
    var path = "/doors/" + c.id.slice(5) + "/" + action;
    if (form && form.getAttribute("action") !== path) {
      form.setAttribute("action", path);
      form.setAttribute("hx-post", path);
      form.querySelector(".label").textContent = action === "lock" ? "Lock" : "Unlock";
      if (window.htmx) {
        window.htmx.process(form);
      }
    }
  }

  source.addEventListener("door", function (m) {
    var e = JSON.parse(m.data);
    var c = card(e.door_id);
    if (!c) {
      return;
    }
    show(c, e.at); // reads the rendered state into the card's memory first
    var d = c.dataset;
    switch (e.state) {
      case "locked":
      case "unlocked":
        d.bolt = e.state;
        d.jammed = "";
        d.offline = "";
        break;
      case "open":
        d.open = "1";
        d.jammed = "";
        break;
      case "closed":
        d.open = "";
        d.jammed = "";
        break;
      case "jammed":
        d.jammed = "1";
        break;
      case "offline":
        d.offline = "1";
        break;
      case "online":
        d.offline = "";
        break;
      case "battery_low":
        var b = c.querySelector(".battery");
        b.textContent =
          "Battery low" + (e.battery === null ? "" : " (" + e.battery + " %)") + ": replace it soon.";
        b.hidden = false;
        return;
    }
    show(c, e.at);
  });

  source.addEventListener("command", function (m) {
    var e = JSON.parse(m.data);
    var c = card(e.door_id);
    if (!c) {
      return;
    }
    var what = e.action === "lock" ? "Locked" : "Unlocked";
    var kind = "sent";
    var text = "Sent to the lock; waiting for it to confirm…";
    if (e.status === "confirmed") {
      kind = "confirmed";
      text = what + ", confirmed by the lock at " + new Date(e.at).toLocaleTimeString() + ".";
    } else if (e.status === "failed" || e.status === "rejected") {
      kind = "failed";
      text = "The lock did not do it: " + (e.detail || "no reason given") + ".";
    } else if (e.status === "unconfirmed") {
      text = "Sent, but the lock has not confirmed yet. It may still act: check the door.";
    }
    var p = c.querySelector(".cmd");
    var span = document.createElement("span");
    span.className = "cmd-" + kind;
    span.setAttribute("data-command", kind);
    span.setAttribute("data-at", e.at);
    span.textContent = text;
    p.replaceChildren(span);
  });

  // The state could not be replayed: read it again.
  source.addEventListener("reset", function () {
    window.location.reload();
  });

  // Signed out elsewhere: stop, and say so on the next page load.
  source.addEventListener("end", function () {
    source.close();
  });
})();
