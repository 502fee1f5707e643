// The order builder (/orders/new) and the amendment page (/orders/<number>/amend).
//
// Both pages are plain forms that work without this script: every button posts and the server answers the page.
// This script sends the same forms with fetch and the header `X-Requested-With: order.js`; the server answers JSON
// {ok, message, count, field_errors, fragments} and the parts of the page that changed (`[data-fragment=name]`) are
// replaced by the server's HTML. Nothing is priced here: every figure comes from the server.
//
// - product cards (`form[data-add-form]`): Add puts the product into the draft; the basket and the phone's bar
//   update in place and a message says what was added;
// - a live form (`form[data-live=<action>]`): a changed field posts the form with that action (the builder saves
//   the draft, the amendment page recalculates); buttons marked `data-live-button` (remove, add, search) post
//   their own name and value; the other buttons (place the order, save the amendment) submit the page as usual,
//   once: the button is disabled after the first click;
// - `form[data-confirm]` asks first.
//
// Requests go one at a time, in order, so a slower earlier save never overwrites a later one. A change is sent with
// the form as it is when its turn comes (changes waiting together go as one); a button's request is built when it
// is clicked, so it names the line the user saw (the server refuses it if the draft has moved on since).
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !window.Promise) { return; }
  var HEADER = "order.js";
  var toast = document.querySelector("[data-toast]");
  var toastTimer = null;
  var queue = [];
  var running = false;
  var waiters = [];

  function say(message, ok) {
    if (!toast || !message) { return; }
    toast.textContent = message;
    toast.classList.toggle("alert-success", !!ok);
    toast.classList.toggle("alert-danger", !ok);
    toast.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { toast.hidden = true; }, ok ? 3000 : 6000);
  }

  // the element that had the focus, to give it back once its fragment is replaced
  function focusState() {
    var el = document.activeElement;
    if (!el || !el.id) { return null; }
    var state = {id: el.id};
    try { state.start = el.selectionStart; state.end = el.selectionEnd; } catch (e) { /* not a text field */ }
    return state;
  }

  function restoreFocus(state) {
    if (!state) { return; }
    var el = document.getElementById(state.id);
    if (!el || el === document.activeElement) { return; }
    el.focus({preventScroll: true});
    if (typeof state.start === "number") {
      try { el.setSelectionRange(state.start, state.end); } catch (e) { /* number inputs have no selection */ }
    }
  }

  function apply(data) {
    var focus = focusState();
    Object.keys(data.fragments || {}).forEach(function (name) {
      var old = document.querySelector('[data-fragment="' + name + '"]');
      if (!old) { return; }
      var holder = document.createElement("div");
      holder.innerHTML = data.fragments[name];
      var fresh = holder.firstElementChild;
      if (fresh) { old.replaceWith(fresh); }
    });
    document.querySelectorAll("[data-errors-for]").forEach(function (box) {
      var name = box.getAttribute("data-errors-for");
      var messages = (data.field_errors || {})[name] || [];
      box.textContent = "";
      messages.forEach(function (m) {
        var div = document.createElement("div");
        div.textContent = m;
        box.appendChild(div);
      });
      var form = box.closest("form");
      var input = form && form.querySelector('[name="' + name + '"]');
      if (input) { input.classList.toggle("is-invalid", messages.length > 0); }
    });
    var basket = document.getElementById("basket-form");
    if (basket && typeof data.count === "number") {
      basket.classList.toggle("is-empty", data.count === 0);
      var place = basket.querySelector("[data-place]");
      var bar = document.querySelector("[data-place-bar]");
      if (place && bar) { place.disabled = bar.disabled; }
    }
    restoreFocus(focus);
  }

  // a form's own address (form.action is shadowed by its buttons named "action")
  function urlOf(form) { return form.getAttribute("action") || window.location.href; }

  function formData(form, params) {
    var body = new FormData(form);
    Object.keys(params || {}).forEach(function (name) { body.set(name, params[name]); });
    return body;
  }

  function send(form, body) {
    return fetch(urlOf(form), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: {"X-Requested-With": HEADER, "Accept": "application/json"}
    }).then(function (r) {
      var type = r.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) { throw new Error("not json"); }
      return r.json();
    }).then(function (data) {
      apply(data);
      if (data.message) { say(data.message, data.ok); }
      return data;
    });
  }

  // no JSON (a session that ended, a server error): let the page post and show what happened
  function fallback(form, params) {
    Object.keys(params || {}).forEach(function (name) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = name;
      hidden.value = params[name];
      form.appendChild(hidden);
    });
    form.submit();
  }

  function busy(on) {
    running = on;
    document.body.toggleAttribute("data-order-busy", on); // a change is on its way to the server
  }

  function run() {
    var next = queue.shift();
    if (!next) {
      busy(false);
      waiters.splice(0).forEach(function (resolve) { resolve(); });
      return;
    }
    busy(true);
    next.form.setAttribute("aria-busy", "true");
    send(next.form, next.body || formData(next.form, next.params))
      .then(next.done || function () {})
      .catch(function () {
        queue = [];
        busy(false);
        fallback(next.form, next.params);
      })
      .finally(function () {
        next.form.removeAttribute("aria-busy");
        if (next.always) { next.always(); }
        run();
      });
  }

  // task: {form, params, change?, body?, done?, always?}
  function enqueue(task) {
    var last = queue[queue.length - 1];
    if (task.change && last && last.change && last.form === task.form) { return; } // already waiting to go
    queue.push(task);
    if (!running) { run(); }
  }

  function idle() {
    return running ? new Promise(function (resolve) { waiters.push(resolve); }) : Promise.resolve();
  }

  // ---------------------------------------------------------------- product cards: add to the draft in place
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches("form[data-add-form]")) { return; }
    e.preventDefault();
    if (!form.reportValidity()) { return; }
    var button = form.querySelector("[data-add]");
    if (button) { button.disabled = true; }
    enqueue({
      form: form,
      params: {},
      body: formData(form, {}),
      done: function (data) {
        if (!data.ok) { return; }
        var qty = form.querySelector('input[name="quantity"]');
        if (qty) { qty.value = "1"; }
        if (button) {
          button.classList.replace("btn-primary", "btn-success");
          window.setTimeout(function () { button.classList.replace("btn-success", "btn-primary"); }, 1200);
        }
      },
      always: function () { if (button) { button.disabled = false; } }
    });
  });

  // ---------------------------------------------------------------- live forms
  document.querySelectorAll("form[data-live]").forEach(function (form) {
    var action = form.getAttribute("data-live");

    form.addEventListener("change", function (e) {
      var el = e.target;
      if (!el.name || el.hasAttribute("data-no-live") || el.type === "hidden") { return; }
      enqueue({form: form, params: {action: action}, change: true});
    });

    form.addEventListener("click", function (e) {
      var button = e.target.closest("button[data-live-button]");
      if (!button || !form.contains(button)) { return; }
      e.preventDefault();
      var params = {action: action};
      params[button.name] = button.value;
      enqueue({form: form, params: params, body: formData(form, params)});
    });

    form.addEventListener("keydown", function (e) { // Enter in the search box searches
      var target = e.key === "Enter" && e.target.getAttribute && e.target.getAttribute("data-enter");
      var button = target && form.querySelector(target);
      if (button) {
        e.preventDefault();
        button.click();
      }
    });

    form.addEventListener("submit", function (e) {
      var by = e.submitter;
      var value = by ? by.value : "";
      if (!by || (by.name === "action" && value === action)) { // Enter, or the page's own "update" button
        e.preventDefault();
        enqueue({form: form, params: {action: action}, change: true});
        return;
      }
      if (running || queue.length) { // a change still on its way: submit once it has landed
        e.preventDefault();
        idle().then(function () { form.requestSubmit(by); });
        return;
      }
      window.setTimeout(function () { // one click, one order (the Idempotency-Key covers a second one anyway)
        document.querySelectorAll('button[value="' + value + '"]').forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // the bar's "Place the order" belongs to the basket form (form="basket-form"), so the handler above covers it too
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
