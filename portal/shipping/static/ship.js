// The ship form (/orders/<number>/ship): the amounts this shipment will invoice, updated as units are ticked and
// quantities typed, priced the way the server prices a shipment (unit price × quantity, tax rounded half up per line;
// the last shipment of a line takes what is left of its net and tax). The form posts normally and the server prices
// the shipment again: nothing shown here is trusted. Money stays in integer cents (BigInt); floats never touch it.
(function () {
  "use strict";
  var form = document.getElementById("ship-form");
  if (!form || typeof BigInt === "undefined") { return; }
  var ZERO = BigInt(0);

  function cents(s) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(s).trim());
    return m ? BigInt(m[1] + m[2] + (m[3] || "").padEnd(2, "0")) : null;
  }

  function rate(s) { // "0.1300" -> 1300 (ten-thousandths)
    var m = /^(\d+)(?:\.(\d{1,4}))?$/.exec(String(s).trim());
    return m ? BigInt(m[1] + (m[2] || "").padEnd(4, "0")) : null;
  }

  function fmt(c) {
    var neg = c < ZERO;
    var digits = (neg ? -c : c).toString().padStart(3, "0");
    var whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + whole + "." + digits.slice(-2);
  }

  function quantity(row, units) {
    if (units) { return units.querySelectorAll("input[data-unit]:checked").length; }
    var input = row.querySelector("input[data-qty]");
    if (!input) { return 0; }
    var text = input.value.trim();
    if (text === "") { return 0; }
    return /^\d+$/.test(text) ? parseInt(text, 10) : -1;
  }

  function update() {
    var total = { net: ZERO, tax: ZERO, gross: ZERO };
    form.querySelectorAll("tr[data-row]").forEach(function (row) {
      var units = form.querySelector("[data-units-of='" + row.getAttribute("data-row") + "']");
      var qty = quantity(row, units);
      var left = parseInt(row.getAttribute("data-left"), 10);
      var count = row.querySelector("[data-count]");
      if (count) { count.textContent = String(qty); }
      var cells = { net: row.querySelector("[data-net]"), tax: row.querySelector("[data-tax]"), gross: row.querySelector("[data-gross]") };
      var price = cents(row.getAttribute("data-unit-price"));
      var r = rate(row.getAttribute("data-tax-rate"));
      if (qty <= 0 || qty > left || price === null || r === null) {
        Object.keys(cells).forEach(function (k) { cells[k].textContent = "—"; });
        return;
      }
      var net, tax;
      if (qty === left) {
        net = cents(row.getAttribute("data-rest-net"));
        tax = cents(row.getAttribute("data-rest-tax"));
      } else {
        net = price * BigInt(qty);
        tax = (net * r + BigInt(5000)) / BigInt(10000);
      }
      var line = { net: net, tax: tax, gross: net + tax };
      Object.keys(cells).forEach(function (k) { cells[k].textContent = fmt(line[k]); total[k] += line[k]; });
    });
    form.querySelectorAll("[data-total]").forEach(function (el) { el.textContent = fmt(total[el.getAttribute("data-total")]); });
    var due = form.querySelector("[data-due]");
    var date = form.querySelector("input[name=shipped_on]");
    if (due && date && /^\d{4}-\d{2}-\d{2}$/.test(date.value)) {
      var d = new Date(date.value + "T00:00:00Z");
      d.setUTCDate(d.getUTCDate() + parseInt(form.getAttribute("data-terms"), 10));
      due.textContent = d.toISOString().slice(0, 10);
    }
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) { // one click ships once; the one-time key covers retries
    var button = event.submitter;
    if (button && button.value === "ship") {
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
    }
  });
  window.addEventListener("pageshow", function () { form.removeAttribute("data-sent"); });
  var preview = form.querySelector("[data-preview]");
  if (preview) { preview.classList.add("d-none"); } // the preview is live
  update();
})();
