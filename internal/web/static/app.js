// winnow's site script: keyboard shortcuts, answers without a page load and
// class help on the Label page, larger examples on the Learn page, and
// polling while a round closes. Every action also works as a plain form
// without it; the server decides what comes next either way.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function typing(el) {
    if (!el) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var t = (el.type || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"].indexOf(t) < 0;
  }

  // An overlay (the key map, an enlarged example) open at the moment.
  function openOverlay() {
    var o = document.querySelector(".overlay:not([hidden])");
    return o || null;
  }
  function toggle(el, show) {
    if (!el) return;
    el.hidden = show === undefined ? !el.hidden : !show;
  }

  // ---- Label page -------------------------------------------------------
  //
  // With the script an answer is a fetch. The image that follows (named by
  // the server in its last reply and prefetched) is shown at the key press;
  // the server's reply then confirms it or puts the right one in its place,
  // and a refused answer brings its image back with the reason.

  var label = {
    enhanced: false, // answers go by fetch; else as plain form posts
    busy: false,     // an answer is on its way: further keys wait for it
    sent: false,     // plain posts: one per page load
    pressedAt: 0,
    upcoming: [],    // [{id, position}] from the server: what follows the current image
    shown: null,     // {id, position, total, answer, bad}: the image the page shows
    images: {},      // id -> Image, prefetched
  };

  function prefetch(id) {
    if (!id || label.images[id]) return;
    var im = new Image();
    im.src = "/img/" + id;
    if (im.decode) im.decode().catch(function () {});
    label.images[id] = im;
  }

  function submitWith(button, at) {
    if (!button || button.disabled) return;
    if (label.enhanced ? label.busy : label.sent) return;
    label.pressedAt = at || performance.now();
    if (!label.enhanced) label.sent = true;
    button.classList.add("pressed");
    var form = button.form;
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }

  function unpress() {
    document.querySelectorAll("button.pressed").forEach(function (b) { b.classList.remove("pressed"); });
  }

  function flash(msg) {
    var f = $("flash");
    if (!f) return;
    f.textContent = msg;
    f.classList.toggle("hidden", !msg);
  }

  // painted resolves with the time the photo is decoded and on screen.
  function painted() {
    var photo = $("photo");
    return (photo.decode ? photo.decode() : Promise.resolve()).catch(function () {}).then(function () {
      return new Promise(function (ok) { requestAnimationFrame(function () { ok(performance.now()); }); });
    });
  }

  function measure(name, start, end) {
    try { performance.measure(name, { start: start, end: end }); } catch (e) {}
  }

  // showImage puts an item in the viewer and the form, with its current
  // answer, and remembers it as label.shown.
  function showImage(id, position, total, answer, bad) {
    label.shown = { id: id, position: position, total: total, answer: answer || "", bad: !!bad };
    var photo = $("photo");
    prefetch(id);
    photo.src = label.images[id].src;
    photo.alt = "image " + id + " to label";
    photo.dataset.item = id;
    $("viewer").classList.remove("zoomed");
    $("zoom-link").href = "/img/" + id;
    $("item").value = id;
    $("position").textContent = "Image " + position + " of " + total;
    $("current").hidden = !answer;
    $("current-answer").textContent = answer || "";
    $("bad").checked = !!bad;
  }

  function thumb(entry, size) {
    var li = document.createElement("li");
    li.dataset.item = entry.id;
    var a = document.createElement("a");
    a.href = "/label?item=" + entry.id;
    a.title = "change this answer";
    var img = document.createElement("img");
    img.src = "/img/" + entry.id;
    img.alt = "image " + entry.id;
    img.width = img.height = size;
    var span = document.createElement("span");
    span.textContent = entry.answer || "not yet";
    a.append(img, span);
    li.append(a);
    return li;
  }

  // show puts the server's reply on the page: the next image (if it is not
  // the one already shown), progress, the last answers and the whole batch.
  function show(j, at, guessed) {
    if (j.locked || !j.round || j.state !== "open" || !j.next) {
      location.assign("/label"); // every other state is the server's page to render
      return;
    }
    var n = j.next, shown;
    if (guessed && guessed.id === n.id) {
      shown = guessed.painted;
      if (n.position !== label.shown.position || j.total !== label.shown.total) {
        showImage(n.id, n.position, j.total, n.answer, n.bad); // same image, the server's place for it
      }
    } else {
      showImage(n.id, n.position, j.total, n.answer, n.bad);
      shown = painted();
    }
    var p = $("progress");
    p.max = j.total; p.value = j.answered;
    $("progress-text").textContent = j.answered + " of " + j.total + " answered";
    var saved = $("saved");
    saved.classList.toggle("hidden", !j.saved);
    if (j.saved) {
      var strong = document.createElement("strong");
      strong.textContent = j.answer;
      saved.replaceChildren("Saved: ", strong, " for image " + j.item);
    }
    var undone = $("undone");
    if (undone) undone.remove();
    if (j.undone) {
      undone = document.createElement("p");
      undone.id = "undone"; undone.className = "success"; undone.setAttribute("role", "status");
      undone.textContent = "Undone. Answer this image again, or move on.";
      saved.after(undone);
    }
    var strip = $("strip");
    strip.replaceChildren.apply(strip, j.recent.map(function (e) { return thumb(e, 44); }));
    document.querySelector("#undo button").disabled = j.recent.length === 0;
    // The whole batch: only the entries whose answer changed are redrawn.
    j.queue.forEach(function (e) {
      var li = document.querySelector('#mine li[data-item="' + e.id + '"]');
      var text = e.answer || "not yet";
      if (li && li.querySelector("span").textContent !== text) li.querySelector("span").textContent = text;
    });
    unpress();
    clearFilter();
    label.upcoming = j.upcoming;
    j.upcoming.forEach(function (u) { prefetch(u.id); });
    history.replaceState(null, "", "/label");
    label.busy = false;
    var acked = performance.now();
    shown.then(function (t) {
      measure("winnow:key-to-saved", at, acked);
      measure("winnow:key-to-next", at, t);
    });
  }

  function post(form, body, guess) {
    var at = label.pressedAt || performance.now();
    label.pressedAt = 0;
    label.busy = true;
    flash("");
    // The flag is the one thing changed on the page since it was shown.
    var before = Object.assign({}, label.shown, { bad: $("bad").checked }), guessed = null;
    var g = guess && label.upcoming[0];
    if (g && label.images[g.id] && label.images[g.id].complete) {
      showImage(g.id, g.position, before.total, "", false);
      guessed = { id: g.id, painted: painted() };
    }
    var csrf = form.querySelector('input[name="csrf"]').value;
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, status: r.status, j: j }; },
        function () { return { ok: false, status: r.status, j: {} }; });
    }).then(function (res) {
      if (res.ok) { show(res.j, at, guessed); return; }
      refused(before, (res.j.error || "The server refused that (" + res.status + ").") + " ", res.status === 409);
    }).catch(function () {
      refused(before, "Could not reach the server, so that was not saved. Try again.", false);
    });
  }

  // refused puts back the image whose answer did not go through.
  function refused(before, msg, closed) {
    if (label.shown.id !== before.id) showImage(before.id, before.position, before.total, before.answer, before.bad);
    label.busy = false;
    unpress();
    flash(msg);
    if (closed) { // the round closed under us: nothing more can be answered here
      document.querySelectorAll("#answer button, #undo button").forEach(function (b) { b.disabled = true; });
      var a = document.createElement("a");
      a.href = "/label"; a.textContent = "Reload";
      $("flash").append(a);
    }
  }

  function enhanceLabel() {
    var form = $("answer");
    if (!form || !window.fetch || !window.URLSearchParams) return;
    label.enhanced = true;
    var photo = $("photo");
    label.shown = { id: +photo.dataset.item, position: +photo.dataset.position, total: +$("progress").max,
      answer: $("current").hidden ? "" : $("current-answer").textContent, bad: $("bad").checked };
    form.dataset.upcoming.split(" ").forEach(function (s) {
      var f = s.split(":");
      if (f.length === 2) { label.upcoming.push({ id: +f[0], position: +f[1] }); prefetch(+f[0]); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (label.busy) return;
      var body = new URLSearchParams(new FormData(form));
      var b = e.submitter;
      if (b && b.name) body.append(b.name, b.value);
      if (!label.pressedAt) label.pressedAt = e.timeStamp;
      post(form, body, true);
    });
    // A click records when it happened, as a key press does.
    form.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[type=submit]");
      if (b && !label.busy) label.pressedAt = e.timeStamp;
    }, true);
    var undo = $("undo");
    undo.addEventListener("submit", function (e) {
      e.preventDefault();
      if (label.busy) return;
      if (!label.pressedAt) label.pressedAt = e.timeStamp;
      post(undo, new URLSearchParams(new FormData(undo)), false);
    });
  }

  // The filter box narrows the class buttons; Enter chooses the first left.
  function clearFilter() {
    var f = $("filter");
    if (!f || !f.value) return;
    f.value = "";
    filterClasses("");
  }
  function filterClasses(q) {
    q = q.trim().toLowerCase();
    document.querySelectorAll("#classes button").forEach(function (b) {
      b.hidden = q !== "" && b.value.toLowerCase().indexOf(q) < 0;
    });
  }
  function enhanceFilter() {
    var f = $("filter");
    if (!f) return;
    f.addEventListener("input", function () { filterClasses(f.value); });
    f.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault(); // the form's implicit submit would choose the first class, filtered or not
        var b = document.querySelector("#classes button:not([hidden])");
        if (b) { submitWith(b, e.timeStamp); f.blur(); }
      } else if (e.key === "Escape") {
        clearFilter(); f.blur();
      }
    });
  }

  // Class help: hover (or long-press on a touch screen) a class button for
  // its description and examples; the guide lights the same class.
  function enhanceHelp() {
    var guide = $("guide");
    if (!guide) return;
    try {
      if (localStorage.getItem("winnow.guide") === "open") guide.open = true;
    } catch (e) {}
    guide.addEventListener("toggle", function () {
      try { localStorage.setItem("winnow.guide", guide.open ? "open" : "closed"); } catch (e) {}
    });
    var tip = document.createElement("div");
    tip.className = "tip"; tip.hidden = true; tip.id = "tip"; tip.setAttribute("role", "tooltip");
    document.body.append(tip);
    var timer = 0, longPressed = false;
    function hint(b) {
      var g = $("guide-" + b.dataset.guide);
      document.querySelectorAll(".guide li.lit").forEach(function (li) { li.classList.remove("lit"); });
      if (!g) return;
      g.classList.add("lit");
      tip.replaceChildren.apply(tip, [].map.call(g.children, function (c) { return c.cloneNode(true); }));
      var r = b.getBoundingClientRect();
      tip.hidden = false;
      var left = Math.min(r.left + scrollX, scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
      tip.style.left = Math.max(scrollX + 4, left) + "px";
      tip.style.top = (r.bottom + scrollY + 6) + "px";
      b.removeAttribute("title"); // the tip replaces the browser's tooltip
    }
    function unhint() {
      clearTimeout(timer);
      tip.hidden = true;
      document.querySelectorAll(".guide li.lit").forEach(function (li) { li.classList.remove("lit"); });
    }
    document.querySelectorAll("#classes button").forEach(function (b) {
      b.addEventListener("mouseenter", function () { clearTimeout(timer); timer = setTimeout(function () { hint(b); }, 350); });
      b.addEventListener("mouseleave", unhint);
      b.addEventListener("touchstart", function () {
        longPressed = false;
        clearTimeout(timer);
        timer = setTimeout(function () { longPressed = true; hint(b); }, 500);
      }, { passive: true });
      b.addEventListener("touchmove", function () { clearTimeout(timer); }, { passive: true });
      b.addEventListener("touchend", function (e) {
        clearTimeout(timer);
        if (longPressed) { e.preventDefault(); setTimeout(unhint, 2500); } // a long press asks, it does not answer
      });
      b.addEventListener("contextmenu", function (e) { if (longPressed) e.preventDefault(); });
    });
  }

  function toggleZoom() {
    var v = $("viewer");
    if (v) v.classList.toggle("zoomed");
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var o = openOverlay();
    if (o) {
      if (e.key === "Escape" || e.key === "?") { toggle(o, false); e.preventDefault(); }
      return;
    }
    if (typing(e.target)) return;
    if (!document.body.classList.contains("page-label")) return;
    if (e.repeat) return; // a held key answers once
    var k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    switch (k) {
      case "?": toggle($("keymap"), true); e.preventDefault(); return;
      case "/":
        if ($("filter")) { $("filter").focus(); e.preventDefault(); }
        return;
      case "b":
        var bad = $("bad");
        if (bad) { bad.checked = !bad.checked; e.preventDefault(); }
        return;
      case "h":
        var g = $("guide");
        if (g) { g.open = !g.open; e.preventDefault(); }
        return;
      case "z": toggleZoom(); e.preventDefault(); return;
    }
    if (k.length !== 1) return;
    var btn = document.querySelector('button[data-key="' + CSS.escape(k) + '"]');
    if (btn) { e.preventDefault(); submitWith(btn, e.timeStamp); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    var photo = $("photo");
    if (photo) photo.addEventListener("click", toggleZoom);
    var zoom = $("zoom");
    if (zoom) zoom.addEventListener("click", toggleZoom);
    enhanceLabel();
    enhanceFilter();
    enhanceHelp();
    document.querySelectorAll(".overlay").forEach(function (o) {
      o.addEventListener("click", function (e) { if (e.target === o || o.id === "lightbox") toggle(o, false); });
    });

    // Learn page: an example opens larger in place.
    var box = $("lightbox");
    if (box) {
      document.querySelectorAll("a.zoomable").forEach(function (a) {
        a.addEventListener("click", function (e) {
          e.preventDefault();
          var img = box.querySelector("img");
          img.src = a.href;
          img.alt = a.querySelector("img").alt;
          toggle(box, true);
        });
      });
    }

    // Label page while the round closes: reload once the next round is open.
    var waiting = $("waiting");
    if (waiting) {
      setInterval(function () {
        fetch(waiting.dataset.poll, { headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (q) { if (q.state === "open") location.assign("/label"); })
          .catch(function () {});
      }, 2000);
    }

    // Admin: close the round in the background and show its progress.
    var form = $("close-form");
    var prog = $("close-progress");
    if (!form || !prog) return;
    var bar = $("close-bar");
    var stage = $("close-stage");
    var button = $("close");
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
