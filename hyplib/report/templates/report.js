// Sort a table by a clicked header (numbers by data-v), and filter rows and columns.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th.sort").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var index = Array.prototype.indexOf.call(th.parentNode.children, th);
      var down = th.dataset.dir !== "down";
      th.dataset.dir = down ? "down" : "up";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index], y = b.cells[index];
        var u = parseFloat(x.dataset.v), v = parseFloat(y.dataset.v);
        if (isNaN(u) || isNaN(v)) { return (down ? 1 : -1) * x.textContent.localeCompare(y.textContent); }
        return down ? v - u : u - v;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll("input.rowfilter").forEach(function (box) {
  box.addEventListener("input", function () {
    var table = document.getElementById(box.dataset.table), q = box.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = r.cells[0].textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
    });
  });
});
document.querySelectorAll("input.colfilter").forEach(function (box) {
  box.addEventListener("input", function () {
    var table = document.getElementById(box.dataset.table), q = box.value.toLowerCase();
    var heads = table.tHead.rows[0].cells;
    for (var i = 1; i < heads.length; i++) {
      var show = heads[i].textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      Array.prototype.forEach.call(table.rows, function (r) { r.cells[i].style.display = show; });
    }
  });
});
