/* The console's one script (the Content-Security-Policy allows no inline script, and none from elsewhere).
   - An element with data-refresh="/overview/fragment" and data-every="30" is fetched again every so many
     seconds and swapped in, without a full reload; while the tab is hidden it waits. A session that ended
     (401) goes to the sign-in page.
   - A form with data-confirm="..." asks before it is sent.
   Pages work without it: every link and form is plain HTML. */
(function () {
  "use strict";

  function refresh(box) {
    var every = Math.max(5, parseInt(box.getAttribute("data-every") || "30", 10)) * 1000;
    var busy = false;
    function load() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(box.getAttribute("data-refresh"), {credentials: "same-origin", cache: "no-store",
                                               headers: {"Accept": "text/html", "X-Requested-With": "fetch"}})
        .then(function (answer) {
          if (answer.status === 401) { window.location.assign("/login"); return null; }
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) {
          if (html === null) { return; }
          var parsed = new DOMParser().parseFromString(html, "text/html");  // scripts in it never run
          box.replaceChildren.apply(box, Array.prototype.slice.call(parsed.body.childNodes));
          box.setAttribute("data-loaded", String(Date.now()));
        })
        .catch(function () { /* the network dropped: the next turn tries again */ })
        .then(function () { busy = false; });
    }
    window.setInterval(load, every);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { load(); } });
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    confirmForms();
  });
}());
