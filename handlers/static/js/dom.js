// Building DOM without HTML strings (no innerHTML anywhere: data stays data), and the console's
// small set of accessible building blocks: labelled fields, forms that submit on Enter, tables, bars.
import { t, tEnum, getLang } from './i18n.js';
import { ApiError } from './api.js';

const PROPERTIES = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open']);
const DEFAULTS = { value: 'defaultValue', checked: 'defaultChecked', selected: 'defaultSelected' };
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
    else if (PROPERTIES.has(key)) {
      el[key] = value;
      // What a control starts with is also what a form's reset gives back (a property alone is lost on reset:
      // the currency, household size, kind a form offers must still be there for the next entry).
      if (key in DEFAULTS && DEFAULTS[key] in el) el[DEFAULTS[key]] = value;
    } else el.setAttribute(key, value === true ? '' : String(value));
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
    options.map(([v, label]) => h('option', { value: v, text: label, selected: value !== undefined && value !== null
      && String(v) === String(value) })));
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

/** The problem's slug, from its `type` (/docs#problem-<slug>); '' for about:blank. */
export function problemSlug(problem) {
  const match = /#problem-([a-z-]+)$/.exec(String(problem?.type || ''));
  return match ? match[1] : '';
}

function known(key, params) {
  const text = t(key, params);
  return text === key ? null : text;
}

const STATE_GROUPS = ['incident_status', 'call_status', 'pledge_status', 'shelter_status', 'resident_status',
  'organization_status', 'webhook_status', 'delivery_status', 'disbursement_status', 'task_status', 'movement_status'];

/** A state the server names (409 invalid-state) in words, whichever lifecycle it belongs to. */
function stateText(state) {
  for (const group of STATE_GROUPS) {
    const label = tEnum(group, state);
    if (label !== String(state)) return label;
  }
  return state;
}

/** One errors[] item in the console's words, by its code (the server's own detail when the code is `invalid`). */
export function itemText(item) {
  const message = (item.code && item.code !== 'invalid' && known(`problem.code.${item.code}`)) || item.detail || '';
  const index = /\/(\d+)$/.exec(item.pointer || '');
  return index ? t('problem.item', { n: Number(index[1]) + 1, message }) : message;
}

/**
 * Say what went wrong in words: the status and the problem type in the current language, and each field at
 * fault by its code (labelled as `formEl` labels it, when given). The server's English detail is shown in
 * English, and in Chinese only where the catalogue has nothing better.
 */
export function problemText(error, formEl) {
  if (!(error instanceof ApiError)) return t('problem.network');
  const { problem } = error;
  const title = known(`problem.${error.status}`) || t('problem.generic', { status: error.status });
  const slug = problemSlug(problem);
  const explained = slug && slug !== 'validation-failed' ? known(`problem.type.${slug}`, {
    state: stateText(problem.state), remaining: problem.remaining, available: problem.available }) : null;
  const english = getLang() === 'en' || (!explained && slug !== 'validation-failed') ? problem.detail : null;
  const details = (problem.errors || []).map((item) => {
    const control = formEl && controlFor(formEl, item.pointer || item.parameter);
    const label = control && labelOf(control);
    const where = label ? `${label} (${item.pointer || item.parameter})` : item.pointer || item.parameter || '';
    return where ? t('problem.at', { where, message: itemText(item) }) : itemText(item);
  });
  return [title, explained, english, ...details].filter(Boolean).join(' — ');
}

function shown(control) {
  return !control.disabled && control.type !== 'hidden' && !control.closest('[hidden]');
}

/** The control a JSON pointer (or a parameter's name) names in a form: [data-pointer], else by name. */
export function controlFor(formEl, pointer) {
  if (!pointer || !formEl) return null;
  const parts = pointer.startsWith('/')
    ? pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')) : [pointer];
  const words = parts.filter((p) => !/^\d+$/.test(p));
  const names = [...new Set([parts.join('.'), words.join('.'), words.join('_'), words[0], words[words.length - 1]])];
  for (const at of [pointer, ...names]) {
    const tagged = formEl.querySelector(`[data-pointer="${CSS.escape(at)}"]`);
    if (tagged && shown(tagged)) return tagged;
  }
  for (const name of names) {
    const control = name && [...formEl.elements].find((c) => c.name === name && shown(c));
    if (control) return control;
  }
  return null;
}

function labelOf(control) {
  const label = control.id && control.form?.querySelector(`label[for="${CSS.escape(control.id)}"]`);
  return (label?.textContent || control.getAttribute('aria-label') || '').trim();
}

/** Take away the marks markFields left (at the next submit). */
export function clearFieldErrors(formEl) {
  for (const note of formEl.querySelectorAll('.field-error')) note.remove();
  for (const control of formEl.querySelectorAll('[aria-invalid="true"]')) {
    control.removeAttribute('aria-invalid');
    const rest = (control.getAttribute('aria-describedby') || '').split(' ')
      .filter((id) => id && !id.startsWith('fielderr-'));
    if (rest.length) control.setAttribute('aria-describedby', rest.join(' '));
    else control.removeAttribute('aria-describedby');
  }
}

/** Mark each field a 422 names (aria-invalid, and its message under it, read with the field). */
export function markFields(formEl, error) {
  clearFieldErrors(formEl);
  if (!(error instanceof ApiError)) return;
  for (const item of error.problem.errors || []) {
    const control = controlFor(formEl, item.pointer || item.parameter);
    if (!control) continue;
    const id = uid('fielderr');
    control.setAttribute('aria-invalid', 'true');
    (control.closest('.field') || control.parentElement).append(
      h('p', { class: 'field-error', id, text: itemText(item), dataset: { code: item.code || '' } }));
    const described = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', described ? `${described} ${id}` : id);
  }
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
    clearFieldErrors(el);
    submitButton.disabled = true;
    try {
      await onSubmit(values(el), el);
      if (!keep) el.reset();
      el.dispatchEvent(new Event('relief:reset'));
    } catch (failure) {
      markFields(el, failure);
      error.textContent = (describe && describe(failure)) || problemText(failure, el);
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
