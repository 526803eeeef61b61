// The page image in OpenSeadragon (zoom, pan), its boxes as Annotorious rectangles (select,
// move, resize, draw; coloured by content type), the OCR words coloured by confidence
// (OpenSeadragon overlays) and the reading order as arrows (one SVG overlay).
//
// OpenSeadragon and Annotorious are loaded as classic scripts before the modules
// (`window.OpenSeadragon`, `window.AnnotoriousOSD`). Coordinates are pixels of the page image,
// origin top-left, as the API's `coordinates` are.

import { h } from "./dom.js";

/** The colour of each content type (boxes, legend, box list). */
export const TYPE_COLOURS = {
  verse: "#8e24aa", commentary: "#1e88e5", translation: "#2e7d32", transliteration: "#00897b", footnote: "#e65100",
  "footnote-reference": "#f9a825", heading: "#c2185b", subheading: "#ad1457", "running-head": "#616161",
  "page-number": "#455a64", "verse-number": "#6d4c41", image: "#9e9d24", table: "#3949ab", caption: "#558b2f", other: "#757575",
};

/** The colour of a content type. */
export const colourOf = (type) => TYPE_COLOURS[type] || TYPE_COLOURS.other;

/** A word's confidence class: "high" (≥ 90), "mid" (≥ 70) or "low" (Tesseract's 0-100). */
export const confidenceClass = (confidence) => (confidence >= 90 ? "high" : confidence >= 70 ? "mid" : "low");

const SVG = "http://www.w3.org/2000/svg";

function toAnnotation(box) {
  const { x, y, width, height } = box.coordinates;
  return {
    id: box.boxId,
    bodies: [{ id: `${box.boxId}#type`, annotation: box.boxId, purpose: "classifying", value: box.contentType }],
    target: {
      annotation: box.boxId,
      selector: { type: "RECTANGLE", geometry: { x, y, w: width, h: height, bounds: { minX: x, minY: y, maxX: x + width, maxY: y + height } } },
    },
  };
}

/**
 * A viewer in `element`. `handlers`: `onSelect(boxId)` when a box is clicked, `onChange(boxId,
 * coordinates)` when one was moved or resized, `onDraw(coordinates, temporaryId)` when a new one
 * was drawn, `onOpen()` once the image is shown. Returns the viewer's controls.
 */
export function createViewer(element, handlers) {
  const viewer = window.OpenSeadragon({
    element,
    prefixUrl: "vendor/openseadragon/build/openseadragon/images/",
    showNavigator: true,
    navigatorPosition: "BOTTOM_RIGHT",
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
    maxZoomPixelRatio: 4,
    visibilityRatio: 0.4,
    crossOriginPolicy: false,
    animationTime: 0.3,
  });
  const types = new Map(); // boxId -> content type
  const annotator = window.AnnotoriousOSD.createOSDAnnotator(viewer, {
    drawingEnabled: false,
    drawingMode: "drag",
    autoSave: true,
    userSelectAction: "EDIT",
    style: (annotation, state) => {
      const colour = colourOf(types.get(annotation.id));
      const selected = state && state.selected;
      return { fill: colour, fillOpacity: selected ? 0.22 : 0.06, stroke: colour, strokeOpacity: 1, strokeWidth: selected ? 3 : 1.5 };
    },
  });
  annotator.setDrawingTool("rectangle");

  let size = null; // {width, height} of the open image
  let boxes = [];
  let words = [];
  let showWords = true;
  let showOrder = true;
  let openedUrl = null;
  let selected = null;

  const rect = (x, y, w, hgt) => viewer.world.getItemAt(0).imageToViewportRectangle(x, y, w, hgt);

  function coordinatesOf(annotation) {
    const g = annotation.target.selector.geometry;
    const x = Math.min(Math.max(0, Math.round(g.x)), size.width - 1);
    const y = Math.min(Math.max(0, Math.round(g.y)), size.height - 1);
    return { x, y, width: Math.max(1, Math.min(Math.round(g.w), size.width - x)), height: Math.max(1, Math.min(Math.round(g.h), size.height - y)) };
  }

  // a click is the reader's choice; selection events also follow `select()` calls, late
  annotator.on("clickAnnotation", (annotation) => {
    if (types.has(annotation.id)) {
      selected = annotation.id;
      handlers.onSelect(selected);
    }
  });
  annotator.on("updateAnnotation", (annotation) => {
    if (types.has(annotation.id) && size) handlers.onChange(annotation.id, coordinatesOf(annotation));
  });
  annotator.on("createAnnotation", (annotation) => {
    if (!types.has(annotation.id) && size) handlers.onDraw(coordinatesOf(annotation), annotation.id);
  });

  viewer.addHandler("open", () => {
    const item = viewer.world.getItemAt(0);
    const dimensions = item.getContentSize();
    size = { width: dimensions.x, height: dimensions.y };
    element.dataset.imageWidth = String(size.width);
    element.dataset.imageHeight = String(size.height);
    item.addHandler("fully-loaded-change", (event) => { element.dataset.loaded = String(event.fullyLoaded); });
    if (item.getFullyLoaded()) element.dataset.loaded = "true";
    draw();
    if (handlers.onOpen) handlers.onOpen();
  });
  viewer.addHandler("open-failed", (event) => {
    element.dataset.loaded = "failed";
    if (handlers.onError) handlers.onError(`the page image could not be loaded: ${event.message || "error"}`);
  });

  function draw() {
    if (!size) return;
    annotator.setAnnotations(boxes.map(toAnnotation), true);
    if (selected && types.has(selected)) annotator.setSelected(selected);
    overlays();
  }

  function overlays() {
    if (!size) return;
    viewer.clearOverlays();
    if (showWords) {
      for (const word of words) {
        const { x, y, w, h: height } = word.bbox;
        const div = h("div", { class: `word conf-${confidenceClass(word.confidence)}`, title: `${word.text} (${Math.round(word.confidence)})`,
                               dataset: { confidence: String(word.confidence) } });
        viewer.addOverlay({ element: div, location: rect(x, y, w, height) });
      }
    }
    if (showOrder && boxes.length > 1) viewer.addOverlay({ element: orderArrows(), location: rect(0, 0, size.width, size.height) });
  }

  function orderArrows() {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${size.width} ${size.height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "reading-order");
    svg.setAttribute("aria-hidden", "true");
    const defs = document.createElementNS(SVG, "defs");
    const marker = document.createElementNS(SVG, "marker");
    Object.entries({ id: "arrowhead", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" })
      .forEach(([k, v]) => marker.setAttribute(k, v));
    const tip = document.createElementNS(SVG, "path");
    tip.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
    marker.append(tip);
    defs.append(marker);
    svg.append(defs);
    const ordered = [...boxes].sort((a, b) => a.readingOrder - b.readingOrder);
    const centre = (b) => [b.coordinates.x + b.coordinates.width / 2, b.coordinates.y + b.coordinates.height / 2];
    ordered.forEach((box, i) => {
      const [cx, cy] = centre(box);
      if (i + 1 < ordered.length) {
        const [nx, ny] = centre(ordered[i + 1]);
        const line = document.createElementNS(SVG, "line");
        Object.entries({ x1: cx, y1: cy, x2: nx, y2: ny, "marker-end": "url(#arrowhead)", class: "order-arrow" })
          .forEach(([k, v]) => line.setAttribute(k, String(v)));
        svg.append(line);
      }
      const label = document.createElementNS(SVG, "text");
      Object.entries({ x: box.coordinates.x + 4, y: box.coordinates.y + Math.min(40, box.coordinates.height), class: "order-number" })
        .forEach(([k, v]) => label.setAttribute(k, String(v)));
      label.textContent = String(box.readingOrder);
      svg.append(label);
    });
    return svg;
  }

  return {
    viewer,
    annotator,
    /** Show the image at `url` with `pageBoxes`; a new URL opens it, the same one redraws. */
    show(url, pageBoxes) {
      boxes = pageBoxes;
      types.clear();
      boxes.forEach((b) => types.set(b.boxId, b.contentType));
      if (url !== openedUrl) {
        openedUrl = url;
        size = null;
        words = [];
        element.dataset.loaded = "false";
        viewer.open({ type: "image", url });
      } else {
        draw();
      }
    },
    /** The OCR words to show (`{text, bbox: {x, y, w, h}, confidence}`). */
    setWords(list) { words = list; overlays(); },
    setWordsVisible(visible) { showWords = visible; overlays(); },
    setOrderVisible(visible) { showOrder = visible; overlays(); },
    /** Select `boxId` on the image; `pan` brings it into view. */
    select(boxId, { pan = false } = {}) {
      selected = boxId;
      if (!size || !types.has(boxId)) return;
      annotator.setSelected(boxId);
      if (pan) {
        const box = boxes.find((b) => b.boxId === boxId);
        const { x, y, width, height } = box.coordinates;
        viewer.viewport.panTo(viewer.world.getItemAt(0).imageToViewportCoordinates(x + width / 2, y + height / 2));
      }
    },
    /** Let the reader draw one rectangle (true), or stop (false). */
    setDrawing(enabled) { annotator.setDrawingEnabled(enabled); },
    /** Remove a drawn rectangle the server did not take. */
    discard(annotationId) { annotator.removeAnnotation(annotationId); },
    /** The image's size in pixels, once open. */
    imageSize: () => size,
  };
}
