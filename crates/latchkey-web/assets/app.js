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
      // Only an unlock asks for the password (docs/ARCHITECTURE.md, "Fresh proof to unlock").
      var proof = form.querySelector(".proof-password");
      if (proof) {
        proof.hidden = action !== "unlock";
        proof.querySelector("input").disabled = action !== "unlock";
      }
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
      case "jam_cleared":
        d.jammed = "";
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
      // HH:MM:SS, as the server writes it when it renders the card.
      text = what + ", confirmed by the lock at " + new Date(e.at).toLocaleTimeString("en-GB") + ".";
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

  // A lockout case moved (opened, proven, a PIN released, resolved…): fetch the panel of
  // cases again; its details are read with the case, never carried by the stream.
  source.addEventListener("case", function (m) {
    var panel = document.getElementById("cases");
    if (panel && window.htmx) {
      window.htmx.trigger(panel, "refresh");
    }
    // The console: a case's page follows its case, the list every case.
    var e = JSON.parse(m.data);
    document.querySelectorAll("[data-live-case]").forEach(function (part) {
      var want = part.getAttribute("data-live-case");
      if ((want === "any" || want === String(e.case_id)) && window.htmx) {
        window.htmx.trigger(part, "refresh");
      }
    });
  });

  // A lock confirmed (or failed) a code slot: a move-out receipt on the page reads its rows
  // again; which credential and which lock are read with the receipt, as for cases.
  source.addEventListener("slot", function () {
    var receipt = document.getElementById("receipt");
    if (receipt && window.htmx) {
      window.htmx.trigger(receipt, "refresh");
    }
  });
  // The Alarms page: its feed is fetched again when an alarm or a lock's fault arrives (a
  // storm's many events make one fetch), when anyone acknowledges alarms, and when an offline
  // lock's grace ends; not while a note is being typed in it.
  var alarms = document.getElementById("alarms");
  var refreshing = null;
  function refreshAlarms(delay) {
    if (!alarms || !window.htmx || refreshing) {
      return;
    }
    refreshing = setTimeout(function () {
      refreshing = null;
      var typing = document.activeElement;
      if (alarms.contains(typing) && typing.tagName === "TEXTAREA") {
        refreshAlarms(1000);
        return;
      }
      window.htmx.trigger(alarms, "refresh");
    }, delay);
  }
  function refreshWhenDue() {
    var due = alarms && alarms.querySelector("[data-next-due]");
    var ms = due ? due.getAttribute("data-next-due") : "";
    if (ms) {
      setTimeout(function () {
        refreshAlarms(0);
      }, Number(ms) + 250);
    }
  }
  if (alarms) {
    refreshWhenDue();
    alarms.addEventListener("htmx:afterSwap", refreshWhenDue);
    source.addEventListener("alarm", function () {
      refreshAlarms(100);
    });
    // Someone else on duty acknowledged alarms: the feed shows who, and their note.
    source.addEventListener("alarm_acknowledged", function () {
      refreshAlarms(100);
    });
    source.addEventListener("door", function (m) {
      var s = JSON.parse(m.data).state;
      if (s === "jammed" || s === "jam_cleared" || s === "offline" || s === "online" || s === "battery_low") {
        refreshAlarms(100);
      }
    });
  }

  // The state could not be replayed: read it again.
  source.addEventListener("reset", function () {
    window.location.reload();
  });

  // Signed out elsewhere: stop, and say so on the next page load.
  source.addEventListener("end", function () {
    source.close();
  });
})();

// ---- Passkeys (WebAuthn) ----------------------------------------------------------------
// The server hands out a ceremony (its id and the options, binary fields as base64url) from a
// `…/options` route; this script turns the options into what `navigator.credentials` takes,
// runs it, and posts the result back in the page's own form.

function fromB64url(text) {
  var s = text.replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) {
    s += "=";
  }
  var bin = atob(s);
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) {
    bytes[i] = bin.charCodeAt(i);
  }
  return bytes.buffer;
}

function toB64url(buffer) {
  var bytes = new Uint8Array(buffer);
  var s = "";
  for (var i = 0; i < bytes.length; i++) {
    s += String.fromCharCode(bytes[i]);
  }
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeIds(list) {
  (list || []).forEach(function (c) {
    c.id = fromB64url(c.id);
  });
}

function creationOptions(options) {
  var pk = options.publicKey;
  pk.challenge = fromB64url(pk.challenge);
  pk.user.id = fromB64url(pk.user.id);
  decodeIds(pk.excludeCredentials);
  return pk;
}

function requestOptions(options) {
  var pk = options.publicKey;
  pk.challenge = fromB64url(pk.challenge);
  decodeIds(pk.allowCredentials);
  return pk;
}

function credentialJson(c) {
  var r = c.response;
  var out = {
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    extensions: {},
    response: { clientDataJSON: toB64url(r.clientDataJSON) }
  };
  if (r.attestationObject) {
    out.response.attestationObject = toB64url(r.attestationObject);
  } else {
    out.response.authenticatorData = toB64url(r.authenticatorData);
    out.response.signature = toB64url(r.signature);
    out.response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
  }
  return JSON.stringify(out);
}

// Asks the server for a ceremony with the form's token.
function ceremony(url, form) {
  var body = new URLSearchParams({ csrf: form.elements.csrf.value });
  // Adding a passkey without a fresh proof sends the password typed beside it.
  if (form.matches("[data-passkey-register]") && form.elements.password) {
    body.set("password", form.elements.password.value);
  }
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    body: body
  }).then(function (res) {
    if (res.status === 401) {
      throw new Error("the password is wrong or missing: nothing was added or done");
    }
    if (!res.ok) {
      throw new Error("the server refused (" + res.status + "); reload the page and try again");
    }
    return res.json();
  });
}

function fill(form, started, credential) {
  form.elements.ceremony.value = started.ceremony;
  form.elements.credential.value = credentialJson(credential);
}

function showError(form, message) {
  var box = form.querySelector("[data-passkey-error]");
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
}

function why(err) {
  if (err && err.name === "NotAllowedError") {
    return "The passkey check was cancelled or timed out. Nothing was changed.";
  }
  return "The passkey did not work: " + (err && err.message ? err.message : err) + ". Nothing was changed.";
}

var webauthn = !!(window.PublicKeyCredential && navigator.credentials);

// Security page: add a passkey.
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-passkey-register]");
  if (!form || form.elements.credential.value || !webauthn) {
    return;
  }
  event.preventDefault();
  ceremony("/security/passkeys/options", form)
    .then(function (started) {
      return navigator.credentials
        .create({ publicKey: creationOptions(started.options) })
        .then(function (credential) {
          fill(form, started, credential);
          form.submit();
        });
    })
    .catch(function (err) {
      showError(form, why(err));
    });
});

// Sign-in page: a passkey by the button, or offered by the browser's autofill on the e-mail
// field (conditional mediation). The button cancels a waiting autofill request first.
var autofill = null;

function signInWithPasskey(form, conditional) {
  return ceremony("/sign-in/passkey/options", form).then(function (started) {
    var request = { publicKey: requestOptions(started.options) };
    if (conditional) {
      autofill = new AbortController();
      request.mediation = "conditional";
      request.signal = autofill.signal;
    }
    return navigator.credentials.get(request).then(function (credential) {
      fill(form, started, credential);
      form.submit();
    });
  });
}

(function () {
  var form = document.querySelector("form[data-passkey-sign-in]");
  if (!form || !webauthn) {
    return;
  }
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    if (form.elements.credential.value) {
      return;
    }
    event.preventDefault();
    if (autofill) {
      autofill.abort();
      autofill = null;
    }
    signInWithPasskey(form, false).catch(function (err) {
      showError(form, why(err));
    });
  });
  if (PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok) {
        signInWithPasskey(form, true).catch(function () {
          // Aborted for the button, or nothing chosen: the page works as before.
        });
      }
    });
  }
})();

// Home: an unlock asks for a fresh passkey check first (unless one was given in the last few
// minutes); htmx sends the form once the assertion is in it.
document.addEventListener("htmx:confirm", function (event) {
  var form = event.detail.elt;
  if (
    !form.matches ||
    !form.matches("form[data-proof=passkey]") ||
    !/\/unlock$/.test(form.getAttribute("action")) ||
    form.elements.credential.value
  ) {
    return;
  }
  event.preventDefault();
  var status = document.getElementById("cmd-" + form.closest("li.door").id.replace("door-", ""));
  ceremony(form.getAttribute("action") + "/proof", form)
    .then(function (answer) {
      if (!answer.ceremony) {
        event.detail.issueRequest(true);
        return;
      }
      return navigator.credentials
        .get({ publicKey: requestOptions(answer.options) })
        .then(function (credential) {
          fill(form, answer, credential);
          event.detail.issueRequest(true);
        });
    })
    .catch(function (err) {
      if (status) {
        status.textContent = "Not unlocked: " + why(err).replace(/^The/, "the");
        status.setAttribute("data-command", "failed");
      }
    });
});

// Notifications on this device (the Notifications page): register the service worker at the
// site's root, ask for permission, subscribe with the server's key and hand the subscription
// to the API as the signed-in person. Every way this can fail is said in words on the page.
(function () {
  var root = document.querySelector("[data-push]");
  if (!root) {
    return;
  }
  var button = root.querySelector("[data-push-enable]");
  var status = root.querySelector("[data-push-status]");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "error" : "notice";
    status.hidden = false;
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    button.disabled = true;
    say("This browser cannot show notifications from latchkey.", true);
    return;
  }

  var registered = navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(
    function (registration) {
      root.setAttribute("data-push-worker", "registered");
      return registration;
    },
    function (error) {
      root.setAttribute("data-push-worker", "failed");
      throw error;
    }
  );

  if (Notification.permission === "denied") {
    say("Notifications are blocked for this site in your browser's settings. Allow them there, then try again.", true);
  }

  function key() {
    var text = root.getAttribute("data-vapid-key").replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(text + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  // "Chrome on Android", "Firefox on Linux": what the person sees in the list of devices.
  function deviceName() {
    var ua = navigator.userAgent;
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" :
      /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "A browser";
    var system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" :
      /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
    return system ? browser + " on " + system : browser;
  }

  function post(subscription) {
    var body = subscription.toJSON();
    body.name = deviceName();
    return fetch("/api/v1/me/push-subscriptions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    });
  }

  function subscribe(registration) {
    return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key() });
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("Turning notifications on…", false);
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          throw new Error("denied");
        }
        return registered;
      })
      .then(function (registration) {
        return subscribe(registration).then(function (subscription) {
          return post(subscription).then(function (answer) {
            if (answer.status !== 409) {
              return answer;
            }
            // This browser's subscription is someone else's (they signed in here before):
            // a fresh one retires theirs at the push service.
            return subscription
              .unsubscribe()
              .then(function () {
                return subscribe(registration);
              })
              .then(post);
          });
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          return answer.json().then(function (problem) {
            throw new Error(problem.detail || "refused");
          });
        }
        say("Notifications are on for this device.", false);
        window.location.reload();
      })
      .catch(function (error) {
        button.disabled = false;
        if (error && error.message === "denied") {
          say("Notifications were not allowed. To turn them on, allow notifications for this site in your browser's settings, then try again.", true);
        } else {
          say("This browser could not subscribe to notifications (" + (error && error.message ? error.message : "no reason given") + "). Try again later.", true);
        }
      });
  });
})();
