// The exports panel: export the project (Quarto Markdown, hOCR, PAGE-XML, ALTO, plain text,
// JSON), list its exports with download links, and show an export's text.

import * as api from "./api.js";
import { $, announce, clear, h, when } from "./dom.js";
import { state } from "./state.js";

/** Formats, with the label of their button. */
export const FORMATS = [["markdown-quarto", "Quarto Markdown"], ["hocr", "hOCR"], ["page-xml", "PAGE-XML (zip)"], ["alto", "ALTO XML"],
                        ["plain-text", "Plain text"], ["json", "JSON"]];

const BINARY = new Set(["page-xml"]);
const SHOWN_CHARS = 500_000;

/** Set up the exports panel; returns its controls. */
export function initExports() {
  const buttons = $("#export-buttons");
  for (const [format, label] of FORMATS) {
    buttons.append(h("button", { type: "button", dataset: { format }, text: `Export ${label}`, onclick: () => create(format) }));
  }

  async function create(format) {
    const projectId = state.project.projectId;
    announce(`Exporting ${format}…`);
    buttons.setAttribute("aria-busy", "true");
    try {
      const record = await api.createExport(projectId, { format });
      announce(`Exported ${format}: ${record.fileSize} bytes`, "ok");
      await load();
      await show(record);
    } catch (error) {
      announce(`Export failed: ${error.detail || error.message}`, "error");
    } finally {
      buttons.removeAttribute("aria-busy");
    }
  }

  let loads = 0;

  async function load() {
    if (!state.project) return;
    const list = $("#export-list");
    const load = ++loads;
    let items;
    try {
      items = (await api.listExports(state.project.projectId)).items;
    } catch (error) {
      if (load === loads) clear(list).append(h("li", { class: "error", text: error.detail || error.message }));
      return;
    }
    if (load !== loads) return; // a later load shows its own answer
    clear(list);
    if (!items.length) list.append(h("li", { class: "hint", text: "No exports yet." }));
    for (const record of [...items].reverse()) {
      const name = record.filePath.split("/").pop();
      list.append(h("li", { dataset: { exportId: record.exportId, format: record.format } },
        h("strong", { text: record.format }), ` ${when(record.generatedAt)} · ${record.fileSize.toLocaleString()} bytes · pages ${record.includedPages.join(", ")} · `,
        h("code", { title: "SHA-256", text: record.sha256.slice(0, 12) }), " ",
        h("a", { href: api.exportFileUrl(state.project.projectId, record.exportId), download: name, text: `Download ${name}` }), " ",
        BINARY.has(record.format) ? null : h("button", { type: "button", text: "Show", onclick: () => show(record) })));
    }
  }

  async function show(record) {
    const pre = $("#export-text");
    const caption = $("#export-shown");
    if (BINARY.has(record.format)) {
      caption.textContent = `${record.format} is a zip archive: download it to read it.`;
      pre.textContent = "";
      return;
    }
    try {
      const text = await api.exportFileText(state.project.projectId, record.exportId);
      caption.textContent = `${record.format} export ${record.exportId}${text.length > SHOWN_CHARS ? " (first 500,000 characters)" : ""}`;
      pre.dataset.format = record.format;
      pre.dataset.exportId = record.exportId;
      pre.textContent = text.slice(0, SHOWN_CHARS);
    } catch (error) {
      caption.textContent = `The file could not be read: ${error.detail || error.message}`;
    }
  }

  return { load };
}
