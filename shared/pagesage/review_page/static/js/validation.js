// The "Check" panel: validation of the page (errors, warnings, automatic fixes) and its review
// status (two-person review: approval needs someone other than the one who set "reviewed").

import * as api from "./api.js";
import { $, clear, h, when } from "./dom.js";
import { state } from "./state.js";

/** Allowed review status changes (the server's rule; it refuses any other with 409). */
export const TRANSITIONS = {
  pending: ["in-progress", "reviewed", "needs-rework"],
  "in-progress": ["pending", "reviewed", "needs-rework"],
  reviewed: ["approved", "in-progress", "needs-rework"],
  "needs-rework": ["in-progress", "reviewed", "pending"],
  approved: ["needs-rework"],
};

const LABELS = { pending: "Back to pending", "in-progress": "Start review", reviewed: "Mark reviewed", "needs-rework": "Needs rework",
                 approved: "Approve" };

/** Set up validation and review; returns their controls. */
export function initValidation(ctx) {
  let last = null;

  async function validate() {
    const summary = $("#validation-summary");
    summary.textContent = "Validating…";
    const { pageId, version } = state.page;
    try {
      last = { ...(await api.validatePage(pageId)), pageId, version };
    } catch (error) {
      summary.textContent = `Validation failed: ${error.detail || error.message}`;
      return;
    }
    renderValidation();
  }

  function renderValidation() {
    const summary = $("#validation-summary");
    const list = clear($("#warnings"));
    const fix = $("#auto-fix");
    if (!last) {
      summary.textContent = "Not validated yet.";
      delete summary.dataset.valid;
      fix.hidden = true;
      return;
    }
    const count = (severity) => last.warnings.filter((w) => w.severity === severity).length;
    const errors = count("error");
    const warnings = count("warning");
    summary.dataset.valid = String(last.validationStatus.isValid);
    summary.textContent = `${last.validationStatus.isValid ? "Valid" : "Not valid"}: ${errors} error${errors === 1 ? "" : "s"}, `
      + `${warnings} warning${warnings === 1 ? "" : "s"}, ${count("info")} note${count("info") === 1 ? "" : "s"}`
      + ` (checked ${when(last.validationStatus.lastValidated)}`
      + `${last.version !== state.page.version ? `, at version ${last.version}: the page changed since, validate again` : ""})`;
    for (const warning of last.warnings) {
      list.append(h("li", { class: `severity-${warning.severity}`, dataset: { type: warning.type, warningId: warning.warningId } },
        h("strong", { text: `${warning.severity}: ` }), h("code", { text: warning.type }), ` ${warning.message}`,
        warning.suggestedFix ? h("span", { class: "hint", text: ` — ${warning.suggestedFix}` }) : null,
        warning.autoFixable ? h("span", { class: "badge", text: "auto-fixable" }) : null,
        warning.boxId ? h("button", { type: "button", text: "Show box", onclick: () => ctx.selectBox(warning.boxId, { pan: true }) }) : null));
    }
    fix.hidden = last.autoFixableCount === 0;
    fix.textContent = `Auto-fix ${last.autoFixableCount} finding${last.autoFixableCount === 1 ? "" : "s"}`;
  }

  $("#validate").addEventListener("click", validate);
  $("#auto-fix").addEventListener("click", async () => {
    const answer = await ctx.perform("Auto-fix", () => api.autoFix(state.page.pageId));
    if (answer) {
      $("#validation-summary").textContent = `Fixed ${answer.fixed.length}, not fixed ${answer.failed.length}.`;
      validate();
    }
  });

  // -- review status ---------------------------------------------------------------------------

  function renderReview() {
    const current = state.page.currentState;
    const status = current.reviewStatus;
    $("#review-state").textContent = `Status: ${status}`
      + (current.reviewedBy ? ` · reviewed by ${current.reviewedBy.name}` : "")
      + (current.approvedBy ? ` · approved by ${current.approvedBy.name}` : "");
    $("#review-state").dataset.status = status;
    const buttons = clear($("#review-buttons"));
    for (const to of ["in-progress", "reviewed", "approved", "needs-rework", "pending"]) {
      const allowed = TRANSITIONS[status].includes(to);
      buttons.append(h("button", { type: "button", dataset: { status: to }, disabled: !allowed, text: LABELS[to],
                                   onclick: () => setStatus(to) }));
    }
  }

  async function setStatus(to) {
    const message = $("#review-message");
    message.textContent = "";
    message.dataset.kind = "";
    const done = await ctx.perform(`Review status ${to}`, () => api.setReviewStatus(state.page.pageId, to), {
      onError: (error) => {
        message.textContent = error.code === "same_reviewer"
          ? `${error.detail}: someone else must approve this page (409 ${error.code}).`
          : `${error.detail} (${error.status} ${error.code || ""})`;
        message.dataset.kind = "error";
      },
    });
    if (done) {
      message.textContent = `The page is now ${to}.`;
      message.dataset.kind = "ok";
    }
  }

  return {
    validate,
    render() {
      renderReview();
      if (last && state.page && last.pageId !== state.page.pageId) last = null;
      renderValidation();
    },
    /** Forget the last validation (another page opened). */
    reset() { last = null; $("#review-message").textContent = ""; },
  };
}
