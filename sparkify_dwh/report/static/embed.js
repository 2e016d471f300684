// Draws every chart of the page from the specs in #chart-specs (report.py inlines this file).
(function () {
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  Object.keys(specs).forEach(function (id) {
    vegaEmbed("#" + id, specs[id], {renderer: "svg", actions: false}).catch(function (error) {
      document.getElementById(id).textContent = "This chart could not be drawn: " + error.message;
      console.error(error);
    });
  });
})();
