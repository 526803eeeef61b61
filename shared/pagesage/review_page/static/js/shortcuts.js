// Keyboard shortcuts and the `?` help overlay. Letters with a modifier are matched by their key
// position (`event.code`), so they work whatever Alt or Shift makes of them on a layout.

import { $, h, isTextField } from "./dom.js";

/** Every shortcut: [keys, what it does]; the help overlay lists them. */
export const SHORTCUTS = [
  ["j / k", "next / previous box in reading order (Tab also moves through the box list)"],
  ["n / p", "next / previous page"],
  ["Enter", "edit the selected box's text"],
  ["Escape", "leave the text editor (or close this help)"],
  ["Ctrl+S / ⌘S", "save the box's text"],
  ["Ctrl+Shift+R / ⌘⇧R", "add an inline reference at the cursor (the marker is the selection)"],
  ["Ctrl+Shift+F / ⌘⇧F", "find a footnote by its number"],
  ["Alt+→", "follow the reference at the cursor (or the box's first)"],
  ["Alt+←", "go back along the followed references"],
  ["Alt+Shift+R", "show every reference to the selected box (footnote)"],
  ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo the page's last edit (outside the text area and the image)"],
  ["?", "show or hide this help"],
];

/** Install the shortcuts; `actions` holds what each one calls. */
export function initShortcuts(actions) {
  const help = $("#help");
  const list = $("#help-list");
  for (const [keys, what] of SHORTCUTS) list.append(h("dt", {}, h("kbd", { text: keys })), h("dd", { text: what }));
  const toggleHelp = () => (help.open ? help.close() : help.showModal());
  $("#help-button").addEventListener("click", toggleHelp);
  $("#help-close").addEventListener("click", () => help.close());

  document.addEventListener("keydown", (event) => {
    const mod = event.ctrlKey || event.metaKey;
    const target = event.target;
    const typing = isTextField(target);
    const inViewer = Boolean(target.closest && target.closest("#viewer"));
    const run = (action) => { event.preventDefault(); event.stopPropagation(); action(); };

    if (!actions.pageOpen()) {
      if (!typing && !mod && !event.altKey && event.key === "?") run(toggleHelp);
      return;
    }
    if (mod && !event.altKey && !event.shiftKey && event.code === "KeyS") return run(actions.save);
    if (mod && event.shiftKey && !event.altKey && event.code === "KeyR") return run(actions.addReference);
    if (mod && event.shiftKey && !event.altKey && event.code === "KeyF") return run(actions.findFootnote);
    if (event.altKey && event.shiftKey && !mod && event.code === "KeyR") return run(actions.showIncoming);
    if (event.altKey && !mod && !event.shiftKey && event.key === "ArrowRight") return run(actions.follow);
    if (event.altKey && !mod && !event.shiftKey && event.key === "ArrowLeft") return run(actions.back);
    if (mod && !event.altKey && !typing && !inViewer && (event.code === "KeyZ" || event.code === "KeyY")) {
      return run(event.shiftKey || event.code === "KeyY" ? actions.redo : actions.undo);
    }
    if (event.key === "Escape" && typing) return run(actions.leaveEditor);
    if (typing || mod || event.altKey) return;
    if (help.open) {
      if (event.key === "?") run(toggleHelp);
      return;
    }
    switch (event.key) {
      case "j": return run(() => actions.box(1));
      case "k": return run(() => actions.box(-1));
      case "n": return run(() => actions.page(1));
      case "p": return run(() => actions.page(-1));
      case "?": return run(toggleHelp);
      case "Enter":
        if (target === document.body || target === document.documentElement || inViewer) return run(actions.edit);
        return undefined;
      default: return undefined;
    }
  }, true);
}
