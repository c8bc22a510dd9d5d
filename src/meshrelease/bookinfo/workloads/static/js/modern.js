// Opens the sign-in <dialog> of the modern UI from the "Sign in" button.
document.addEventListener("DOMContentLoaded", function () {
  var dialog = document.getElementById("dialog");
  var open = document.getElementById("sign-in-button");
  var cancel = document.getElementById("dialog-cancel");
  if (dialog && open) open.addEventListener("click", function () { dialog.showModal(); });
  if (dialog && cancel) cancel.addEventListener("click", function () { dialog.close(); });
});
