// Show error fragments (403, 404, 429, 500...) that htmx does not swap into the page.
document.addEventListener("htmx:responseError", function (event) {
  var box = document.getElementById("messages");
  if (!box) return;
  var xhr = event.detail.xhr;
  var text = xhr.status + " " + (xhr.statusText || "error");
  var fragment = document.createElement("div");
  fragment.className = "flash flash-error";
  var parsed = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
  var message = parsed.querySelector(".error-box p");
  fragment.textContent = message ? message.textContent : text;
  box.replaceChildren(fragment);
});
document.addEventListener("htmx:sendError", function () {
  var box = document.getElementById("messages");
  if (box) {
    var fragment = document.createElement("div");
    fragment.className = "flash flash-error";
    fragment.textContent = "The server could not be reached. Check your connection and try again.";
    box.replaceChildren(fragment);
  }
});
