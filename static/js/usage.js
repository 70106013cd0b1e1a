// The usage page's charts, drawn with the vendored Chart.js from the JSON the page embeds (#usage-data).
(function () {
  "use strict";
  const source = document.getElementById("usage-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const accent = "#4338ca";
  const palette = ["#4338ca", "#0e7490", "#b45309", "#be185d", "#15803d", "#7c3aed", "#b91c1c", "#0369a1", "#4d7c0f", "#6b7280"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#5a6472";
  Chart.defaults.animation = false; // instant, and calm for people who prefer reduced motion
  Chart.defaults.maintainAspectRatio = false;
  const credits = function (value) { return Number(value).toLocaleString(undefined, {minimumFractionDigits: 2, maximumFractionDigits: 2}); };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }

  draw("chart-daily", {
    type: "bar",
    data: {
      labels: data.per_day.map(function (d) { return d.day.slice(5); }),
      datasets: [{label: "Credits", data: data.per_day.map(function (d) { return d.credits; }), backgroundColor: accent, borderRadius: 3}],
    },
    options: {plugins: {legend: {display: false}, tooltip: {callbacks: {label: function (c) { return credits(c.parsed.y) + " credits"; }}}},
              scales: {y: {beginAtZero: true}, x: {grid: {display: false}}}},
  });

  function ranked(id, rows) {
    draw(id, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.label; }),
        datasets: [{label: "Credits", data: rows.map(function (r) { return r.credits; }),
                    backgroundColor: rows.map(function (_, i) { return palette[i % palette.length]; }), borderRadius: 3}],
      },
      options: {indexAxis: "y", plugins: {legend: {display: false}, tooltip: {callbacks: {label: function (c) { return credits(c.parsed.x) + " credits"; }}}},
                scales: {x: {beginAtZero: true}, y: {grid: {display: false}}}},
    });
  }
  ranked("chart-model", data.by_model);
  ranked("chart-key", data.by_key);

  draw("chart-vendor", {
    type: "bar",
    data: {
      labels: data.by_vendor.map(function (v) { return v.label; }),
      datasets: [
        {label: "Success rate (%)", data: data.by_vendor.map(function (v) { return v.success_rate; }), backgroundColor: "#15803d", borderRadius: 3, yAxisID: "rate"},
        {label: "Median time (s)", data: data.by_vendor.map(function (v) { return v.median_seconds; }), backgroundColor: "#94a3b8", borderRadius: 3, yAxisID: "time"},
      ],
    },
    options: {scales: {rate: {position: "left", beginAtZero: true, max: 100, title: {display: true, text: "%"}},
                       time: {position: "right", beginAtZero: true, grid: {display: false}, title: {display: true, text: "seconds"}},
                       x: {grid: {display: false}}}},
  });
})();
