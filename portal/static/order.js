// The order builder (/orders/new): add and remove lines in place and price them live through
// POST /api/v1/orders/quote (the browser session, with the X-CSRFToken header from <meta name="csrf-token">).
// The form still posts normally (sku[] / quantity[]), so the page works without this script, and the server
// prices the order again when it is placed: nothing shown here is trusted.
// Money stays in strings and integer cents (BigInt); floats never touch it.
(function () {
  "use strict";
  var form = document.getElementById("order-builder");
  if (!form || !window.fetch) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var body = form.querySelector("[data-lines]");
  var empty = body.querySelector("[data-empty]");
  var template = document.getElementById("order-line-template");
  var statusEl = form.querySelector("[data-quote-status]");
  var creditMsg = form.querySelector("[data-credit-msg]");
  var availableEl = form.querySelector("[data-available]");
  var afterEl = form.querySelector("[data-after]");
  var refresh = form.querySelector("[data-refresh]");
  var onHold = !!document.querySelector("[data-hold]");
  var MAX = 100000;
  var seq = 0;
  var timer = null;

  if (refresh) { refresh.classList.add("d-none"); } // totals are live

  function label(name, values) {
    var text = form.getAttribute("data-" + name) || "";
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(String(values[k])); });
    return text;
  }

  function cents(s) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(s).trim());
    if (!m) { return null; }
    return BigInt(m[1] + m[2] + (m[3] || "").padEnd(2, "0"));
  }

  function fromCents(c) {
    var neg = c < BigInt(0);
    var digits = (neg ? -c : c).toString().padStart(3, "0");
    var whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + whole + "." + digits.slice(-2);
  }

  function fmt(s) {
    var c = cents(s);
    return c === null ? String(s) : fromCents(c);
  }

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-line]")); }
  function skuOf(row) { return row.querySelector('input[name="sku[]"]').value; }
  function qtyInput(row) { return row.querySelector('input[name="quantity[]"]'); }

  function qtyOf(input) {
    var v = input.value.trim();
    if (!/^\d+$/.test(v)) { return null; }
    var n = parseInt(v, 10);
    return n >= 1 && n <= MAX ? n : null;
  }

  function setText(root, selector, text) {
    root.querySelectorAll(selector).forEach(function (el) { el.textContent = text; });
  }

  function clearPrices(row) {
    ["[data-unit-price]", "[data-net]", "[data-tax]", "[data-gross]"].forEach(function (s) { setText(row, s, "—"); });
    setText(row, "[data-rule]", "");
  }

  function setErrors(row, messages) {
    var box = row.querySelector("[data-errors]");
    box.textContent = "";
    messages.forEach(function (m) {
      var div = document.createElement("div");
      div.textContent = m;
      box.appendChild(div);
    });
    qtyInput(row).classList.toggle("is-invalid", messages.length > 0);
  }

  function plainPct(s) { // Decimal.normalize() writes 10 as "1E+1"
    var m = /^(\d+)E\+(\d+)$/.exec(String(s));
    return m ? m[1] + "0".repeat(parseInt(m[2], 10)) : String(s);
  }

  function ruleText(rule) {
    if (!rule) { return label("label-list"); }
    var how = rule.discount_pct !== undefined && rule.discount_pct !== null
      ? label("label-off", {pct: plainPct(rule.discount_pct)})
      : label("label-fixed", {price: fmt(rule.unit_price)});
    var from = rule.min_qty > 1 ? label("label-from", {n: rule.min_qty}) + " · " : "";
    return rule.price_list + " · " + from + how;
  }

  function showCredit(gross, available) {
    var g = cents(gross), a = cents(available);
    if (g === null || a === null) { return; }
    var after = a - g;
    availableEl.textContent = fromCents(a);
    availableEl.classList.toggle("text-danger", a < BigInt(0));
    afterEl.textContent = fromCents(after);
    afterEl.classList.toggle("text-danger", after < BigInt(0));
    creditMsg.classList.toggle("d-none", rows().length === 0 || onHold);
    var review = g > a;
    creditMsg.textContent = review ? label("msg-review", {x: fromCents(g - a)}) : label("msg-fits");
    creditMsg.classList.toggle("alert-warning", review);
    creditMsg.classList.toggle("alert-success", !review);
  }

  function setTotals(net, tax, gross) {
    setText(form, '[data-total="net"]', fmt(net));
    setText(form, '[data-total="tax"]', fmt(tax));
    setText(form, '[data-total="gross"]', fmt(gross));
  }

  // API errors: {"lines.0.quantity": [...]} from the service, {"lines": {"0": {"quantity": [...]}}} from the schema
  function lineErrors(fields) {
    var out = {general: []};
    function add(i, msgs) {
      (out[i] = out[i] || []).push.apply(out[i], Array.isArray(msgs) ? msgs : [String(msgs)]);
    }
    Object.keys(fields || {}).forEach(function (key) {
      var value = fields[key];
      var m = /^lines\.(\d+)/.exec(key);
      if (m) {
        add(m[1], value);
      } else if (key === "lines" && value && !Array.isArray(value) && typeof value === "object") {
        Object.keys(value).forEach(function (i) {
          var v = value[i];
          if (Array.isArray(v)) { add(i, v); } else { Object.keys(v).forEach(function (f) { add(i, v[f]); }); }
        });
      } else {
        add("general", value);
      }
    });
    return out;
  }

  function apply(data) {
    var all = rows();
    data.lines.forEach(function (ln, i) {
      var row = all[i];
      if (!row) { return; }
      setText(row, "[data-unit-price]", fmt(ln.unit_price));
      setText(row, "[data-net]", fmt(ln.net));
      setText(row, "[data-tax]", fmt(ln.tax));
      setText(row, "[data-gross]", fmt(ln.gross));
      setText(row, "[data-rule]", ruleText(ln.rule));
    });
    setTotals(data.net, data.tax, data.gross);
    availableEl.setAttribute("data-value", data.available);
    onHold = onHold || !!data.on_hold;
    showCredit(data.gross, data.available);
  }

  function quote() {
    window.clearTimeout(timer);
    var all = rows();
    var mine = ++seq;
    empty.classList.toggle("d-none", all.length > 0);
    var lines = [];
    var bad = false;
    all.forEach(function (row) {
      var q = qtyOf(qtyInput(row));
      setErrors(row, q === null ? [label("msg-quantity")] : []);
      if (q === null) { bad = true; clearPrices(row); }
      lines.push({sku: skuOf(row), quantity: q});
    });
    statusEl.textContent = "";
    if (all.length === 0) {
      setTotals("0.00", "0.00", "0.00");
      showCredit("0.00", availableEl.getAttribute("data-value"));
      return;
    }
    if (bad) { return; }
    fetch(form.getAttribute("data-quote-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({lines: lines})
    })
      .then(function (r) {
        return r.json().then(function (data) { return {ok: r.ok, status: r.status, data: data}; });
      })
      .then(function (res) {
        if (mine !== seq) { return; } // a newer quote is on its way
        if (res.ok) {
          apply(res.data);
        } else if (res.status === 422 && res.data && res.data.error) {
          var errs = lineErrors(res.data.error.fields);
          rows().forEach(function (row, i) {
            setErrors(row, errs[String(i)] || []);
            if (errs[String(i)]) { clearPrices(row); }
          });
          statusEl.textContent = errs.general.join(" ") || res.data.error.message;
        } else {
          statusEl.textContent = (res.data && res.data.error && res.data.error.message) || label("msg-failed");
        }
      })
      .catch(function () { if (mine === seq) { statusEl.textContent = label("msg-failed"); } });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(quote, 300);
  }

  function addLine(sku, name, qty) {
    var existing = rows().filter(function (r) { return skuOf(r) === sku; })[0];
    if (existing) {
      var input = qtyInput(existing);
      input.value = Math.min(MAX, (qtyOf(input) || 0) + qty);
      return;
    }
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelector('input[name="sku[]"]').value = sku;
    qtyInput(row).value = qty;
    row.querySelector('button[name="remove"]').value = sku;
    setText(row, "[data-sku]", sku);
    setText(row, "[data-name]", name);
    body.insertBefore(row, empty);
  }

  form.addEventListener("click", function (e) {
    var btn = e.target.closest("button");
    if (!btn || !form.contains(btn)) { return; }
    if (btn.name === "add") {
      e.preventDefault();
      var product = btn.closest("tr[data-product]");
      var input = product.querySelector("input.input-qty");
      var qty = qtyOf(input);
      input.classList.toggle("is-invalid", qty === null);
      if (qty === null) { return; }
      addLine(btn.value, product.getAttribute("data-title") || "", qty);
      input.value = "1";
      btn.classList.replace("btn-outline-primary", "btn-success");
      window.setTimeout(function () { btn.classList.replace("btn-success", "btn-outline-primary"); }, 700);
      quote();
    } else if (btn.name === "remove") {
      e.preventDefault();
      btn.closest("tr[data-line]").remove();
      quote();
    }
  });

  body.addEventListener("input", function (e) {
    if (e.target.name === "quantity[]") { schedule(); }
  });

  form.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.target.tagName !== "INPUT") { return; }
    if (e.target.name === "quantity[]") {
      e.preventDefault();
      quote();
    } else if (e.target.closest("tr[data-product]")) {
      e.preventDefault();
      e.target.closest("tr[data-product]").querySelector('button[name="add"]').click();
    }
  });

  form.addEventListener("submit", function (e) {
    var by = e.submitter;
    if (by && by.value === "place") {
      window.setTimeout(function () { by.disabled = true; }, 0); // one click, one order
    }
  });
})();
