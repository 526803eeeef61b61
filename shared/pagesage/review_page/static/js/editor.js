// The selected box in the side panel: its text (a text area with a special-character palette,
// the cursor's code-point offset, unsaved text kept per box), relabel, language, split at the
// cursor, merge, delete; and the "Boxes" panel: the reading order as a list, reordered by
// dragging (SortableJS) or with its Move buttons.

import Sortable from "../vendor/sortablejs/modular/sortable.esm.js";
import * as api from "./api.js";
import { $, announce, clear, excerpt, h } from "./dom.js";
import { boxById, boxesInOrder, draftKey, emit, selectedBox, state } from "./state.js";
import { codePointName, cpLength, cpOffset } from "./text.js";
import { colourOf } from "./viewer.js";

export const CONTENT_TYPES = ["verse", "commentary", "translation", "transliteration", "footnote", "footnote-reference", "heading",
  "subheading", "running-head", "page-number", "verse-number", "image", "table", "caption", "other"];
export const LANGUAGES = { sanskrit: "sa", hindi: "hi", english: "en", iast: "sa-Latn", other: "und" };

/** The palette: [group label, [character, name]...]; combining marks are shown on a dotted circle. */
export const PALETTE = [
  ["Superscripts", [["¹", "superscript one"], ["²", "superscript two"], ["³", "superscript three"], ["⁴", "superscript four"],
    ["⁵", "superscript five"], ["⁶", "superscript six"], ["⁷", "superscript seven"], ["⁸", "superscript eight"],
    ["⁹", "superscript nine"], ["⁰", "superscript zero"]]],
  ["Devanagari signs", [["।", "danda"], ["॥", "double danda"], ["ः", "visarga"], ["ं", "anusvara"], ["ँ", "chandrabindu"],
    ["ऽ", "avagraha"], ["्", "virama"]]],
  ["Devanagari digits", Array.from("०१२३४५६७८९", (ch, i) => [ch, `Devanagari digit ${i}`])],
  ["IAST", [["ā", "a macron"], ["ī", "i macron"], ["ū", "u macron"], ["ṛ", "r dot below"], ["ṝ", "r dot below macron"],
    ["ḷ", "l dot below"], ["ṅ", "n dot above"], ["ñ", "n tilde"], ["ṭ", "t dot below"], ["ḍ", "d dot below"], ["ṇ", "n dot below"],
    ["ś", "s acute"], ["ṣ", "s dot below"], ["ḥ", "h dot below"], ["ṃ", "m dot below"]]],
];

const isCombining = (ch) => /\p{M}/u.test(ch);

/** Set up the box editor and the order list; returns the controls the other modules use. */
export function initEditor(ctx) {
  const text = $("#box-text");
  const typeSelect = $("#box-type");
  const langSelect = $("#box-lang");
  let shownKey = null;

  for (const type of CONTENT_TYPES) {
    typeSelect.append(h("option", { value: type, text: type }));
    $("#draw-type").append(h("option", { value: type, text: type, selected: type === "commentary" }));
  }
  for (const language of Object.keys(LANGUAGES)) langSelect.append(h("option", { value: language, text: language }));
  buildPalette();

  // -- text -----------------------------------------------------------------------------------

  function currentDraft(boxId) {
    return state.drafts.get(draftKey(boxId));
  }

  function markDirty() {
    const box = selectedBox();
    const dirty = Boolean(box && state.drafts.has(draftKey(box.boxId)));
    $("#dirty").hidden = !dirty;
    $("#save-text").disabled = !dirty;
    $("#reset-text").disabled = !dirty;
  }

  text.addEventListener("input", () => {
    const box = selectedBox();
    if (!box) return;
    const key = draftKey(box.boxId);
    if (text.value === box.text.corrected) state.drafts.delete(key);
    else state.drafts.set(key, text.value);
    markDirty();
    cursorInfo();
  });
  for (const event of ["keyup", "click", "select", "focus"]) text.addEventListener(event, cursorInfo);
  document.addEventListener("selectionchange", () => { if (document.activeElement === text) cursorInfo(); });

  function cursorInfo() {
    const value = text.value;
    const offset = cpOffset(value, text.selectionStart);
    const end = cpOffset(value, text.selectionEnd);
    const next = Array.from(value.slice(text.selectionStart))[0];
    const info = $("#cursor-offset");
    info.dataset.offset = String(offset);
    info.textContent = `Cursor at code point ${offset}${end > offset ? `–${end} (${end - offset} selected)` : ""} of ${cpLength(value)}`
      + (next ? ` · next ${codePointName(next)} ${isCombining(next) ? `◌${next}` : next === "\n" ? "line break" : next}` : "");
    emit("cursor", { start: text.selectionStart, end: text.selectionEnd });
  }

  function insert(ch) {
    const start = text.selectionStart;
    text.setRangeText(ch, start, text.selectionEnd, "end");
    text.focus();
    text.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function buildPalette() {
    const palette = $("#palette");
    for (const [label, chars] of PALETTE) {
      const group = h("div", { class: "palette-group", role: "group", "aria-label": label }, h("span", { class: "palette-label", text: label }));
      for (const [ch, name] of chars) {
        group.append(h("button", {
          type: "button", class: "char", dataset: { char: ch }, title: `${name} (${codePointName(ch)})`,
          "aria-label": `Insert ${name}`, text: isCombining(ch) ? `◌${ch}` : ch,
          onmousedown: (event) => event.preventDefault(), // keep the text area's cursor
          onclick: () => insert(ch),
        }));
      }
      palette.append(group);
    }
  }

  /** Save the selected box's unsaved text; resolves true when saved (or nothing to save). */
  async function saveText() {
    const box = selectedBox();
    if (!box) return false;
    const { boxId } = box;
    const pageId = state.page.pageId;
    const key = draftKey(boxId);
    if (!state.drafts.has(key)) return true;
    let sent = null;
    const result = await ctx.perform("Text correction", () => {
      sent = state.drafts.get(key) ?? text.value;
      return api.correctText(pageId, boxId, boxById(boxId).text.corrected, sent);
    }, { onSuccess: () => { if (state.drafts.get(key) === sent) state.drafts.delete(key); } });
    return result !== null;
  }

  $("#save-text").addEventListener("click", () => saveText());
  $("#reset-text").addEventListener("click", () => {
    const box = selectedBox();
    if (!box) return;
    state.drafts.delete(draftKey(box.boxId));
    text.value = box.text.corrected;
    markDirty();
    cursorInfo();
  });

  // -- box operations -------------------------------------------------------------------------

  typeSelect.addEventListener("change", () => {
    const box = selectedBox();
    if (box && typeSelect.value !== box.contentType) {
      const { boxId } = box;
      ctx.perform("Relabel", () => api.patchBox(state.page.pageId, boxId, { contentType: typeSelect.value }));
    }
  });
  langSelect.addEventListener("change", () => {
    const box = selectedBox();
    if (box && langSelect.value !== box.language) {
      const { boxId } = box;
      ctx.perform("Language", () => api.patchBox(state.page.pageId, boxId, { language: langSelect.value }));
    }
  });

  $("#split-box").addEventListener("click", async () => {
    const box = selectedBox();
    if (!box || !(await saveText())) return;
    const offset = cpOffset(text.value, text.selectionStart);
    if (offset < 1 || offset >= cpLength(selectedBox().text.corrected)) {
      announce("Put the cursor inside the text where the box is to be split", "error");
      return;
    }
    const { boxId } = box;
    const result = await ctx.perform("Split", () => api.splitBox(state.page.pageId, boxId, offset));
    if (result && result.createdBoxIds && result.createdBoxIds[0]) ctx.selectBox(result.createdBoxIds[0], { pan: true });
  });

  async function mergeWith(step) {
    const box = selectedBox();
    if (!box || !(await saveText())) return;
    const ordered = boxesInOrder();
    const other = ordered[ordered.findIndex((b) => b.boxId === box.boxId) + step];
    if (!other) {
      announce(step < 0 ? "This is the first box" : "This is the last box", "error");
      return;
    }
    const ids = step < 0 ? [other.boxId, box.boxId] : [box.boxId, other.boxId];
    const result = await ctx.perform("Merge", () => api.mergeBoxes(state.page.pageId, ids));
    if (result) ctx.selectBox(ids[0]);
  }
  $("#merge-prev").addEventListener("click", () => mergeWith(-1));
  $("#merge-next").addEventListener("click", () => mergeWith(1));

  $("#delete-box").addEventListener("click", () => { $("#delete-confirm").hidden = false; $("#delete-yes").focus(); });
  $("#delete-no").addEventListener("click", () => { $("#delete-confirm").hidden = true; $("#delete-box").focus(); });
  $("#delete-yes").addEventListener("click", async () => {
    $("#delete-confirm").hidden = true;
    const box = selectedBox();
    if (!box) return;
    const ordered = boxesInOrder();
    const index = ordered.findIndex((b) => b.boxId === box.boxId);
    const next = ordered[index + 1] || ordered[index - 1];
    const { boxId } = box;
    const result = await ctx.perform("Delete box", () => api.deleteBox(state.page.pageId, boxId));
    if (result) {
      state.drafts.delete(draftKey(boxId));
      ctx.selectBox(next ? next.boxId : null);
    }
  });

  // -- the order list -------------------------------------------------------------------------

  const list = $("#order-list");
  Sortable.create(list, {
    handle: ".handle",
    animation: 150,
    onEnd: () => {
      const ids = Array.from(list.children, (li) => li.dataset.boxId);
      if (ids.join() !== boxesInOrder().map((b) => b.boxId).join()) saveOrder(ids);
    },
  });

  function saveOrder(ids) {
    ctx.perform("Reading order", () => api.setReadingOrder(state.page.pageId, ids));
  }

  function move(boxId, step) {
    const ids = boxesInOrder().map((b) => b.boxId);
    const i = ids.indexOf(boxId);
    const j = i + step;
    if (j < 0 || j >= ids.length) return;
    [ids[i], ids[j]] = [ids[j], ids[i]];
    saveOrder(ids);
  }

  function renderOrder() {
    clear(list);
    const threshold = state.project ? state.project.settings.ocrConfidenceThreshold : 0.8;
    for (const box of boxesInOrder()) {
      const low = box.confidence < threshold && !box.text.isCorrected;
      list.append(h("li", { dataset: { boxId: box.boxId }, class: box.boxId === state.selectedBoxId ? "selected" : null },
        h("span", { class: "handle", title: "Drag to reorder", "aria-hidden": "true", text: "⠿" }),
        h("button", { type: "button", class: "select-box", "aria-current": box.boxId === state.selectedBoxId ? "true" : null,
                      onclick: () => ctx.selectBox(box.boxId, { pan: true }) },
          h("span", { class: "order", text: String(box.readingOrder) }),
          h("span", { class: "swatch", style: `background:${colourOf(box.contentType)}` }),
          h("span", { class: "type", text: box.contentType }),
          low ? h("span", { class: "badge low", text: `${Math.round(box.confidence * 100)}%` }) : null,
          state.drafts.has(draftKey(box.boxId)) ? h("span", { class: "badge unsaved", text: "unsaved" }) : null,
          h("span", { class: "excerpt", text: excerpt(box.text.corrected, 48) })),
        h("button", { type: "button", class: "move", "aria-label": `Move box ${box.readingOrder} up`, text: "↑", onclick: () => move(box.boxId, -1) }),
        h("button", { type: "button", class: "move", "aria-label": `Move box ${box.readingOrder} down`, text: "↓", onclick: () => move(box.boxId, 1) })));
    }
  }

  // -- render ---------------------------------------------------------------------------------

  function render() {
    renderOrder();
    const box = selectedBox();
    $("#no-box").hidden = Boolean(box);
    $("#box-editor").hidden = !box;
    if (!box) {
      shownKey = null;
      return;
    }
    const key = draftKey(box.boxId);
    if (shownKey !== key) {
      text.value = state.drafts.get(key) ?? box.text.corrected;
      shownKey = key;
      $("#delete-confirm").hidden = true;
    } else if (!state.drafts.has(key) && text.value !== box.text.corrected) {
      text.value = box.text.corrected;
    }
    text.lang = LANGUAGES[box.language] || "und";
    $("#box-preview").lang = text.lang;
    $("#box-id").textContent = box.boxId;
    $("#box-heading-type").textContent = box.contentType;
    $("#box-heading-type").style.borderColor = colourOf(box.contentType);
    typeSelect.value = box.contentType;
    langSelect.value = box.language;
    const who = box.lastModifiedBy ? ` · last edited by ${box.lastModifiedBy.name}` : "";
    $("#box-meta").textContent = `Reading order ${box.readingOrder} · confidence ${Math.round(box.confidence * 100)}%`
      + `${box.text.isCorrected ? " · corrected" : ""}${who}`;
    $("#ocr-text").textContent = box.text.ocr || "(no OCR text: drawn by a person)";
    const suggestion = $("#ocr-suggestion");
    clear(suggestion);
    if (box.text.ocrSuggestion) {
      suggestion.append(h("p", { text: `A later OCR run (${box.text.ocrSuggestion.runId}) reads:` }),
        h("pre", { text: box.text.ocrSuggestion.text }),
        h("button", { type: "button", text: "Use this reading", onclick: () => {
          text.value = box.text.ocrSuggestion.text;
          text.dispatchEvent(new Event("input", { bubbles: true }));
        } }));
    }
    markDirty();
    cursorInfo();
  }

  return {
    render,
    saveText,
    currentDraft,
    insert,
    /** Put the keyboard in the text area. */
    focusText() { if (selectedBox()) text.focus(); },
    textArea: text,
  };
}
