// The project list (by title) and a project's pages: review status, mean confidence, and the
// review queue (pages under the project's confidence threshold first, least confident first).

import * as api from "./api.js";
import { $, clear, h, when } from "./dom.js";

const percent = (value) => `${Math.round(value * 100)}%`;

/** Pages to review, in the order to review them: not approved; under `threshold` first; by confidence. */
export function reviewQueue(pages, threshold) {
  const open = pages.filter((p) => p.reviewStatus !== "approved");
  const byConfidence = (a, b) => a.confidence - b.confidence || a.pageNumber - b.pageNumber;
  return [...open.filter((p) => p.confidence < threshold).sort(byConfidence), ...open.filter((p) => p.confidence >= threshold).sort(byConfidence)];
}

/** Fill the project table from `GET /projects` (every page of the listing). */
export async function showProjects() {
  const body = clear($("#project-rows"));
  let cursor = null;
  let count = 0;
  do {
    const answer = await api.listProjects(cursor);
    for (const project of answer.items) {
      count += 1;
      body.append(h("tr", { dataset: { projectId: project.projectId } },
        h("td", {}, h("a", { href: `#/projects/${encodeURIComponent(project.projectId)}`, text: project.title })),
        h("td", { text: project.authors.join(", ") }), h("td", { text: String(project.pages.total) }),
        h("td", { text: String(project.pages.reviewed) }), h("td", { text: project.status }), h("td", { text: when(project.updatedAt) })));
    }
    cursor = answer.nextCursor;
  } while (cursor);
  if (!count) body.append(h("tr", {}, h("td", { colspan: "6", text: "No projects yet: make one with `pagesage project create --job JOB_ID`." })));
}

/** Fill the project view: its pages and its review queue. */
export function showProject(project, pages) {
  const threshold = project.settings.ocrConfidenceThreshold;
  $("#project-title").textContent = project.title;
  $("#project-meta").textContent = [project.authors.join(", "), project.publicationYear, `${project.pages.total} page${project.pages.total === 1 ? "" : "s"}`,
    `${project.pages.reviewed} reviewed`, `status ${project.status}`].filter(Boolean).join(" · ");
  const link = (page) => `#/projects/${encodeURIComponent(project.projectId)}/pages/${encodeURIComponent(page.pageId)}`;
  const rows = clear($("#page-rows"));
  for (const page of pages) {
    const low = page.confidence < threshold;
    rows.append(h("tr", { dataset: { pageId: page.pageId }, class: low ? "low" : null },
      h("td", {}, h("a", { href: link(page), text: `Page ${page.pageNumber}` })),
      h("td", {}, h("span", { class: `badge status-${page.reviewStatus}`, text: page.reviewStatus })),
      h("td", { text: percent(page.confidence) }, low ? h("span", { class: "badge low", text: "below threshold" }) : null),
      h("td", { text: String(page.boxCount) }), h("td", { text: String(page.version) })));
  }
  $("#queue-hint").textContent = `Not yet approved; pages under the project's confidence threshold (${percent(threshold)}) first, least confident first.`;
  const queue = clear($("#queue"));
  for (const page of reviewQueue(pages, threshold)) {
    queue.append(h("li", { dataset: { pageId: page.pageId } },
      h("a", { href: link(page), text: `Page ${page.pageNumber}` }), ` · ${percent(page.confidence)} · ${page.reviewStatus}`,
      page.confidence < threshold ? h("span", { class: "badge low", text: "below threshold" }) : null));
  }
  if (!queue.children.length) queue.append(h("li", { class: "hint", text: "Every page is approved." }));
}
