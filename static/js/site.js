// Validation and refusal answers carry a fragment that explains what was wrong;
// htmx leaves 4xx/5xx answers unswapped unless told otherwise.
document.addEventListener("htmx:beforeSwap", function (event) {
  if ([400, 403, 409, 422, 429, 503].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// Glossary terms in a lesson show their definition in place: on hover or focus,
// and on the first tap on a touch screen (a second tap follows the link).
(function () {
  let popover = null;
  let openFor = null;

  function definitions() {
    const data = document.getElementById("glossary-data");
    return data ? JSON.parse(data.textContent) : {};
  }

  function close() {
    if (popover) popover.remove();
    if (openFor) openFor.removeAttribute("aria-describedby");
    popover = null;
    openFor = null;
  }

  function open(link) {
    const entry = definitions()[link.dataset.term];
    if (!entry || openFor === link) return;
    close();
    popover = document.createElement("div");
    popover.className = "term-popover";
    popover.id = "term-popover";
    popover.setAttribute("role", "tooltip");
    const title = document.createElement("strong");
    title.textContent = entry.term;
    const text = document.createElement("span");
    text.textContent = entry.definition;
    const more = document.createElement("a");
    more.href = link.href;
    more.textContent = "Open in the glossary";
    popover.append(title, text, document.createElement("br"), more);
    document.body.append(popover);
    const box = link.getBoundingClientRect();
    const left = Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - popover.offsetWidth - 8);
    popover.style.left = Math.max(8, left) + "px";
    popover.style.top = box.bottom + window.scrollY + 6 + "px";
    link.setAttribute("aria-describedby", "term-popover");
    openFor = link;
  }

  document.addEventListener("mouseover", function (event) {
    const link = event.target.closest("a.term");
    if (link) open(link);
    else if (popover && !event.target.closest(".term-popover")) close();
  });
  document.addEventListener("focusin", function (event) {
    const link = event.target.closest("a.term");
    if (link) open(link);
  });
  // A touch fires mouseover just before click, so whether this tap should only
  // open the definition is decided when the finger comes down.
  let tapOpens = false;
  document.addEventListener("pointerdown", function (event) {
    const link = event.target.closest("a.term");
    tapOpens = Boolean(link) && event.pointerType !== "mouse" && openFor !== link;
  });
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.term");
    if (link && tapOpens && definitions()[link.dataset.term]) {
      event.preventDefault();
      tapOpens = false;
      open(link);
    } else if (!link && !event.target.closest(".term-popover")) {
      close();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
})();

// A timed session's countdown. The server keeps the real clock: when this one
// reaches zero, the page reloads and the server ends the session.
(function () {
  const timer = document.querySelector(".timer[data-deadline]");
  if (!timer) return;
  const deadline = new Date(timer.dataset.deadline).getTime();
  const value = timer.querySelector(".timer__value");
  function tick() {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    value.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left === 0) window.location.reload();
    else window.setTimeout(tick, 1000);
  }
  tick();
})();

// "Show only differences" on the run comparison hides rows whose values agree.
document.addEventListener("change", function (event) {
  if (event.target.id === "only-differences") {
    document.getElementById("compare").classList.toggle("compare--diff", event.target.checked);
  }
});

// On a phone the navigation folds behind its Menu button. The class is set here so
// that, without JavaScript, the links simply stay in view.
(function () {
  const nav = document.querySelector(".nav");
  const toggle = nav && nav.querySelector(".nav__toggle");
  if (!toggle) return;
  nav.classList.add("nav--collapsible");
  function setOpen(open) {
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("nav--open", open);
  }
  toggle.addEventListener("click", function () {
    setOpen(toggle.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      toggle.focus();
    }
  });
})();

// Charts. plotly.js (4.6 MB, 1.4 MB compressed) is loaded only by a page that has a chart, and
// never blocks it: the first chart box found, in the page or in a fragment htmx swaps in (a job
// finishing shows its learning curve), inserts its script element (from our own origin, which the
// page's Content-Security-Policy allows; its address, hashed when static files are, is in the
// page's <meta name="plotly-src">) and fetches the look every chart shares, plotly's
// "plotly_white" template (<meta name="plotly-template">), which the figures leave out.
//
// Plotly sizes a chart once, from its container at that moment: a chart drawn while the page is
// still being laid out, or whose card later narrows, would keep the old width. Each chart is
// redrawn whenever its own box changes width.
(function () {
  let loading = null;
  function address(name) {
    const meta = document.querySelector('meta[name="' + name + '"]');
    return meta ? meta.content : null;
  }
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.Plotly) return resolve();
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.dataset.plotly = "true";
      script.onload = function () { resolve(); };
      script.onerror = function () {
        script.remove();
        reject(new Error("plotly.js did not load"));
      };
      document.head.append(script);
    });
  }
  function loadTemplate(src) {
    if (!src) return Promise.resolve(null);
    return fetch(src, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }
  // One load for the page's life; a failed one is tried again by the next chart that appears.
  function plotly() {
    if (!loading) {
      loading = Promise.all([loadScript(address("plotly-src")), loadTemplate(address("plotly-template"))])
        .then(function (results) { return results[1]; });
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  const widths = new WeakMap();
  const observer = "ResizeObserver" in window ? new ResizeObserver(function (entries) {
    for (const entry of entries) {
      const plot = entry.target;
      const width = Math.round(entry.contentRect.width);
      if (widths.get(plot) === width || !window.Plotly || width === 0) continue;
      widths.set(plot, width);
      window.Plotly.Plots.resize(plot).catch(function () {});
    }
  }) : null;
  function watch(plot) {
    if (observer) observer.observe(plot);
  }
  // Figures arrive as JSON data blocks beside an empty box (the site runs no inline script);
  // each is drawn once.
  function draw(root) {
    const boxes = root.querySelectorAll(".plotly-graph-div[data-figure]:not([data-drawn])");
    if (boxes.length === 0) return;
    plotly().then(function (template) {
      boxes.forEach(function (box) {
        const spec = document.getElementById(box.dataset.figure);
        if (!spec || box.dataset.drawn || !box.isConnected) return;
        box.dataset.drawn = "true";
        const figure = JSON.parse(spec.textContent);
        if (template && !figure.layout.template) figure.layout.template = template;
        window.Plotly.newPlot(box, figure.data, figure.layout, figure.config).then(watch);
      });
    }, function () {});
  }
  // site.js is deferred: it runs once the page is parsed, just before DOMContentLoaded, and asks for
  // plotly.js only after that event, so nothing waiting on it waits for plotly.js.
  if (document.readyState === "complete") {
    draw(document);
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      draw(document);
    });
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    draw(event.detail.elt.isConnected ? event.detail.elt : document);
  });
})();

// A code block or a lesson's table wider (or, as a walkthrough's code box, taller) than its box
// scrolls; it takes keyboard focus so that it can be scrolled without a mouse.
(function () {
  function mark(root) {
    root.querySelectorAll("pre, .prose table").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight) box.setAttribute("tabindex", "0");
      else box.removeAttribute("tabindex");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    mark(document);
  });
  window.addEventListener("resize", function () {
    mark(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    mark(event.detail.elt.isConnected ? event.detail.elt : document);
  });
})();
