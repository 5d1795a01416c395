/* Health charts (Chart.js, no date adapter: times are plotted as milliseconds on a linear axis).
   Draws every element with data-health-series="<id of a json_script element>". */
(function () {
  "use strict";
  var MAX_DISKS = 8;

  function points(series) {
    return (series || []).map(function (p) { return { x: Date.parse(p[0]), y: p[1] }; });
  }

  function timeLabel(value) {
    return new Date(value).toLocaleString([], { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  function datasets(metric, data) {
    if (metric === "load") {
      return [["load1", "1 min"], ["load5", "5 min"], ["load15", "15 min"]].map(function (pair) {
        return { label: pair[1], data: points(data[pair[0]]) };
      });
    }
    if (metric === "memory") {
      return [{ label: "Memory used %", data: points(data.mem_used_pct), fill: true }];
    }
    return Object.keys(data.disks || {}).sort().slice(0, MAX_DISKS).map(function (mount) {
      return { label: mount, data: points(data.disks[mount]) };
    });
  }

  function draw(panel) {
    // The panel's own data (while HTMX swaps a panel, old and new share their ids).
    var source = panel.querySelector("script[id='" + panel.dataset.healthSeries + "']");
    if (!source || !window.Chart || !panel.isConnected) { return; }
    var data = JSON.parse(source.textContent);
    panel.querySelectorAll("canvas[data-metric]").forEach(function (canvas) {
      var existing = window.Chart.getChart(canvas);
      if (existing) { existing.destroy(); }
      var percent = canvas.dataset.metric !== "load";
      new window.Chart(canvas, {
        type: "line",
        data: { datasets: datasets(canvas.dataset.metric, data) },
        options: {
          animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
          elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0.2 } },
          interaction: { mode: "nearest", axis: "x", intersect: false },
          scales: {
            x: { type: "linear", ticks: { callback: timeLabel, maxTicksLimit: 6 } },
            y: { beginAtZero: true, max: percent ? 100 : undefined }
          },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tooltip: { callbacks: { title: function (items) { return items.length ? timeLabel(items[0].parsed.x) : ""; } } }
          }
        }
      });
    });
  }

  function drawAll() { document.querySelectorAll("[data-health-series]").forEach(draw); }

  window.opsHealthCharts = {
    drawAll: drawAll,
    // After the current swap (HTMX runs a new panel's script before the old panel is gone).
    drawSoon: function () { window.setTimeout(drawAll, 0); }
  };
})();
