// bopo's few enhancements; every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Ask before a destructive action: <button data-confirm="Cancel PO-1?">.
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // "Tick every line": <input type="checkbox" data-check-all="pick">.
  document.querySelectorAll("[data-check-all]").forEach((box) => {
    box.addEventListener("change", () => {
      const name = box.dataset.checkAll;
      document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((other) => {
        other.checked = box.checked;
      });
    });
  });

  // "Add a line" on the order form: copy the last row, emptied and numbered.
  document.querySelectorAll("[data-add-line]").forEach((button) => {
    button.addEventListener("click", () => {
      const body = document.getElementById(button.dataset.addLine).tBodies[0];
      const last = body.rows[body.rows.length - 1];
      const row = last.cloneNode(true);
      const n = body.rows.length + 1;
      row.querySelector(".n").textContent = String(n);
      row.querySelectorAll("input").forEach((input) => {
        input.value = "";
        input.setAttribute("aria-label", `${input.name === "sku" ? "SKU" : "Quantity"} of line ${n}`);
      });
      body.appendChild(row);
      row.querySelector("input").focus();
    });
  });

  // "/" jumps to the page's main search field, as in many tools.
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const search = document.querySelector("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });
});
