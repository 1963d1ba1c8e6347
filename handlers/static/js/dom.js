// Building DOM without HTML strings (no innerHTML anywhere: data stays data), and the console's
// small set of accessible building blocks: labelled fields, forms that submit on Enter, tables, bars.
import { t } from './i18n.js';
import { ApiError } from './api.js';

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open']);
let serial = 0;

export function uid(prefix = 'el') {
  serial += 1;
  return `${prefix}-${serial}`;
}

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false || child === '') continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Replace a live region's content, unless someone is typing in it: then try again shortly, so that a
 * live update never takes a half-filled field away from a dispatcher.
 */
export function update(region, build) {
  const active = document.activeElement;
  if (active && region.contains(active) && active.matches('input, select, textarea')) {
    clearTimeout(region.retryTimer);
    region.retryTimer = setTimeout(() => update(region, build), 1000);
    return;
  }
  const content = typeof build === 'function' ? build() : build;
  const hadFocus = Boolean(active && active !== document.body && region.contains(active));
  region.replaceChildren(...[content].flat(Infinity).filter(Boolean));
  if (hadFocus && !region.contains(document.activeElement)) {
    // The button pressed went with the old rows: keep keyboard users where they were, not back at the top.
    region.tabIndex = -1;
    region.focus({ preventScroll: true });
  }
}

export function input(name, props = {}) {
  return h('input', { name, id: uid(name), type: 'text', ...props });
}

export function textarea(name, props = {}) {
  return h('textarea', { name, id: uid(name), rows: 3, ...props });
}

/** options: [[value, label], …]. */
export function select(name, options, value, props = {}) {
  const el = h('select', { name, id: uid(name), ...props },
    options.map(([v, label]) => h('option', { value: v, text: label })));
  if (value !== undefined && value !== null) el.value = value;
  return el;
}

export function field(label, control, hint) {
  const hintId = hint ? uid('hint') : null;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: control.id, text: label }), control,
    hint && h('p', { class: 'hint', id: hintId, text: hint }));
}

export function checkbox(name, label, checked = false) {
  const box = h('input', { type: 'checkbox', name, id: uid(name), checked });
  return h('div', { class: 'field check' }, box, h('label', { for: box.id, text: label }));
}

export function button(text, props = {}) {
  return h('button', { type: 'button', ...props }, text);
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind ? `badge-${kind}` : ''}`.trim(), text });
}

export function heading(level, text, props = {}) {
  return h(`h${level}`, props, text);
}

/** A table with a caption and column headers; `rows` are arrays of cells (text or nodes). */
export function table(caption, headers, rows, { empty, rowProps } = {}) {
  if (!rows.length) return h('p', { class: 'empty', text: empty || t('common.none') });
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { text: caption }),
      h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col', text })))),
      h('tbody', {}, rows.map((cells, index) => h('tr', rowProps ? rowProps(index) : {},
        cells.map((cell) => h('td', {}, cell)))))));
}

/** A labelled <progress> bar: value of max, with the figures in words beside it. */
export function bar(label, value, max, kind, text) {
  const id = uid('bar');
  const top = Number(max) > 0 ? Number(max) : 1;
  return h('div', { class: `bar bar-${kind}` },
    h('span', { class: 'bar-label', id }, h('span', { class: 'bar-name', text: label }), h('span', { text })),
    h('progress', { max: top, value: Math.min(Math.max(Number(value) || 0, 0), top), 'aria-labelledby': id,
      dataset: { value: String(value) } }));
}

/** Say what went wrong in words: the problem's status in the current language, and the server's detail. */
export function problemText(error) {
  if (!(error instanceof ApiError)) return t('problem.network');
  const known = t(`problem.${error.status}`);
  const title = known === `problem.${error.status}` ? t('problem.generic', { status: error.status }) : known;
  const details = (error.problem.errors || []).map((e) => `${e.pointer || e.parameter || ''} ${e.detail}`.trim());
  return [title, error.problem.detail, ...details].filter(Boolean).join(' — ');
}

/** Read a form's named controls into an object (checkbox groups become arrays). */
export function values(formEl) {
  const out = {};
  for (const [key, value] of new FormData(formEl).entries()) {
    if (key in out) out[key] = [].concat(out[key], value);
    else out[key] = typeof value === 'string' ? value.trim() : value;
  }
  return out;
}

/**
 * A form that submits on Enter: its submit handler gets the values; while it runs the button is disabled;
 * a failure is announced inside the form (role=alert), success resets it unless `keep` is set.
 */
export function form({ label, submit, children, onSubmit, describe, keep = false, cls = 'stack' }) {
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submitButton = h('button', { type: 'submit', class: 'primary' }, submit);
  const el = h('form', { class: `form ${cls}`, 'aria-label': label, novalidate: false },
    children, error, h('div', { class: 'form-actions' }, submitButton));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    submitButton.disabled = true;
    try {
      await onSubmit(values(el), el);
      if (!keep) el.reset();
      el.dispatchEvent(new Event('relief:reset'));
    } catch (failure) {
      error.textContent = (describe && describe(failure)) || problemText(failure);
      error.hidden = false;
      if (!(failure instanceof ApiError) && !(failure instanceof TypeError)) throw failure;
    } finally {
      submitButton.disabled = false;
    }
  });
  return el;
}

/** Show one fieldset of several (by kind), disabling the others so their fields neither validate nor submit. */
export function switchSets(sets, active) {
  for (const [key, set] of Object.entries(sets)) {
    const on = key === active;
    set.hidden = !on;
    set.disabled = !on;
  }
}

const offered = new WeakMap(); // each <select>'s options as last given

/**
 * Give a <select> new options ([[value, label], …]; a value may be [label, [[value, label], …]] for an
 * <optgroup>), keeping what was chosen when it is still offered: live refreshes never undo a choice.
 */
export function setOptions(el, options) {
  const signature = JSON.stringify(options);
  if (offered.get(el) === signature) return; // unchanged: leave an open list alone
  offered.set(el, signature);
  const chosen = el.value;
  const build = ([value, label]) => (Array.isArray(label)
    ? h('optgroup', { label: value }, label.map(build))
    : h('option', { value, text: label }));
  el.replaceChildren(...options.map(build));
  if ([...el.options].some((o) => o.value === chosen)) el.value = chosen;
}

/**
 * A form that, after a save, starts the next entry from the same choices: it resets (so nothing is left
 * flagged invalid) and then gets back every value but those named in `clear`.
 */
export function keepChoices(formEl, clear) {
  let saved = null;
  formEl.addEventListener('submit', () => {
    saved = [...formEl.elements].filter((c) => c.name && !clear.includes(c.name))
      .map((c) => [c, c.type === 'checkbox' ? c.checked : c.value]);
  }, { capture: true });
  formEl.addEventListener('relief:reset', () => {
    for (const [control, value] of saved || []) {
      if (control.type === 'checkbox') control.checked = value;
      else control.value = value;
    }
    saved = null;
  });
}
