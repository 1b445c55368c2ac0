// Sandpiper console: the only script. It makes the preflight live as the user types and
// loads a chosen catalog file into its text area. Every form works without it.
"use strict";

(function () {
  function livePreflight(form) {
    var panel = document.getElementById("preflight");
    if (!panel) return;
    var timer = null;
    var sent = 0;
    function update() {
      var ticket = ++sent;
      var body = new URLSearchParams(new FormData(form));
      fetch("/console/preflight", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body.toString(),
        credentials: "same-origin"
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          // Only the newest answer is shown: an older one may arrive last.
          if (!answer || ticket !== sent) return;
          panel.innerHTML = answer.html;
          var fields = form.querySelectorAll("input[name], select[name], textarea[name]");
          fields.forEach(function (field) {
            var holder = document.getElementById(field.name + "-error");
            if (!holder) return;
            var message = answer.errors[field.name] || "";
            holder.textContent = message;
            if (message) { field.setAttribute("aria-invalid", "true"); }
            else { field.removeAttribute("aria-invalid"); }
          });
        })
        .catch(function () { /* the server-drawn panel stays; the next keystroke retries */ });
    }
    function soon() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(update, 250);
    }
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
  }

  function fileFills(input) {
    var target = document.getElementById(input.getAttribute("data-fills"));
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || !target) return;
      file.text().then(function (text) { target.value = text; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("draft-form");
    if (form) livePreflight(form);
    document.querySelectorAll("input[data-fills]").forEach(fileFills);
  });
})();
