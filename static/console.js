/* The console's small behaviours, bound by data attributes so that templates carry no
   inline script or on* handler (the Content-Security-Policy allows scripts from our static
   files only). Delegated from the document, so content HTMX swaps in works too.

   data-submit-on-change     on a field: submit its form when it changes
   data-check-all="SELECTOR" on a checkbox: check or uncheck every SELECTOR box with it
   data-confirm="QUESTION"   on a button: ask first; "Cancel" stops the click
   data-scripts="URL URL"    on an element: load these scripts once, in order, then call
   data-scripts-then="a.b"   the function window.a.b (each time such an element arrives) */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.form && field.hasAttribute("data-submit-on-change")) {
      field.form.requestSubmit();
    }
    if (field.hasAttribute("data-check-all")) {
      document.querySelectorAll(field.getAttribute("data-check-all")).forEach(function (box) {
        box.checked = field.checked;
      });
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  var loading = {};  // url -> Promise: each script is loaded once per page

  function loadScript(url) {
    if (!loading[url]) {
      loading[url] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = url;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("Could not load " + url)); };
        document.head.appendChild(script);
      });
    }
    return loading[url];
  }

  function globalFunction(path) {
    return path.split(".").reduce(function (object, name) { return object && object[name]; }, window);
  }

  var started = new WeakSet();

  function startScripts(root) {
    var elements = Array.prototype.slice.call(root.querySelectorAll("[data-scripts]"));
    if (root.matches && root.matches("[data-scripts]")) { elements.unshift(root); }
    elements.forEach(function (element) {
      if (started.has(element)) { return; }
      started.add(element);
      var urls = element.getAttribute("data-scripts").split(/\s+/).filter(Boolean);
      urls.reduce(function (previous, url) {
        return previous.then(function () { return loadScript(url); });
      }, Promise.resolve()).then(function () {
        var then = element.getAttribute("data-scripts-then");
        var callback = then && globalFunction(then);
        if (callback) { callback(); }
      });
    });
  }

  startScripts(document);
  document.addEventListener("htmx:load", function (event) { startScripts(event.target); });
})();
