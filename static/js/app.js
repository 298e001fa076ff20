// Small behaviours every page shares, kept out of inline handlers so the CSP can forbid them.
document.addEventListener("focusin", function (event) {
  // A freshly shown API token: one click selects it all for copying.
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});
