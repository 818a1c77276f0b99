/* Stepped code walkthroughs (`:::: walkthrough <file>` in a lesson, rendered by lessons/rendering.py).
   Without this script a walkthrough is the file's code with numbered lines, then its steps as a list, each saying
   which lines it is about. With it, each walkthrough on the page becomes a stepper: "Step 3 / 7" (a polite live
   region), Previous and Next buttons (disabled at either end), the Left and Right arrow keys while focus is inside
   the walkthrough (except in a code box that scrolls sideways, where they scroll it), only the current step's
   narration shown and its lines highlighted, scrolled into view inside the code box without moving the page.
   The studio's preview is swapped in by htmx as the instructor types: each walkthrough there keeps its step. */
(function () {
  "use strict";
  var kept = {}; // step shown, by walkthrough position and file, across htmx swaps of the same preview

  function ranges(spec) {
    return (spec || "").split(",").map(function (part) {
      var bounds = part.split("-").map(Number);
      return [bounds[0], bounds.length > 1 ? bounds[1] : bounds[0]];
    }).filter(function (range) {
      return range[0] > 0 && range[1] >= range[0];
    });
  }

  function own(section, selector) {
    return Array.prototype.filter.call(section.querySelectorAll(selector), function (element) {
      return element.closest(".walkthrough") === section;
    });
  }

  function button(label, className) {
    var made = document.createElement("button");
    made.type = "button";
    made.className = "button button--small button--ghost walkthrough__button " + className;
    made.textContent = label;
    return made;
  }

  function setUp(section, key) {
    var steps = own(section, "li.walkthrough__step");
    if (section.classList.contains("walkthrough--stepper") || steps.length === 0) return;
    var pre = own(section, "pre.walkthrough__code")[0] || null;
    var lines = pre ? Array.prototype.slice.call(pre.querySelectorAll(".walkthrough__line[data-line]")) : [];
    var controls = document.createElement("div");
    controls.className = "walkthrough__controls";
    var previous = button("← Previous", "walkthrough__previous");
    var next = button("Next →", "walkthrough__next");
    var status = document.createElement("p");
    status.className = "walkthrough__status";
    status.setAttribute("aria-live", "polite");
    controls.append(previous, status, next);
    var list = steps[0].closest("ol");
    list.parentNode.insertBefore(controls, list);
    section.classList.add("walkthrough--stepper");
    var current = -1;

    function fitsSideways() {
      return !pre || pre.scrollWidth <= pre.clientWidth;
    }

    function show(index, announce) {
      index = Math.max(0, Math.min(steps.length - 1, index));
      var focused = document.activeElement;
      current = index;
      kept[key] = index;
      steps.forEach(function (step, i) {
        step.hidden = i !== index;
      });
      // Over the file's lines, never over the numbers a step names: a peer's answer on the lesson page can hold a
      // walkthrough without code whose step says 1-99999999999.
      var wanted = ranges(steps[index].dataset.lines);
      var first = null, last = null;
      lines.forEach(function (line) {
        var n = Number(line.dataset.line);
        var lit = wanted.some(function (range) {
          return range[0] <= n && n <= range[1];
        });
        line.classList.toggle("is-current", lit);
        if (!lit) return;
        first = first || line;
        last = line;
      });
      var label = steps[index].querySelector(".walkthrough__lines");
      status.textContent = "Step " + (index + 1) + " / " + steps.length;
      if (announce && label) {
        // Heard, not shown: the narration below says it too.
        var said = document.createElement("span");
        said.className = "visually-hidden";
        said.textContent = ": " + label.textContent;
        status.appendChild(said);
      }
      previous.disabled = index === 0;
      next.disabled = index === steps.length - 1;
      if (focused === previous && previous.disabled) next.focus();
      if (focused === next && next.disabled) previous.focus();
      // A link in the narration just hidden would leave focus on the page, out of reach of the arrow keys.
      var left = focused && focused.closest ? focused.closest(".walkthrough__step") : null;
      if (left && left.hidden && steps.indexOf(left) >= 0) (next.disabled ? previous : next).focus();
      if (pre && first) {
        // Within the code box only: scrollIntoView would scroll the page as well.
        var top = first.offsetTop, height = last.offsetTop + last.offsetHeight - top;
        var room = pre.clientHeight;
        pre.scrollTop = height < room ? top - (room - height) / 2 : top - 8;
      }
    }

    previous.addEventListener("click", function () {
      show(current - 1, true);
    });
    next.addEventListener("click", function () {
      show(current + 1, true);
    });
    section.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      var target = event.target;
      if (target.closest("input, textarea, select, [contenteditable]")) return;
      if (pre && pre.contains(target) && !fitsSideways()) return;
      event.preventDefault();
      show(current + (event.key === "ArrowRight" ? 1 : -1), true);
    });
    show(kept[key] || 0, false);
    if (pre && (pre.scrollHeight > pre.clientHeight || !fitsSideways())) {
      // A code box that scrolls takes keyboard focus, as site.js gives it to code wider than its box.
      pre.setAttribute("tabindex", "0");
    }
  }

  function setUpAll(root) {
    var counts = {};
    root.querySelectorAll(".walkthrough").forEach(function (section) {
      var name = section.querySelector(".walkthrough__file");
      var file = name ? name.textContent : "";
      counts[file] = (counts[file] || 0) + 1;
      setUp(section, file + "#" + counts[file]);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      setUpAll(document);
    });
  } else {
    setUpAll(document);
  }
  // Fired on the element whose content was swapped in (event.detail.elt is the one that asked for it).
  document.addEventListener("htmx:afterSettle", function (event) {
    setUpAll(event.target instanceof Element && event.target.isConnected ? event.target : document);
  });
})();
