// Submits the SAML form on pages that carry a message to a service provider. Without
// JavaScript the page shows a Continue button that does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
});
