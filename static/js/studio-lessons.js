/* The lesson editor (templates/studio/lessons/editor.html). The site's Content-Security-Policy runs no inline
   script, so it lives here. Without it the editor still saves and previews: its textarea does not wrap, and the
   gutter's numbers, drawn by the server, sit beside their lines. With it, lines wrap, each number is as tall as its
   line (measured on a hidden copy of the text), the numbers follow the text as it is typed, marked where the
   newest check found a problem, and a problem's "line N" selects that line. */
(function () {
  var area = document.getElementById("id_body"), gutter = document.getElementById("body-gutter");
  if (!area || !gutter) return;
  var mirror = document.createElement("div");
  mirror.className = "code-editor__mirror";
  mirror.setAttribute("aria-hidden", "true");
  area.parentNode.appendChild(mirror);
  area.setAttribute("wrap", "soft");
  area.classList.add("is-wrapping");
  var pending = false;

  function draw() {
    pending = false;
    var first = Number(gutter.dataset.first), rows = area.value.split("\n");
    var marked = " " + gutter.dataset.problems + " ";
    mirror.style.width = area.clientWidth + "px";
    mirror.textContent = "";
    gutter.textContent = "";
    rows.forEach(function (row, i) {
      var line = document.createElement("div"), number = document.createElement("span");
      line.textContent = row || " ";
      mirror.appendChild(line);
      number.textContent = String(first + i);
      if (marked.indexOf(" " + (first + i) + " ") >= 0) number.className = "is-problem";
      gutter.appendChild(number);
    });
    var lines = mirror.children, numbers = gutter.children;
    for (var i = 0; i < lines.length; i++) numbers[i].style.height = lines[i].getBoundingClientRect().height + "px";
    area.style.height = mirror.getBoundingClientRect().height + "px";
  }
  function later() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(draw);
    }
  }
  area.addEventListener("input", later);
  window.addEventListener("resize", later);
  document.body.addEventListener("htmx:afterSwap", function () {
    var found = document.getElementById("preview-lines");
    if (!found) return;
    gutter.dataset.first = found.dataset.first;
    gutter.dataset.problems = found.dataset.problems.trim();
    later();
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
  draw();
})();
