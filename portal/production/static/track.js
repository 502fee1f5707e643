// The tracking page (/track/<order or VIN>): polls GET /api/v1/track/<query> every few seconds and updates each
// unit's stepper, current stage, line and ETA in place, and the order's status (no inline script: CSP
// script-src 'self'). Times are written as YYYY-MM-DD HH:MM in the portal's timezone, as the server writes them.
(function () {
  "use strict";
  var root = document.querySelector("[data-track-url]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-track-url");
  var interval = parseInt(root.getAttribute("data-interval") || "5000", 10);
  var doneLabel = root.getAttribute("data-done-label") || "";
  var parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: root.getAttribute("data-tz") || "Asia/Shanghai",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });

  function local(iso) {
    if (!iso) { return ""; }
    var p = {};
    parts.formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }

  function setText(el, value) {
    if (!el || el.textContent === value) { return; }
    el.textContent = value;
    el.classList.remove("just-changed");
    void el.offsetWidth; // restart the highlight
    el.classList.add("just-changed");
  }

  function applyUnit(u) {
    var card = root.querySelector('[data-unit="' + u.serial + '"]');
    if (!card) { return; }
    card.setAttribute("data-stage", u.stage);
    setText(card.querySelector("[data-stage-label]"), u.stage_label);
    setText(card.querySelector("[data-line]"), u.line || "\u2014");
    setText(card.querySelector("[data-eta]"), u.eta ? local(u.eta) : doneLabel);
    var late = card.querySelector("[data-late]");
    if (late) { late.classList.toggle("d-none", !u.late); }
    u.stages.forEach(function (s) {
      var step = card.querySelector('[data-step="' + s.stage + '"]');
      if (!step) { return; }
      step.classList.toggle("is-current", s.current);
      step.classList.toggle("is-done", s.done && !s.current);
      step.classList.toggle("is-todo", !s.done);
      if (s.current) { step.setAttribute("aria-current", "step"); } else { step.removeAttribute("aria-current"); }
      setText(step.querySelector("[data-at]"), s.at ? local(s.at) : "");
    });
  }

  function apply(data) {
    var badge = root.querySelector("[data-order-status] .badge");
    if (badge) {
      badge.className = "badge order-status order-status-" + data.order_status;
      setText(badge, data.order_status_label);
    }
    setText(root.querySelector("[data-order-eta]"), data.eta ? local(data.eta) : "\u2014");
    data.units.forEach(applyUnit);
    var updated = root.querySelector("[data-updated]");
    if (updated) { updated.textContent = local(data.at); }
    root.setAttribute("data-polled", String((parseInt(root.getAttribute("data-polled") || "0", 10)) + 1));
  }

  function schedule(ms) { window.setTimeout(poll, ms); }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) { apply(data); schedule(interval); })
      .catch(function () { schedule(interval * 3); });
  }

  schedule(interval);
})();
