// Filters the channel list as you type. Without JavaScript the full list is shown.
(function () {
  var input = document.getElementById("filter");
  if (!input) return;
  input.hidden = false;
  input.addEventListener("input", function () {
    var q = input.value.toLowerCase().trim();
    var rows = document.querySelectorAll("tr[data-filter]");
    for (var i = 0; i < rows.length; i++) {
      rows[i].hidden = q !== "" && rows[i].getAttribute("data-filter").indexOf(q) < 0;
    }
    var groups = document.querySelectorAll("section.group");
    for (var j = 0; j < groups.length; j++) {
      groups[j].hidden = !groups[j].querySelector("tr[data-filter]:not([hidden])");
    }
  });
})();
