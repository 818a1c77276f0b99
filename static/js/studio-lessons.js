/* The lesson editor (templates/studio/lessons/editor.html). The site's Content-Security-Policy runs no inline
   script, so it lives here. The gutter's numbers follow the text as it is typed, marked where the newest check
   found a problem, and a problem's "line N" selects that line. Saving and previewing work without it. */
(function () {
  var area = document.getElementById("id_body"), gutter = document.getElementById("body-gutter");
  if (!area || !gutter) return;
  function draw() {
    var first = Number(gutter.dataset.first), count = area.value.split("\n").length;
    var marked = (" " + gutter.dataset.problems + " "), html = "";
    for (var i = 0; i < count; i++) {
      var n = first + i;
      html += marked.indexOf(" " + n + " ") >= 0 ? '<span class="is-problem">' + n + "</span>" : "<span>" + n + "</span>";
    }
    gutter.innerHTML = html;
    area.rows = Math.max(count + 2, 14);
  }
  area.addEventListener("input", draw);
  document.body.addEventListener("htmx:afterSwap", function () {
    var lines = document.getElementById("preview-lines");
    if (!lines) return;
    gutter.dataset.first = lines.dataset.first;
    gutter.dataset.problems = lines.dataset.problems.trim();
    draw();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.problem-link[data-line]");
    if (!link) return;
    event.preventDefault();
    var rows = area.value.split("\n"), index = Number(link.dataset.line) - Number(gutter.dataset.first);
    if (index < 0 || index >= rows.length) return;
    var start = rows.slice(0, index).join("\n").length + (index ? 1 : 0);
    area.focus();
    area.setSelectionRange(start, start + rows[index].length);
  });
})();
