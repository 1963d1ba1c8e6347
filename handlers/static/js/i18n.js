// The two catalogues, the current language, and every formatter the screens use (times in the bureau's zone,
// money and quantities from the API's decimal strings, never through floats).
import zh from './i18n/zh.js';
import en from './i18n/en.js';

const CATALOGUES = { zh, en };
const LOCALES = { zh: 'zh-CN', en: 'en-US' };
const STORAGE = 'relief.lang';
const listeners = new Set();

let lang = readStoredLang();
let timezone = 'Asia/Shanghai';

function readStoredLang() {
  try {
    const stored = window.localStorage.getItem(STORAGE);
    return stored in CATALOGUES ? stored : 'zh';
  } catch {
    return 'zh';
  }
}

export function getLang() { return lang; }
export function locale() { return LOCALES[lang]; }
export function getTimezone() { return timezone; }
export function setTimezone(zone) { if (zone) timezone = zone; }
export function onLangChange(fn) { listeners.add(fn); }

export function setLang(next) {
  if (!(next in CATALOGUES) || next === lang) return;
  lang = next;
  try { window.localStorage.setItem(STORAGE, next); } catch { /* private mode: the choice lasts this page */ }
  document.documentElement.lang = LOCALES[next];
  for (const fn of listeners) fn(next);
}

function lookup(catalogue, key) {
  let node = catalogue;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
    node = node[part];
  }
  if (typeof node === 'string') return node;
  return node && typeof node === 'object' && 'other' in node ? node : undefined;
}

/**
 * The current catalogue's text for `key`, with {name} placeholders filled from `params`. An entry may be
 * a set of plural forms ({one, other}), chosen by params.count as the language's plural rules say.
 */
export function t(key, params) {
  let text = lookup(CATALOGUES[lang], key) ?? key;
  if (typeof text === 'object') text = text[new Intl.PluralRules(locale()).select(Number(params?.count))] ?? text.other;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** An enum value's label (statuses, kinds, goods, units…); free text that is not in the catalogue stays as it is. */
export function tEnum(group, value) {
  if (value === null || value === undefined || value === '') return '';
  const labels = CATALOGUES[lang].enum[group] || {};
  return labels[value] ?? String(value);
}

/** Every enum value of a group with its label, in catalogue order (for <select>s). */
export function enumOptions(group) {
  return Object.entries(CATALOGUES[lang].enum[group] || {});
}

/** Fill [data-i18n] text and [data-i18n-attr="attr:key;…"] attributes of static HTML. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

// --- formatting -----------------------------------------------------------------------------------------

export function fmtTime(iso, { dateOnly = false } = {}) {
  if (!iso) return '';
  const options = dateOnly
    ? { timeZone: timezone, dateStyle: 'medium' }
    : { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
        hourCycle: 'h23' };
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

/** A decimal string as a number in the current locale, digit for digit (Intl formats strings exactly). */
export function fmtNumber(value, maxFraction = 4) {
  if (value === null || value === undefined || value === '') return '';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: maxFraction }).format(String(value));
}

export function fmtMoney(amount, currency = 'CNY') {
  if (amount === null || amount === undefined) return '';
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency, currencyDisplay: 'symbol' })
      .format(String(amount));
  } catch {
    return `${fmtNumber(amount)} ${currency}`;
  }
}

/** "500 件" / "500 pieces": a quantity in its unit, the unit translated when the catalogue knows it. */
export function fmtQty(quantity, unit) {
  return t('format.quantity', { n: fmtNumber(quantity), unit: tEnum('unit', unit) });
}

export function fmtPeople(count) {
  return t('format.people', { n: fmtNumber(count), count: Number(count) });
}

/** A call's or pledge's amount in the call's own terms: money, goods in their unit, or people. */
export function fmtAmount(value, { kind, unit, currency }) {
  if (kind === 'money') return fmtMoney(value, currency || 'CNY');
  if (kind === 'personnel') return fmtPeople(value);
  return fmtQty(value, unit);
}

// --- the bureau's wall clock <-> UTC, for datetime-local inputs --------------------------------------------

function zoneOffset(ms) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms));
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** "2023-07-28T09:55" read as the bureau's time → an ISO 8601 UTC string. */
export function wallToIso(value) {
  if (!value) return null;
  const [date, time = '00:00'] = value.split('T');
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let utc = guess - zoneOffset(guess);
  utc = guess - zoneOffset(utc);
  return new Date(utc).toISOString();
}

/** Now, as a datetime-local value on the bureau's clock. */
export function nowWall() {
  const now = Date.now();
  return new Date(now + zoneOffset(now)).toISOString().slice(0, 16);
}
