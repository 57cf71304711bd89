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

  // A print button: <button type="button" data-print>.
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
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
      row.querySelectorAll("input, select").forEach((field) => {
        if (field.tagName === "SELECT") field.selectedIndex = 0;
        else field.value = "";
        // "SKU of line 5" -> "SKU of line 6"
        field.setAttribute("aria-label", field.getAttribute("aria-label").replace(/\d+$/, String(n)));
      });
      body.appendChild(row);
      row.querySelector("input").focus();
    });
  });

  // The email template editor's live preview: <form data-preview="URL"> is posted there
  // (CSRF token included) 400 ms after the last change; the JSON answer fills the preview
  // pane (p-note, p-to, p-subject, p-text, p-html, p-nohtml) and each field's error
  // (data-error-for). Only the answer to the latest change is shown.
  document.querySelectorAll("form[data-preview]").forEach((form) => {
    const pane = (id) => document.getElementById(id);
    let timer = 0;
    let asked = 0;

    const show = (answer) => {
      form.querySelectorAll("[data-error-for]").forEach((box) => {
        const message = answer.errors[box.dataset.errorFor] || "";
        box.textContent = message;
        box.hidden = !message;
        const input = form.elements.namedItem(box.dataset.errorFor);
        if (input instanceof HTMLElement) {
          if (message) {
            input.setAttribute("aria-invalid", "true");
          } else {
            input.removeAttribute("aria-invalid");
          }
        }
      });
      pane("p-note").textContent = answer.note;
      pane("p-mail").classList.toggle("stale", !answer.ok);
      if (!answer.ok) {
        return; // the last preview that rendered stays, dimmed
      }
      pane("p-to").textContent = answer.to || "the sample customer";
      pane("p-subject").textContent = answer.subject;
      pane("p-text").textContent = answer.body_text;
      const frame = pane("p-html");
      const html = answer.body_html;
      frame.hidden = html === null;
      pane("p-nohtml").hidden = html !== null;
      if (html !== null && frame.srcdoc !== html) {
        frame.srcdoc = html; // sandboxed: no script runs, nothing loads from elsewhere
      }
    };

    const ask = async () => {
      const mine = ++asked;
      try {
        const response = await fetch(form.dataset.preview, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const type = response.headers.get("content-type") || "";
        if (!response.ok || !type.startsWith("application/json")) {
          throw new Error(`answer ${response.status}`);
        }
        const answer = await response.json();
        if (mine === asked) {
          show(answer);
        }
      } catch (error) {
        if (mine === asked) {
          pane("p-note").textContent =
            "The preview could not be updated (signed out, or bopo cannot be reached): reload the page.";
          pane("p-mail").classList.add("stale");
        }
      }
    };

    form.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 400);
    });
  });

  // A link to a closed <details> (a sales-order line's "Why?") opens it: on arrival by
  // such an address, and on each click of such a link.
  const openTarget = (hash) => {
    const id = decodeURIComponent(hash.slice(1));
    const target = id ? document.getElementById(id) : null;
    if (target instanceof HTMLDetailsElement) {
      target.open = true;
    }
  };
  openTarget(window.location.hash);
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
    if (link) {
      openTarget(link.getAttribute("href"));
    }
  });

  // "/" jumps to the page's main search field, as in many tools; on a page without
  // one, to the search box in the header.
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const search = document.querySelector("main [data-search]") ||
        document.querySelector("[data-search-all]");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });
});
