// Clicktrail panel: a little help where it is worth it; every page works without this file.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });
  // The tracking-link builder: the link follows the fields as they are typed.
  var builder = document.querySelector("[data-link-builder]");
  if (builder) {
    var output = document.querySelector(builder.getAttribute("data-link-builder"));
    var base = builder.getAttribute("data-base");
    var update = function () {
      var params = new URLSearchParams();
      builder.querySelectorAll("input[name], select[name]").forEach(function (input) {
        if (input.value.trim() !== "") params.append(input.name, input.value.trim());
      });
      var query = params.toString();
      output.value = base + (query ? "?" + query : "");
    };
    builder.addEventListener("input", update);
    builder.addEventListener("change", update);
  }
  // Live totals: the dashboard's first row of cards follows today's figures every 15 s while
  // the page is visible.
  var live = document.querySelector("[data-live]");
  if (live && window.fetch) {
    var refresh = function () {
      if (document.hidden) return;
      fetch(live.getAttribute("data-live"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          body.cards.forEach(function (card, i) {
            var value = live.querySelector('[data-card="' + i + '"]');
            if (value && value.textContent !== card.value) value.textContent = card.value;
          });
        })
        .catch(function () { /* the figures stay as they were; the next tick tries again */ });
    };
    setInterval(refresh, 15000);
    document.addEventListener("visibilitychange", refresh);
  }
  // Sortable lists: <table data-sortable>; a header click sorts the rows shown (numbers by
  // value, the rest alphabetically), a second click reverses. The server's order is the rest.
  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body) return;
    table.querySelectorAll("thead th").forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.classList.contains("num");
        var value = function (row) {
          var cell = row.cells[column];
          var text = cell ? cell.textContent.trim() : "";
          return numeric ? parseFloat(text.replace(/[^0-9.\-]/g, "")) || 0 : text.toLowerCase();
        };
        Array.prototype.slice.call(body.rows)
          .sort(function (a, b) {
            var x = value(a), y = value(b);
            return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
          })
          .forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  // Confirmation on destructive buttons: <button data-confirm="…">.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.hasAttribute("data-confirm") && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
