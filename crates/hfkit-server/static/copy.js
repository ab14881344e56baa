// Copy buttons: <button data-copy="ID"> copies the text of the element #ID.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = "Copied";
  });
});
document.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
