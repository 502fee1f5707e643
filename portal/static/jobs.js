// Polls a job's state and updates its progress bar in place (no inline script: CSP script-src 'self').
(function () {
  var box = document.querySelector("[data-job-url]");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var label = box.querySelector("[data-job-label]");
  function poll() {
    fetch(box.getAttribute("data-job-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        var done = job.progress.done, total = job.progress.total || 0;
        if (total > 0) { bar.max = total; bar.value = done; }
        label.textContent = done + " / " + total;
        if (job.status === "finished" || job.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  if (box.getAttribute("data-job-status") === "queued" || box.getAttribute("data-job-status") === "running") {
    window.setTimeout(poll, 500);
  }
})();
