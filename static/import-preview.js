/* CSV import preview: "Hide unchanged" hides the rows the import would leave alone. */
(function () {
  "use strict";
  document.getElementById("hide-unchanged").addEventListener("change", function (event) {
    document.querySelectorAll('#import-rows tr[data-action="unchanged"]').forEach(function (row) {
      row.hidden = event.target.checked;
    });
  });
})();
