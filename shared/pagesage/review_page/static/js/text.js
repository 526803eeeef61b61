// Text rules of the review page: code-point offsets (the API's `charOffset` counts Unicode code
// points, as a W3C Web Annotation TextPositionSelector does, while a JavaScript string index
// counts UTF-16 code units) and reference marker values (docs/book.md, "Inline references").

/** Length of `text` in code points. */
export const cpLength = (text) => Array.from(text).length;

/** The code-point offset of the UTF-16 index `index` of `text`. */
export function cpOffset(text, index) {
  return Array.from(text.slice(0, index)).length;
}

/** The UTF-16 index of the code-point offset `offset` of `text` (its length when past the end). */
export function utf16Index(text, offset) {
  let index = 0;
  let count = 0;
  for (const ch of text) {
    if (count === offset) return index;
    index += ch.length;
    count += 1;
  }
  return index;
}

/** `text` from code point `start` to code point `end`. */
export function cpSlice(text, start, end) {
  return Array.from(text).slice(start, end).join("");
}

const SUPERSCRIPT_DIGITS = { "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9" };
const DEVANAGARI_DIGITS = "०१२३४५६७८९";

/** Characters a marker is made of: superscript digits and minus, note symbols. */
export const MARKER_CHAR = /[⁰¹²³⁴⁵⁶⁷⁸⁹⁻*†‡§‖¶]/u;

/**
 * The value of a marker or a footnote's leading number: "¹²" and "[12]" and "१२" and "12." are
 * "12"; a symbol ("*", "†") is itself; null when `text` is none of these.
 */
export function markerValue(text) {
  let value = (text || "").trim().replace(/\.$/u, "");
  value = value.replace(/^\[(.+)\]$/u, "$1").replace(/^\((.+)\)$/u, "$1");
  value = Array.from(value).map((ch) => SUPERSCRIPT_DIGITS[ch] ?? (DEVANAGARI_DIGITS.includes(ch) ? String(DEVANAGARI_DIGITS.indexOf(ch)) : ch)).join("");
  if (/^\d+$/u.test(value)) return String(Number(value));
  if (/^\d+[-⁻]\d+$/u.test(value)) return value.replace("⁻", "-");
  if (/^(\*+|†+|‡+|§+|‖+|¶+)$/u.test(value)) return value;
  return null;
}

const FOOTNOTE_START = /^\s*(\[\d+\]|\(\d+\)|\d+\.?|[⁰¹²³⁴⁵⁶⁷⁸⁹]+|[०-९]+\.?|\*+|†+|‡+|§+|‖+|¶+)/u;

/** The value of the marker a footnote's text starts with ("1. See …" → "1"), or null. */
export function footnoteValue(text) {
  const match = FOOTNOTE_START.exec(text || "");
  return match ? markerValue(match[1]) : null;
}

/**
 * The marker at a text area's selection, as UTF-16 indices `{start, end}`: the selection when
 * there is one, else the run of marker characters touching the cursor; null when none.
 */
export function markerAt(text, start, end) {
  if (end > start) return { start, end };
  let from = start;
  let to = start;
  while (from > 0 && MARKER_CHAR.test(text[from - 1])) from -= 1;
  while (to < text.length && MARKER_CHAR.test(text[to])) to += 1;
  return to > from ? { start: from, end: to } : null;
}

/** "U+0902" for a code point. */
export function codePointName(ch) {
  return `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
}
