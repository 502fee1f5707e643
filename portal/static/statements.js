// Statement page (no inline script: CSP script-src 'self'): the dispute form counts the lines ticked and marks their
// rows; each resolve form shows the credit-note fields (amount, date) only when "credit note" is chosen.
(function () {
  var dispute = document.querySelector("[data-dispute-form]");
  if (dispute) {
    var counter = dispute.querySelector("[data-picked-count]");
    var boxes = dispute.querySelectorAll("input[name='line_id']");
    var update = function () {
      var n = 0;
      boxes.forEach(function (box) {
        var row = box.closest("tr");
        if (row) { row.classList.toggle("line-picked", box.checked); }
        if (box.checked) { n += 1; }
      });
      if (counter) { counter.textContent = counter.getAttribute("data-template").replace("__N__", String(n)); }
    };
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  document.querySelectorAll("[data-resolve-form]").forEach(function (form) {
    var action = form.querySelector("[data-resolve-action]");
    var only = form.querySelectorAll("[data-credit-note-only]");
    if (!action) { return; }
    var update = function () {
      var on = action.value === "credit_note";
      only.forEach(function (input) {
        input.disabled = !on;  // a disabled field is not sent: a rejection carries no amount
        var box = input.parentElement;
        if (box) { box.classList.toggle("d-none", !on); }
      });
    };
    action.addEventListener("change", update);
    update();
  });
})();
