// The mobile login waiting page (idp/src/web/login_pages/waiting.rs). A static file:
// the CSP forbids inline scripts. Everything it needs is on #mobile-login:
//   data-order     the order reference
//   data-messages  the status texts, keyed by hint (JSON; the words live in texts.rs)
// Every second: a fresh QR code (image and data-qr); every two seconds: the order's
// status. Complete: go on to where the login resumes. Failed: stop, say why, offer a
// retry. Without this script the page still works through reloads.
(function () {
  "use strict";

  var root = document.getElementById("mobile-login");
  if (!root) {
    return;
  }
  var order = encodeURIComponent(root.dataset.order || "");
  var messages = JSON.parse(root.dataset.messages || "{}");
  var status = document.getElementById("login-status");
  var qr = document.getElementById("qr");
  var retry = document.getElementById("retry");
  var cancelForm = document.getElementById("cancel-form");
  var counter = 0;
  var timers = [];
  var finished = false;

  function say(text, state) {
    // A live region: change the text only when it changes, so it is announced once.
    if (status.textContent !== text) {
      status.textContent = text;
    }
    status.className = "status " + state;
  }

  function message(hint, code) {
    var text = messages[hint] || messages.expired;
    return code ? text + " (" + messages.codeLabel + " " + code + ")" : text;
  }

  function hide(selector) {
    document.querySelectorAll(selector).forEach(function (element) {
      element.hidden = true;
    });
  }

  function stop() {
    finished = true;
    timers.forEach(clearInterval);
  }

  function fail(text) {
    stop();
    hide(".while-pending");
    say(text, "failed");
    retry.hidden = false;
  }

  function getJson(path) {
    return fetch(path + "?order=" + order, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  function refreshQr() {
    if (finished || !qr) {
      return;
    }
    getJson("/login/mobile/qr").then(function (answer) {
      if (finished) {
        return;
      }
      if (!answer.ok || !answer.body.qr) {
        hide("#qr-box");
        return;
      }
      counter += 1;
      qr.dataset.qr = answer.body.qr;
      qr.src = "/login/mobile/qr.svg?order=" + order + "&t=" + counter;
    }).catch(function () {
      // A lost request: the next second tries again.
    });
  }

  function poll() {
    if (finished) {
      return;
    }
    getJson("/login/mobile/collect").then(function (answer) {
      if (finished) {
        return;
      }
      var body = answer.body;
      var service = body && typeof body.error === "string" &&
        body.error.indexOf("NATIONAL_EID_") === 0;
      if (!answer.ok && service) {
        // The national e-identification service does not answer: say so with its code,
        // and stop (the user tries again when they choose).
        fail(messages.unavailable + " (" + messages.codeLabel + " " + body.error + ")");
      } else if (!answer.ok) {
        fail(messages.expired);
      } else if (body.status === "complete") {
        stop();
        hide(".while-pending");
        say(messages.complete, "complete");
        location.assign(body.redirect);
      } else if (body.status === "failed") {
        fail(message(body.hint, body.code));
      } else {
        if (body.hint === "userSign") {
          hide("#qr-box");
        }
        say(message(body.hint, null), "pending");
      }
    }).catch(function () {
      // Offline for a moment: keep polling.
    });
  }

  if (cancelForm) {
    cancelForm.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch("/login/mobile/cancel", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ order: root.dataset.order }),
      }).then(function (response) {
        if (!response.ok) {
          throw new Error("cancel refused");
        }
        fail(messages.cancelled);
        retry.focus();
      }).catch(function () {
        cancelForm.submit();
      });
    });
  }

  if (!retry.hidden) {
    return; // The order had already failed when the page was rendered.
  }
  timers.push(setInterval(refreshQr, 1000));
  timers.push(setInterval(poll, 2000));
})();
