// The region picker: province → city → county from GET /v1/regions (GB/T 2260), beside the code box it
// fills. The code box stays the form's control (its name submits, a 422's pointer marks it, a reset or a
// kept choice restores it) and stays editable, so a code the table lacks is still accepted. With
// `multiple`, the box holds several codes (space-separated) and the picker adds the one chosen.
// Names are Chinese proper names whatever the console's language: they carry lang="zh".
import { t } from './i18n.js';
import { get } from './api.js';
import { h, field, button, uid } from './dom.js';

const levels = new Map(); // parent code ('' for the provinces) → Promise of its children
const names = new Map(); // code → name, from every level read so far

const CODE = /^(1[1-9]|[2-7]\d|8[0-2])\d{4}$/;

/** The divisions one level below `parent` (a 6-digit code; '' for the provinces), read once per page. */
export function childrenOf(parent = '') {
  if (!levels.has(parent)) {
    const loading = get('/v1/regions', parent ? { parent } : undefined).then((page) => {
      for (const item of page.items) names.set(item.code, item.name);
      return page.items;
    }, (failure) => {
      levels.delete(parent); // a failed read is tried again next time
      throw failure;
    });
    levels.set(parent, loading);
  }
  return levels.get(parent);
}

/** The chain of a code, province first: 320506 → ['320000', '320500', '320506']. */
function chain(code) {
  const province = `${code.slice(0, 2)}0000`;
  const city = `${code.slice(0, 4)}00`;
  return [province, city, code].filter((c, i, all) => all.indexOf(c) === i);
}

/** A code's name from the table (null when it lacks the code), reading the levels above it as needed. */
export async function nameOf(code) {
  if (!CODE.test(code)) return null;
  const [province, city] = chain(code);
  if (!names.has(code)) await childrenOf('').catch(() => []);
  if (!names.has(code) && code !== province) await childrenOf(province).catch(() => []);
  if (!names.has(code) && code !== city && names.has(city)) await childrenOf(city).catch(() => []);
  return names.get(code) ?? null;
}

/** A region as screens show it: its name (lang=zh) beside its code; the code alone when the name is unknown. */
export function regionLabel(code, name) {
  if (!code) return '—';
  return name ? h('span', { class: 'region-label' }, h('span', { lang: 'zh', text: name }), ' ', code) : code;
}

/** Several regions (codes and names in the same order, as the API gives `regions` and `region_names`). */
export function regionsLabel(codes, regionNames = []) {
  return h('span', { class: 'region-labels' },
    (codes || []).flatMap((code, i) => [i ? '、' : null, regionLabel(code, regionNames[i])]).filter(Boolean));
}

function levelSelect(label) {
  return h('select', { id: uid('region-level'), 'aria-label': label, class: 'region-level' });
}

function fill(selectEl, items, chosen, placeholder) {
  selectEl.replaceChildren(h('option', { value: '', text: placeholder }),
    ...items.map((item) => h('option', { value: item.code, lang: 'zh', text: item.name })));
  selectEl.value = items.some((item) => item.code === chosen) ? chosen : '';
}

/**
 * A labelled field whose control is `control` (the code box), with the three level selects beside it and the
 * chosen region's name under it. Options: { multiple: false }.
 */
export function regionField(label, control, hint, { multiple = false } = {}) {
  const province = levelSelect(t('regions.province'));
  const city = levelSelect(t('regions.city'));
  const county = levelSelect(t('regions.county'));
  const shown = h('p', { class: 'region-name', 'aria-live': 'polite' });
  const add = multiple && button(t('regions.add'), { class: 'region-add', disabled: true });
  control.classList.add('region-code');
  control.setAttribute('autocomplete', 'off');
  let naming = 0; // the latest call of each wins over an earlier one still waiting for its levels
  let syncing = 0;

  const picked = () => county.value || city.value || province.value;
  const codes = () => control.value.split(/[\s,，、]+/).filter(Boolean);

  async function showNames() {
    const mine = ++naming;
    const list = codes();
    const found = await Promise.all(list.map((c) => nameOf(c)));
    if (mine !== naming) return;
    shown.replaceChildren(...list.flatMap((c, i) => [i ? '、' : null,
      found[i] ? h('span', { lang: 'zh', text: found[i] }) : h('span', { text: t('regions.unknown', { code: c }) }),
    ]).filter(Boolean));
    shown.hidden = !list.length;
  }

  /** Put the selects where the box's code is (a multiple picker starts from the provinces). */
  async function sync() {
    const mine = ++syncing;
    const code = multiple ? '' : codes()[0] || '';
    const [p, c] = CODE.test(code) ? chain(code) : ['', ''];
    const provinces = await childrenOf('').catch(() => []);
    const cities = p ? await childrenOf(p).catch(() => []) : [];
    const counties = cities.find((x) => x.code === c)?.has_children ? await childrenOf(c).catch(() => []) : [];
    if (mine !== syncing) return;
    fill(province, provinces, p, t('regions.choose'));
    fill(city, cities, c, t('regions.choose'));
    fill(county, counties, code, t('regions.choose'));
    city.hidden = !cities.length;
    county.hidden = !counties.length;
    showNames();
  }

  function choose(value) {
    if (multiple) {
      if (add) add.disabled = !value;
      return;
    }
    control.value = value;
    control.dispatchEvent(new Event('change', { bubbles: true }));
    showNames();
  }

  province.addEventListener('change', async () => {
    syncing += 1; // what the person picks wins over a sync still loading
    const cities = province.value ? await childrenOf(province.value).catch(() => []) : [];
    fill(city, cities, '', t('regions.choose'));
    city.hidden = !cities.length;
    fill(county, [], '', t('regions.choose'));
    county.hidden = true;
    choose(picked());
  });
  city.addEventListener('change', async () => {
    syncing += 1;
    const hasMore = (await childrenOf(province.value).catch(() => [])).some((x) => x.code === city.value && x.has_children);
    const counties = hasMore ? await childrenOf(city.value).catch(() => []) : [];
    fill(county, counties, '', t('regions.choose'));
    county.hidden = !counties.length;
    choose(picked());
  });
  county.addEventListener('change', () => choose(picked()));
  if (add) {
    add.addEventListener('click', () => {
      const value = picked();
      if (value && !codes().includes(value)) control.value = [...codes(), value].join(' ');
      control.dispatchEvent(new Event('change', { bubbles: true }));
      showNames();
    });
  }
  control.addEventListener('input', () => (multiple ? showNames() : sync()));
  // A reset (and the kept choices restored after it) changes the box without an input event.
  queueMicrotask(() => {
    const formEl = control.form || control.closest('form');
    for (const type of ['reset', 'relief:reset']) formEl?.addEventListener(type, () => setTimeout(sync, 0));
  });
  sync();

  const built = field(label, control, hint);
  built.classList.add('region-field');
  control.after(h('div', { class: 'region-picker', role: 'group', 'aria-label': t('regions.picker') },
    province, city, county, add));
  built.querySelector('.region-picker').after(shown);
  return built;
}
