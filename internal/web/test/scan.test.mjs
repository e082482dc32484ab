// captureScan: a keyboard-wedge scanner is a burst of keys ending with
// Enter; people type slower. Events are synthetic with controlled
// timestamps, so the timing rules are tested exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { captureScan } from "../eid-agent.js";

class Key extends Event {
  constructor(key, t, mods = {}) {
    super("keydown", { cancelable: true });
    this.key = key;
    Object.defineProperty(this, "timeStamp", { value: t });
    this.ctrlKey = !!mods.ctrl;
    this.altKey = !!mods.alt;
    this.metaKey = !!mods.meta;
    this.isComposing = false;
  }
}

/** An input-like target: keys append to value as a browser would, after the keydown listeners. */
class Field extends EventTarget {
  constructor(value = "") { super(); this.value = value; }
  press(key, t, mods) {
    const ev = new Key(key, t, mods);
    Object.defineProperty(ev, "target", { value: this });
    this.dispatchEvent(ev);
    if (!ev.defaultPrevented && key.length === 1 && !mods) this.value += key;
    return ev;
  }
  type(text, start, gap, end = "Enter", endGap = gap) {
    let t = start;
    for (const ch of text) { this.press(ch, t); t += gap; }
    const ev = end ? this.press(end, t - gap + endGap) : null;
    return { t, ev };
  }
}

function setup(opts) {
  const field = new Field();
  const scans = [];
  const stop = captureScan(field, (raw) => scans.push(raw), opts);
  return { field, scans, stop };
}

const cases = [
  { name: "scanner burst (5 ms) is a scan", text: "85073003328", gap: 5, want: ["85073003328"] },
  { name: "exactly at the 30 ms limit is a scan", text: "ABCDEFGH", gap: 30, want: ["ABCDEFGH"] },
  { name: "31 ms between keys is typing", text: "ABCDEFGH", gap: 31, want: [] },
  { name: "human typing (120 ms) is ignored", text: "85073003328", gap: 120, want: [] },
  { name: "fewer than minLength characters is ignored", text: "1234567", gap: 5, want: [] },
  { name: "exactly minLength is a scan", text: "12345678", gap: 5, want: ["12345678"] },
  { name: "Enter after a pause is not a scan's end", text: "85073003328", gap: 5, endGap: 200, want: [] },
  { name: "no terminator, no scan", text: "85073003328", gap: 5, end: null, want: [] },
  { name: "Tab is not a terminator by default", text: "85073003328", gap: 5, end: "Tab", want: [] },
  { name: "Tab terminates when configured", text: "85073003328", gap: 5, end: "Tab", opts: { terminators: ["Enter", "Tab"] }, want: ["85073003328"] },
  { name: "symbols and letters pass through raw", text: "]C1;ISI+|85073003328|592123456789", gap: 3, want: ["]C1;ISI+|85073003328|592123456789"] },
  { name: "custom limits", text: "12345", gap: 45, opts: { maxInterKeyMs: 50, minLength: 5 }, want: ["12345"] },
];

for (const c of cases) {
  test(c.name, () => {
    const { field, scans } = setup(c.opts);
    field.type(c.text, 1000, c.gap, c.end === undefined ? "Enter" : c.end, c.endGap ?? c.gap);
    assert.deepEqual(scans, c.want);
  });
}

test("a scan restores the field and prevents the Enter (no form submit)", () => {
  const { field, scans } = setup();
  field.value = "typed by hand ";
  const { ev } = field.type("85073003328", 1000, 4);
  assert.deepEqual(scans, ["85073003328"]);
  assert.equal(field.value, "typed by hand ", "the burst's characters are taken back out");
  assert.equal(ev.defaultPrevented, true);
});

test("human Enter is left alone", () => {
  const { field, scans } = setup();
  const { ev } = field.type("hello world", 1000, 150);
  assert.deepEqual(scans, []);
  assert.equal(ev.defaultPrevented, false);
  assert.equal(field.value, "hello world");
});

test("restoreInput false keeps the characters", () => {
  const { field, scans } = setup({ restoreInput: false });
  field.type("85073003328", 1000, 4);
  assert.deepEqual(scans, ["85073003328"]);
  assert.equal(field.value, "85073003328");
});

test("a burst right after slow typing is captured on its own", () => {
  const { field, scans } = setup();
  field.type("abc", 0, 200, null);       // a person types "abc"
  field.type("85073003328", 900, 5);      // then scans
  assert.deepEqual(scans, ["85073003328"]);
  assert.equal(field.value, "abc");
});

test("two scans in a row are two scans", () => {
  const { field, scans } = setup();
  field.type("11111111111", 0, 5);
  field.type("22222222222", 500, 5);
  assert.deepEqual(scans, ["11111111111", "22222222222"]);
});

test("Shift between a scanner's characters does not break the burst", () => {
  const { field, scans } = setup();
  let t = 0;
  for (const ch of "AB12CD34") {
    if (ch >= "A" && ch <= "Z") field.press("Shift", (t += 2));
    field.press(ch, (t += 2));
  }
  field.press("Enter", (t += 2));
  assert.deepEqual(scans, ["AB12CD34"]);
});

test("a shortcut (Ctrl+key) or a named key ends the burst", () => {
  const { field, scans } = setup();
  field.type("1234", 0, 5, null);
  field.press("v", 20, { ctrl: true });
  field.type("5678", 25, 5);
  assert.deepEqual(scans, [], "ctrl-v split it into two short bursts");
  field.type("1234", 1000, 5, null);
  field.press("ArrowLeft", 1020);
  field.type("5678", 1025, 5);
  assert.deepEqual(scans, []);
});

test("stop removes the listener", () => {
  const { field, scans, stop } = setup();
  stop();
  field.type("85073003328", 0, 5);
  assert.deepEqual(scans, []);
});
