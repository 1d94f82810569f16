/* The front desk's enhancements (templates/desk/day.html and visit.html), on staff pages
   after htmx. Every page works without this file: the single-key shortcuts, the moving now
   line, the background refresh and its pauses are extras. It never reads the browser's
   time zone (the server gives the clinic's offset) and never sets an inline style (the
   CSP forbids them): the now line moves by class, desk-at-N and desk-nudge-N. */
(function () {
  "use strict";

  var SHORTCUTS_KEY = "clinic.desk.shortcuts";
  var SLOT_MINUTES = 15;
  var REFRESH_MS = 60000;

  function byId(id) {
    return document.getElementById(id);
  }

  // --- Messages: the permanent role="status" region of templates/base.html ---------------

  function announce(text) {
    var region = byId("messages");
    if (!region) return;
    var note = region.querySelector(".desk-announce");
    if (!note) {
      note = document.createElement("p");
      note.className = "desk-announce visually-hidden";
      region.appendChild(note);
    }
    // Emptied first, then filled a moment later, so that the same words are read again.
    note.textContent = "";
    window.setTimeout(function () {
      note.textContent = text;
    }, 100);
  }

  // --- Single-key shortcuts (WCAG 2.1.4: they can be switched off) ------------------------

  function shortcutsOn() {
    try {
      return window.localStorage.getItem(SHORTCUTS_KEY) !== "off";
    } catch (error) {
      return true;
    }
  }

  function rememberShortcuts(on) {
    try {
      window.localStorage.setItem(SHORTCUTS_KEY, on ? "on" : "off");
    } catch (error) {
      /* Storage refused (private mode): the choice lasts for this page only. */
    }
  }

  function typingIn(target) {
    return (
      target instanceof Element &&
      target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])") !== null
    );
  }

  function follow(id) {
    var link = byId(id);
    if (link) link.click();
    return Boolean(link);
  }

  function showShortcuts() {
    var list = byId("desk-shortcuts");
    if (!list) return false;
    list.open = true;
    list.querySelector("summary").focus();
    return true;
  }

  function escape(event) {
    var list = byId("desk-shortcuts");
    if (list && list.open && list.contains(document.activeElement)) {
      list.open = false;
      list.querySelector("summary").focus();
      event.preventDefault();
      return;
    }
    // From a visit's panel back to the day, onto the card it came from (#visit-N).
    var back = byId("desk-back");
    if (back && !typingIn(event.target)) {
      event.preventDefault();
      window.location.assign(back.href);
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      escape(event);
      return;
    }
    // Only on the day page (where the list of shortcuts is), never while typing.
    if (!byId("desk-shortcuts") || typingIn(event.target) || !shortcutsOn()) return;
    var done = false;
    if (event.key === "t") done = follow("desk-today");
    else if (event.key === "n") done = follow("desk-next");
    else if (event.key === "p") done = follow("desk-previous");
    else if (event.key === "?") done = showShortcuts();
    else if (event.key === "/") {
      var field = byId("day");
      if (field) {
        field.focus();
        done = true;
      }
    }
    if (done) event.preventDefault();
  });

  function setUpShortcuts() {
    var list = byId("desk-shortcuts");
    var toggle = byId("desk-shortcut-keys");
    if (!list || !toggle) return;
    list.hidden = false;
    toggle.checked = shortcutsOn();
    if (toggle.dataset.bound) return;
    toggle.dataset.bound = "1";
    toggle.addEventListener("change", function () {
      rememberShortcuts(toggle.checked);
      announce(toggle.checked ? "Single-key shortcuts are on." : "Single-key shortcuts are off.");
    });
  }

  // --- Focus on arrival ------------------------------------------------------------------

  function focusCard() {
    // Back from a panel (#visit-N names the card's client): focus the card's link. After
    // the load and a frame: Chromium moves focus away from a fragment's target that is
    // not focusable itself once the page can render.
    var match = /^#visit-[0-9]+$/.exec(window.location.hash);
    var name = match && byId(match[0].slice(1));
    var link = name && name.closest("a");
    if (!link) return;
    var focus = function () {
      window.requestAnimationFrame(function () {
        link.focus();
      });
    };
    if (document.readyState === "complete") focus();
    else window.addEventListener("load", focus);
  }

  function focusArrival() {
    if (/^#visit-[0-9]+$/.test(window.location.hash)) {
      focusCard();
      return;
    }
    // A panel opened from the day: focus its heading, as a side panel would.
    var heading = byId("visit-heading");
    if (heading && byId("desk-back") && cameFromDay()) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  function cameFromDay() {
    try {
      var from = new URL(document.referrer);
      return from.origin === window.location.origin && /^\/desk\/([0-9]{4}-[0-9]{2}-[0-9]{2})?$/.test(from.pathname);
    } catch (error) {
      return false;
    }
  }

  // --- The now line: placed by the server, moved here each minute --------------------------

  var clock = null;

  function clockTime(minutesOfDay) {
    var minutes = ((minutesOfDay % 1440) + 1440) % 1440;
    var hour = Math.floor(minutes / 60);
    var minute = minutes % 60;
    if (minute === 0 && hour === 12) return "midday";
    if (minute === 0 && hour === 0) return "midnight";
    return (hour % 12 || 12) + (minute ? ":" + (minute < 10 ? "0" : "") + minute : "") + (hour < 12 ? "am" : "pm");
  }

  function setPlace(element, prefix, number) {
    Array.prototype.slice.call(element.classList).forEach(function (name) {
      if (name.indexOf(prefix) === 0) element.classList.remove(name);
    });
    element.classList.add(prefix + number);
  }

  function adoptClock() {
    // The server's now, as it rendered the line, counted on from this moment by the
    // monotonic clock: neither the device's clock nor its zone is trusted.
    var label = document.querySelector(".desk-now-label");
    clock = label ? { label: label, at: Number(label.dataset.now), since: window.performance.now() } : null;
  }

  function moveNowLine() {
    if (!clock || !clock.label.isConnected) adoptClock();
    if (!clock) return null;
    var label = clock.label;
    var line = label.parentElement;
    var now = clock.at + (window.performance.now() - clock.since) / 1000;
    if (now >= Number(label.dataset.gridEnd)) {
      line.hidden = true;
      return now;
    }
    var minutes = Math.floor((now - Number(label.dataset.gridStart)) / 60);
    setPlace(line, "desk-at-", Math.floor(minutes / SLOT_MINUTES) + 1);
    setPlace(line, "desk-nudge-", minutes % SLOT_MINUTES);
    var time = clockTime(Math.floor(now / 60) + Number(label.dataset.zoneOffset));
    label.textContent = "Now, " + time;
    var note = document.querySelector(".zone-note");
    if (note) {
      Array.prototype.forEach.call(note.childNodes, function (node) {
        if (node.nodeType === Node.TEXT_NODE && node.nodeValue.indexOf("It is now ") !== -1) {
          node.nodeValue = node.nodeValue.replace(/It is now [^.]+\./, "It is now " + time + ".");
        }
      });
    }
    return now;
  }

  function tick() {
    var now = moveNowLine();
    // Just after the next whole minute of the server's clock.
    var wait = now === null ? REFRESH_MS : (60 - (now % 60)) * 1000 + 200;
    window.setTimeout(tick, wait);
  }

  // --- The background refresh of the grid (hx-trigger="every 60s" on #desk-live) ----------

  var lastRefresh = window.performance.now();
  var kept = null;

  function focusInForm() {
    var active = document.activeElement;
    return Boolean(active && active.closest && active.closest("form"));
  }

  function outline(live) {
    return Array.prototype.map
      .call(live.querySelectorAll(".desk-col, .desk-todo"), function (part) {
        return part.textContent.replace(/\s+/g, " ");
      })
      .join("|");
  }

  function keep(live) {
    var scroller = byId("desk-scroll");
    var active = document.activeElement;
    var focus = null;
    if (active && live.contains(active)) {
      focus = { id: active.id, href: active.getAttribute("href"), className: active.className };
    }
    return {
      left: scroller ? scroller.scrollLeft : 0,
      top: scroller ? scroller.scrollTop : 0,
      focus: focus,
      outline: outline(live),
    };
  }

  function sameElement(live, focus) {
    if (focus.id) return byId(focus.id);
    if (!focus.href) return null;
    var links = live.querySelectorAll("a[href]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("href") === focus.href && links[i].className === focus.className) return links[i];
    }
    return null;
  }

  function restore(live, before) {
    var scroller = byId("desk-scroll");
    if (scroller) {
      scroller.scrollLeft = before.left;
      scroller.scrollTop = before.top;
    }
    var active = document.activeElement;
    if (before.focus && (!active || active === document.body || !active.isConnected)) {
      var again = sameElement(live, before.focus);
      if (again) again.focus({ preventScroll: true });
    }
    if (outline(live) !== before.outline) announce("The day's appointments have changed.");
  }

  document.addEventListener("htmx:confirm", function (event) {
    if (event.detail.elt.id !== "desk-live") return;
    // Never while someone is filling in a form, nor for a screen nobody is looking at.
    if (document.hidden || focusInForm()) event.preventDefault();
  });

  document.addEventListener("visibilitychange", function () {
    var live = byId("desk-live");
    if (!document.hidden && live && window.htmx && window.performance.now() - lastRefresh > REFRESH_MS) {
      window.htmx.trigger(live, "desk-refresh");
    }
  });

  function responsePath(xhr) {
    try {
      return xhr.responseURL ? new URL(xhr.responseURL).pathname : null;
    } catch (error) {
      return null;
    }
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var target = detail.target;
    if (!target || (target.id !== "desk-live" && target.id !== "main")) return;
    var path = responsePath(detail.xhr);
    if (path !== null && path.indexOf("/desk/") !== 0) {
      // Signed out meanwhile (or sent elsewhere): that is a whole page of its own.
      detail.shouldSwap = false;
      window.location.assign(detail.xhr.responseURL);
      return;
    }
    if (target.id === "desk-live") {
      // Left alone when the answer failed, or when the day was changed meanwhile.
      if (detail.xhr.status !== 200 || !target.isConnected) {
        detail.shouldSwap = false;
        return;
      }
      kept = keep(target);
      lastRefresh = window.performance.now();
    } else if (detail.xhr.status >= 400 && detail.xhr.status < 500) {
      // A date the desk cannot show answers with its own page saying why (400), as it
      // does without JavaScript.
      detail.shouldSwap = true;
      detail.isError = false;
    } else if (detail.xhr.status >= 500) {
      detail.shouldSwap = false;
      window.location.assign(detail.pathInfo.finalRequestPath);
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var swapped = event.target;
    if (swapped.id === "desk-live" && kept) {
      var before = kept;
      kept = null;
      adoptClock();
      moveNowLine();
      restore(swapped, before);
    } else if (swapped.id === "main") {
      setUpShortcuts();
      adoptClock();
      var summary = swapped.querySelector(".error-summary");
      if (summary) {
        summary.focus();
        return;
      }
      var heading = swapped.querySelector("h1");
      var region = byId("messages");
      if (heading && !(region && region.querySelector(".flash"))) announce(heading.textContent.trim());
    }
  });

  // --- Print buttons (the clearance letter): the CSP forbids onclick, so they are wired
  // here, and hidden until then since without this file they would do nothing.

  function setUpPrintButtons() {
    var buttons = document.querySelectorAll("button[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function () {
        window.print();
      });
    }
  }

  function start() {
    setUpPrintButtons();
    setUpShortcuts();
    focusArrival();
    adoptClock();
    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
