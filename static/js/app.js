// Chip inputs: <input data-chips="genre" list="..."> turns each chosen value into a
// removable chip holding a hidden <input name="genre">, and tells the form it changed
// so HTMX refreshes the preview. With data-chips-strict, only values from the list count.
(function () {
  function addChip(input) {
    const name = input.dataset.chips;
    let value = input.value.trim();
    if (!value) return;
    if (input.dataset.chipsStrict !== undefined && input.list) {
      const option = Array.from(input.list.options).find(
        (o) => o.value.toLowerCase() === value.toLowerCase());
      if (!option) return;
      value = option.value;
    }
    const box = document.getElementById(input.dataset.chipsTarget);
    const taken = Array.from(box.querySelectorAll("input")).some((i) => i.value === value);
    input.value = "";
    if (taken) return;
    const chip = document.createElement("span");
    chip.className = "chip" + (name.startsWith("exclude") ? " exclude" : "");
    chip.textContent = value;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    hidden.value = value;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove " + value);
    remove.textContent = "×";
    chip.append(hidden, remove);
    box.append(chip);
    changed(box);
  }

  function changed(el) {
    const form = el.closest("form");
    if (form) form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.dataset && e.target.dataset.chips) {
      e.preventDefault();
      addChip(e.target);
    }
  });
  // Picking from a datalist fires "input" with the whole value.
  document.addEventListener("input", (e) => {
    const input = e.target;
    if (!input.dataset || !input.dataset.chips || !input.list) return;
    const exact = Array.from(input.list.options).some((o) => o.value === input.value);
    if (exact && e.inputType !== "insertText") addChip(input);
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest(".chip button");
    if (!button) return;
    const box = button.closest(".chips");
    button.closest(".chip").remove();
    changed(box);
  });
})();

// "Keep this as a smart playlist": the link carries the builder's filters as they are
// now, in the builder's query-string form, to the saved playlist form.
document.addEventListener("click", (e) => {
  const link = e.target.closest("a[data-keep-filters]");
  if (!link) return;
  const form = document.getElementById(link.dataset.keepFilters);
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (name !== "q" && value !== "") query.append(name, value);
  }
  const url = new URL(link.href);
  url.searchParams.set("filters", query.toString());
  link.href = url.toString();
});

// The import report holds one slot-N choice per row: a form marked data-keys-from-slots
// sends them as one `keys` field, in row order, since Django refuses a request with over
// 1,000 fields. An empty choice ("leave out") leaves its row out.
document.addEventListener("htmx:configRequest", (e) => {
  if (!e.detail.elt.matches("form[data-keys-from-slots]")) return;
  const data = e.detail.formData;
  const chosen = [];
  for (const [name, value] of Array.from(data.entries())) {
    const slot = /^slot-(\d+)$/.exec(name);
    if (!slot) continue;
    data.delete(name);
    if (value) chosen.push([Number(slot[1]), value]);
  }
  chosen.sort((a, b) => a[0] - b[0]);
  data.set("keys", chosen.map(([, key]) => key).join(","));
});

// A failed htmx request says so where the user acted: inside the nearest [data-error-box]
// around the element that made it, else right after the element it would have updated.
// The next successful answer to that place takes the message away.
(function () {
  const REASONS = {
    400: "bad request", 404: "not found", 405: "method not allowed", 409: "busy",
    413: "too large", 429: "too many requests", 500: "server error", 502: "bad gateway",
    503: "unavailable", 504: "gateway timeout",
  };

  function place(detail) {
    const box = detail.elt.closest("[data-error-box]");
    if (box) {
      return { current: box.querySelector(":scope > .request-error"), put: (m) => box.append(m) };
    }
    const anchor = detail.target && detail.target.isConnected ? detail.target : detail.elt;
    const next = anchor.nextElementSibling;
    return {
      current: next && next.classList.contains("request-error") ? next : null,
      put: (m) => anchor.after(m),
    };
  }

  // The server's own reason, if it gave one: a JSON answer's "error", or the
  // [data-reason] element of an error fragment.
  function serverSays(xhr) {
    const type = xhr.getResponseHeader("Content-Type") || "";
    try {
      if (type.includes("json")) return JSON.parse(xhr.responseText).error || "";
      if (type.includes("html")) {
        const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        return doc.querySelector("[data-reason]")?.textContent.trim() || "";
      }
    } catch (_) {}
    return "";
  }

  function describe(type, xhr) {
    if (type === "htmx:sendError") return "Could not reach MediaSage: is it still running?";
    if (type === "htmx:timeout") return "MediaSage did not answer in time: try again in a moment.";
    const status = xhr.status;
    if (status === 403) return "Your session expired or the page is stale (403): reload the page.";
    const reason = REASONS[status] || (status >= 500 ? "server error" : "refused");
    let advice = "reload the page and try again.";
    if (status >= 502) advice = "is it still running? Try again in a moment.";
    else if (status >= 500) advice = "the details are in its log. Try again, or reload the page.";
    return `MediaSage answered ${status} (${reason}): ${serverSays(xhr) || advice}`;
  }

  function show(e) {
    const where = place(e.detail);
    const message = document.createElement("div");
    message.className = "result fail request-error";
    message.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = describe(e.type, e.detail.xhr);
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.setAttribute("aria-label", "Dismiss");
    dismiss.textContent = "×";
    message.append(text, dismiss);
    if (where.current) where.current.replaceWith(message);
    else where.put(message);
  }

  for (const type of ["htmx:responseError", "htmx:sendError", "htmx:timeout"]) {
    document.addEventListener(type, show);
  }
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (!e.detail.isError) place(e.detail).current?.remove();
  });
  document.addEventListener("click", (e) => {
    const dismiss = e.target.closest(".request-error .dismiss");
    if (dismiss) dismiss.closest(".request-error").remove();
  });
})();
