// winnow's only script: keyboard shortcuts and zoom on the Label page, and
// polling for a round being closed. Every action also works as a plain form.
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var t = (el.type || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].indexOf(t) < 0;
  }

  var sent = false; // one answer per page load: a held-down key must not answer twice

  function submitWith(button) {
    if (sent || !button || button.disabled) return;
    sent = true;
    button.classList.add("pressed");
    var form = button.form;
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }

  function toggleZoom() {
    var v = document.getElementById("viewer");
    if (v) v.classList.toggle("zoomed");
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (typing(e.target)) return;
    if (!document.body.classList.contains("page-label")) return;
    var k = e.key.toLowerCase();
    if (k === "b") {
      var bad = document.getElementById("bad");
      if (bad) { bad.checked = !bad.checked; e.preventDefault(); }
      return;
    }
    if (k === "z") { toggleZoom(); e.preventDefault(); return; }
    var btn = document.querySelector('button[data-key="' + CSS.escape(k) + '"]');
    if (btn) { e.preventDefault(); submitWith(btn); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    var photo = document.getElementById("photo");
    if (photo) photo.addEventListener("click", toggleZoom);
    var zoom = document.getElementById("zoom");
    if (zoom) zoom.addEventListener("click", toggleZoom);

    // Label page while the round closes: reload once the next round is open.
    var waiting = document.getElementById("waiting");
    if (waiting) {
      setInterval(function () {
        fetch(waiting.dataset.poll, { headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (q) { if (q.state === "open") location.assign("/label"); })
          .catch(function () {});
      }, 2000);
    }

    // Admin: close the round in the background and show its progress.
    var form = document.getElementById("close-form");
    var prog = document.getElementById("close-progress");
    if (!form || !prog) return;
    var bar = document.getElementById("close-bar");
    var stage = document.getElementById("close-stage");
    var button = document.getElementById("close");
    function poll() {
      fetch(prog.dataset.poll, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          stage.textContent = "Closing: " + (p.stage || "starting") + (p.total > 0 ? " (" + p.done + " of " + p.total + " steps)" : "");
          if (p.total > 0) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute("value"); }
          if (p.running) { setTimeout(poll, 1000); return; }
          if (p.error) { stage.textContent = "Closing failed: " + p.error; button.disabled = false; return; }
          location.assign("/admin");
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      button.disabled = true;
      prog.classList.remove("hidden");
      stage.textContent = "Closing: starting";
      var csrf = form.querySelector('input[name="csrf"]').value;
      fetch(form.action, { method: "POST", headers: { "X-CSRF-Token": csrf, Accept: "application/json" } })
        .then(function () { poll(); })
        .catch(function () { stage.textContent = "Could not reach the server."; button.disabled = false; });
    });
    if (!prog.classList.contains("hidden")) poll();
  });
})();
