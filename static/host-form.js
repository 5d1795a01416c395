/* Host form: "Add interface" appends the formset's empty form with the next index. */
(function () {
  "use strict";
  document.getElementById("add-interface").addEventListener("click", function () {
    var total = document.getElementById("id_interfaces-TOTAL_FORMS");
    var html = document.getElementById("interface-template").innerHTML.replace(/__prefix__/g, total.value);
    document.getElementById("interface-rows").insertAdjacentHTML("beforeend", html);
    total.value = parseInt(total.value, 10) + 1;
  });
})();
