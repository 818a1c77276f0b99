// Validation and refusal answers carry a fragment that explains what was wrong;
// htmx leaves 4xx/5xx answers unswapped unless told otherwise.
document.addEventListener("htmx:beforeSwap", function (event) {
  if ([409, 422, 429, 503].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
