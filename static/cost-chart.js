/* Right-sizing: monthly cost on premises against AWS per workload (Chart.js, loaded before). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cost-chart-data").textContent);
  new window.Chart(document.getElementById("cost-chart"), {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        {label: "On premises", data: data.onprem, backgroundColor: "#6c757d"},
        {label: "AWS on demand", data: data.aws, backgroundColor: "#0d6efd"}
      ]
    },
    options: {indexAxis: "y", maintainAspectRatio: false, animation: false,
              scales: {x: {beginAtZero: true, title: {display: true, text: "per month"}},
                       y: {ticks: {autoSkip: false}}}}
  });
})();
