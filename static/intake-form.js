/* The intake form without the follow-up questions that do not apply: each follow-up names
   the field and answer it follows (data-when-name, data-when-value). Without this script
   every follow-up shows, led by that answer, and the form works the same. Hidden ones are
   disabled, so they are not sent. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-intake-form]");
  if (!form) {
    return;
  }
  var parts = Array.prototype.slice.call(form.querySelectorAll("[data-when-name]"));

  function answers(name) {
    var found = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name !== name || el.disabled) {
        return;
      }
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) {
          found.push(el.value);
        }
      } else if (el.tagName === "SELECT") {
        found.push(el.value);
      }
    });
    return found;
  }

  function update() {
    // Document order: a part's controlling question is above it, so it is settled first.
    parts.forEach(function (part) {
      var applies = answers(part.getAttribute("data-when-name"))
        .indexOf(part.getAttribute("data-when-value")) !== -1;
      part.hidden = !applies;
      Array.prototype.forEach.call(
        part.querySelectorAll("input, select, textarea"),
        function (el) {
          el.disabled = !applies;
        }
      );
    });
  }

  form.addEventListener("change", update);
  update();
})();
