// Time limits that warn and extend (WCAG 2.2.1, issue 15). Progressive: without this file the page already
// says when it ends and has a 「時間を延長する」 button (platform template _time_limit.html). With it, about two
// minutes before the end the live region (role="alert") says so, a second extend button appears beside it,
// and the page's own extend form is sent in the background, so nothing typed on the page is lost. A button
// that belongs to the page's form (the contact details) is left to submit that form: the server keeps what
// was typed. Texts come translated from the page's data attributes; no inline script (CSP).
(function () {
  "use strict";
  var box = document.querySelector("[data-time-limit]");
  if (!box || !window.fetch) { return; }
  var live = box.querySelector("[data-time-limit-live]");
  var extend = document.querySelector("[data-time-limit-extend]");
  var warnSeconds = parseInt(box.getAttribute("data-warn-seconds"), 10) || 120;
  var deadline = Date.parse(box.getAttribute("data-deadline"));
  var timers = [];
  var helper = null;
  var clock = new Intl.DateTimeFormat("ja-JP", { timeZone: "Asia/Tokyo", hour: "numeric", minute: "2-digit" });

  function say(text) { live.textContent = text; }

  function showHelper() {
    if (helper || !extend) { return; }
    helper = extend.cloneNode(true);
    helper.removeAttribute("name");
    helper.removeAttribute("data-time-limit-extend");
    helper.type = "button";
    helper.addEventListener("click", function () { extend.click(); });
    live.parentNode.insertBefore(helper, live.nextSibling);
  }

  function schedule() {
    timers.forEach(window.clearTimeout);
    timers = [];
    if (isNaN(deadline)) { return; }
    var now = Date.now();
    var time = clock.format(new Date(deadline));
    timers.push(window.setTimeout(function () {
      say(box.getAttribute("data-warning-text").replace("{time}", time));
      showHelper();
    }, Math.max(deadline - warnSeconds * 1000 - now, 0)));
    timers.push(window.setTimeout(function () {
      say(box.getAttribute("data-expired-text"));
      showHelper();
    }, Math.max(deadline - now, 0)));
  }

  var form = extend && extend.form && extend.form.hasAttribute("data-time-limit-form") ? extend.form : null;
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("not extended"); }
        return response.json();
      }).then(function (answer) {
        deadline = Date.parse(answer.ends_at);
        say(answer.message);
        if (helper) { helper.remove(); helper = null; }
        schedule();
      }).catch(function () {
        form.submit(); // the page's own way: the server answers with the page and its message
      });
    });
  }
  schedule();
}());
