// The admin console's one enhancement: a copy button next to a secret shown once.
// Without JavaScript the secret is selectable text and the button stays hidden.
"use strict";
document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      button.dataset.copied = "true";
    });
  });
});
