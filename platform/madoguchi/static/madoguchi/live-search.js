/*
 * As-you-type search for the staff lists (bookings, cards): a progressive enhancement.
 *
 * Without JavaScript the search is a plain GET form and works as before. With it, typing in a form marked
 * `data-live-search` waits for a pause (DEBOUNCE_MS), fetches the same list URL with the form's fields,
 * and swaps every element marked `data-live-swap` (matched by id) with the answer's: the results, and
 * forms that carry the query along. The search form itself is never swapped, so focus and caret stay.
 * The number of results (`data-live-count` in the answer) is read out through a polite live region, not
 * the whole table. The address bar follows, so reloading or sharing the page shows the same list.
 * Served as a static file: the Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 350;

  function liveRegion() {
    var region = document.createElement("p");
    region.className = "visually-hidden";
    region.setAttribute("aria-live", "polite");
    region.setAttribute("role", "status");
    document.body.appendChild(region);
    return region;
  }

  function enhance(form) {
    var input = form.querySelector("input[name=q]");
    if (!input || !window.fetch || !window.DOMParser || !window.URLSearchParams) {
      return;
    }
    var announce = liveRegion();
    var timer = null;
    var controller = null;
    var last = input.value;

    function url() {
      var params = new URLSearchParams(new FormData(form));
      var action = form.getAttribute("action") || window.location.pathname;
      return action + "?" + params.toString();
    }

    function swap(html, address) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var swapped = false;
      document.querySelectorAll("[data-live-swap]").forEach(function (old) {
        var fresh = old.id && page.getElementById(old.id);
        if (fresh) {
          old.replaceWith(document.importNode(fresh, true));
          swapped = true;
        }
      });
      if (!swapped) {
        return;
      }
      var count = page.querySelector("[data-live-count]");
      announce.textContent = count ? count.textContent.trim() : "";
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", address);
      }
    }

    function search() {
      if (controller) {
        controller.abort();
      }
      controller = window.AbortController ? new AbortController() : null;
      var address = url();
      window
        .fetch(address, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
          signal: controller ? controller.signal : undefined,
        })
        .then(function (response) {
          // A refused query (400) still answers with the page and its message; anything else (a sign-in
          // redirect's page, a 500) is left to the plain form: the person presses the button.
          if (response.ok || response.status === 400) {
            return response.text().then(function (html) {
              swap(html, address);
            });
          }
        })
        .catch(function () {
          /* aborted by a newer keystroke, or offline: the form still submits as usual */
        });
    }

    function changed(event) {
      // While a Japanese IME is composing ("たかは" before it becomes "高橋"), wait for the chosen text.
      if ((event && event.isComposing) || input.value === last) {
        return;
      }
      last = input.value;
      window.clearTimeout(timer);
      timer = window.setTimeout(search, DEBOUNCE_MS);
    }

    input.addEventListener("input", changed);
    input.addEventListener("compositionend", function () {
      changed(null);
    });
  }

  document.querySelectorAll("form[data-live-search]").forEach(enhance);
})();
