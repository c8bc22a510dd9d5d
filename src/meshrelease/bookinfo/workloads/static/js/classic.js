// Opens and closes the sign-in modal of the classic UI (no framework needed).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll('[data-toggle="modal"]').forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-target"));
      if (target) {
        target.classList.add("in");
        target.setAttribute("aria-hidden", "false");
        var first = target.querySelector("input");
        if (first) first.focus();
      }
    });
  });
  document.querySelectorAll('[data-dismiss="modal"]').forEach(function (button) {
    button.addEventListener("click", function () {
      var modal = button.closest(".modal");
      if (modal) {
        modal.classList.remove("in");
        modal.setAttribute("aria-hidden", "true");
      }
    });
  });
});
