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
