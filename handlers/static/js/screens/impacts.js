// Impact figures (灾情统计): for each region of the incident, the current value of every figure from every
// source (the latest by as-of time; Relief's own count of people relocated beside the reported ones), the
// history of a region's figure on a click, and (for dispatchers) a form to record an observation. The
// incident room's panel of the latest totals is drawn here too (latest()).
import { t, tEnum, fmtMoney, fmtNumber, fmtPeople, fmtTime, nowWall, wallToIso } from '../i18n.js';
import { get, getAll, idempotent, post } from '../api.js';
import { h, button, field, form, input, keepChoices, select, setOptions, table, uid, update } from '../dom.js';
import { add } from '../decimal.js';
import { regionField, regionLabel } from '../region_picker.js';
import zh from '../i18n/zh.js';
import en from '../i18n/en.js';

// The statistics system's order (自然灾害情况统计调查制度), as the API sorts them; each figure fixes its unit.
const FIGURES = ['affected', 'dead', 'missing', 'injured', 'emergency_relocated', 'needs_living_aid',
  'houses_collapsed', 'houses_severely_damaged', 'houses_damaged', 'crops_affected_ha', 'direct_loss'];
const UNITS = { houses_collapsed: 'houses', houses_severely_damaged: 'houses', houses_damaged: 'houses',
  crops_affected_ha: 'ha', direct_loss: 'CNY' };
const POSTED = ['government', 'organization', 'media', 'other']; // relief is computed, never posted
const IN_ROOM = ['affected', 'dead', 'missing', 'emergency_relocated', 'houses_collapsed', 'direct_loss'];
const OTHER_REGION = 'other';

const unitOf = (figure) => UNITS[figure] || 'people';
const later = (a, b) => (Date.parse(a) >= Date.parse(b) ? a : b);

/** A figure's value in its unit: people, houses, hectares or yuan. */
export function fmtImpact(value, unit) {
  if (unit === 'CNY') return fmtMoney(value, 'CNY');
  if (unit === 'people') return fmtPeople(value);
  return t(`impacts.in_${unit}`, { n: fmtNumber(value, 2), count: Number(value) });
}

function sourceLabel(item) {
  if (item.source === 'organization') return t('impacts.byOrganization', { name: item.organization_name || '' });
  return tEnum('impact_source', item.source);
}

function regionsOf(incident, items) {
  return [...new Set([...incident.regions, ...items.map((i) => i.region)])].sort();
}

const regionName = (items, region) => items.find((i) => i.region === region)?.region_name;

/** Each region's name, from the incident (`region_names`) and from the figures (`region_name`). */
function namesOf(incident, items) {
  const names = new Map((incident.regions || []).map((code, i) => [code, (incident.region_names || [])[i]]));
  for (const item of items) if (item.region_name) names.set(item.region, item.region_name);
  return names;
}

/** A region as an option's text: its name beside its code, or the code alone. */
const regionText = (code, name) => (name ? `${name} ${code}` : code);

/** A sentence with a region in it: the region's name (lang=zh) beside its code where the sentence puts it. */
function withRegion(key, params, code, name) {
  const [before, after] = t(key, { ...params, region: '\u0000' }).split('\u0000');
  return [before, regionLabel(code, name), after];
}

function regionView(region, items, open) {
  const id = `impacts-region-${region}`;
  const rows = [];
  const props = [];
  for (const figure of FIGURES) {
    const name = tEnum('impact_figures', figure);
    items.filter((i) => i.region === region && i.figure === figure).forEach((item, n) => {
      rows.push([
        n === 0
          ? button(name, { class: 'figure-name', 'aria-label': t('impacts.historyAria', { figure: name, region }),
            on: { click: () => open(region, figure) } })
          : h('span', { class: 'visually-hidden', text: name }), // the same figure, another source
        sourceLabel(item), h('strong', { text: fmtImpact(item.value, item.unit) }), fmtTime(item.as_of),
      ]);
      props.push({ dataset: { figure, source: item.source } });
    });
  }
  return h('section', { class: 'impact-region', 'aria-labelledby': id, dataset: { region } },
    h('h3', { id }, t('impacts.region', { region }),
      regionName(items, region) && [' ', h('span', { lang: 'zh', text: regionName(items, region) })]),
    table(t('impacts.regionCaption', { region }),
      [t('impacts.figure'), t('impacts.source'), t('impacts.value'), t('impacts.asOf')], rows,
      { empty: t('impacts.regionEmpty'), rowProps: (i) => props[i] }));
}

function historyView(pick, items, close) {
  const figure = tEnum('impact_figures', pick.figure);
  const sorted = [...items].sort((a, b) => Date.parse(b.as_of) - Date.parse(a.as_of)
    || Date.parse(b.created_at) - Date.parse(a.created_at));
  return [
    h('div', { class: 'call-head' },
      h('h2', { id: 'impacts-history', tabindex: '-1' },
        withRegion('impacts.history', { figure }, pick.region, regionName(items, pick.region))),
      button(t('impacts.historyClose'), { on: { click: close } })),
    pick.figure === 'emergency_relocated' && h('p', { class: 'meta', text: t('impacts.reliefNotInHistory') }),
    table(t('impacts.historyCaption', { figure, region: pick.region }), [
      t('impacts.asOf'), t('impacts.value'), t('impacts.source'), t('impacts.recordedAt'), t('impacts.note'),
    ], sorted.map((i) => [fmtTime(i.as_of), fmtImpact(i.value, i.unit), sourceLabel(i), fmtTime(i.created_at),
      i.note || '']), { empty: t('impacts.historyEmpty') }),
  ];
}

/** The figure's name in both catalogues (the Chinese one is the statistics system's term) and its unit. */
function describeFigure(figure) {
  return [h('span', { lang: 'zh-CN', text: zh.enum.impact_figures[figure] }), ' · ',
    h('span', { lang: 'en', text: en.enum.impact_figures[figure] }), ' · ',
    t('impacts.unitIs', { unit: tEnum('impact_unit', unitOf(figure)) })];
}

function recordForm(ctx, incident, state, refresh) {
  const send = idempotent(); // one key per observation, kept only for a retry of the same one
  const region = select('region', [], undefined, { required: true });
  const code = input('region_code', { required: true, inputmode: 'numeric', pattern: '\\d{6}', maxlength: 6 });
  const codeField = regionField(t('impacts.regionCode'), code, t('impacts.regionCodeHint'));
  const figure = select('figure', FIGURES.map((f) => [f, t('impacts.figureOption', {
    figure: tEnum('impact_figures', f), unit: tEnum('impact_unit', unitOf(f)) })]), 'affected');
  const about = h('p', { class: 'hint', id: uid('hint'), 'aria-live': 'polite' });
  figure.setAttribute('aria-describedby', about.id);
  const source = select('source', POSTED.map((s) => [s, tEnum('impact_source', s)]), 'government');
  const organization = select('organization_id', [], undefined, { required: true });
  const organizationField = field(t('impacts.organization'), organization);
  const value = input('value', { required: true, inputmode: 'decimal' });
  const asOf = input('as_of', { type: 'datetime-local', required: true, value: nowWall() });

  const show = (wrapper, control, on) => { wrapper.hidden = !on; control.disabled = !on; };
  function sync() {
    show(codeField, code, region.value === OTHER_REGION);
    show(organizationField, organization, source.value === 'organization');
    value.pattern = ['people', 'houses'].includes(unitOf(figure.value)) ? '\\d+' : '\\d+(\\.\\d{1,2})?';
    about.replaceChildren(...describeFigure(figure.value));
  }
  function fill() { // a live refresh keeps what was chosen
    const names = namesOf(incident, state.items);
    setOptions(region, [...regionsOf(incident, state.items).map((r) => [r, regionText(r, names.get(r))]),
      [OTHER_REGION, t('impacts.otherRegion')]]);
    // A name is Chinese whatever the console's language: its option says so (an option has one language).
    for (const option of region.options) if (names.get(option.value)) option.lang = 'zh';
    setOptions(organization, state.organizations.map((o) => [o.id, o.name]));
    sync();
  }
  for (const control of [region, figure, source]) control.addEventListener('change', sync);

  const el = form({
    label: t('impacts.record'),
    submit: t('impacts.recordSubmit'),
    children: [
      h('div', { class: 'grid' },
        field(t('impacts.regionLabel'), region), codeField,
        h('div', { class: 'field' }, h('label', { for: figure.id, text: t('impacts.figure') }), figure, about),
        field(t('impacts.source'), source), organizationField,
        field(t('impacts.value'), value, t('impacts.valueHint')),
        field(t('impacts.asOfLabel'), asOf, t('common.timezoneHint'))),
      field(t('impacts.noteLabel'), input('note', { maxlength: 2000 })),
    ],
    onSubmit: async (got) => {
      const body = { region: got.region === OTHER_REGION ? got.region_code : got.region, figure: got.figure,
        source: got.source, value: got.value, as_of: wallToIso(got.as_of), note: got.note || '' };
      if (got.source === 'organization') body.organization_id = got.organization_id;
      const made = await send((key) => post(`/v1/incidents/${incident.id}/impacts`, body, { idempotencyKey: key }));
      ctx.notify(t('impacts.recorded', { region: made.region, figure: tEnum('impact_figures', made.figure),
        value: fmtImpact(made.value, made.unit) }));
      await refresh();
    },
  });
  // The next observation is often of the same report: region, source and time stay; value and note go.
  keepChoices(el, ['value', 'note']);
  el.addEventListener('relief:reset', sync);
  fill();
  return { element: el, fill };
}

/** Sum decimal strings per group: [{ items, total, regions, asOf }] for each key in first-seen order. */
function totals(values, keyOf) {
  const groups = new Map();
  for (const v of values) {
    const key = keyOf(v);
    const g = groups.get(key) || { items: [], total: '0', regions: new Set(), asOf: v.as_of };
    g.items.push(v);
    g.total = add(g.total, v.value);
    g.regions.add(v.region);
    g.asOf = later(g.asOf, v.as_of);
    groups.set(key, g);
  }
  return [...groups.values()];
}

/**
 * The incident room's latest figures: per figure the government's total over the regions it reported
 * when there is one, else each source's own total (each organization apart); always with the source.
 */
export function latest(items, incidentId) {
  return h('div', {},
    h('dl', { class: 'stats stats-wide impact-latest' }, IN_ROOM.map((figure) => {
      const values = items.filter((i) => i.figure === figure);
      const government = values.filter((v) => v.source === 'government');
      const groups = totals(government.length ? government : values,
        (v) => `${v.source}:${v.organization_id || ''}`);
      return h('div', { dataset: { figure } },
        h('dt', { text: tEnum('impact_figures', figure) }),
        groups.length ? groups.map((g) => h('dd', { dataset: { source: g.items[0].source } },
          h('span', { text: fmtImpact(g.total, g.items[0].unit) }), ' ',
          h('span', { class: 'meta-inline', text: t('impacts.totalOf', { source: sourceLabel(g.items[0]),
            n: g.regions.size, count: g.regions.size, time: fmtTime(g.asOf) }) })))
          : h('dd', { class: 'empty', text: t('impacts.noneYet') }));
    })),
    h('p', {}, h('a', { href: `#/incidents/${incidentId}/impacts`, text: t('impacts.all') })));
}

export async function mount(ctx) {
  const { incident } = ctx;
  const base = `/v1/incidents/${incident.id}`;
  const state = { items: [], organizations: [], shown: null };
  const grid = h('div', { class: 'impact-regions' });
  const history = h('section', { class: 'card impact-history', 'aria-labelledby': 'impacts-history', hidden: true });
  let recorder = null;

  function close() {
    state.shown = null;
    history.hidden = true;
    history.replaceChildren();
  }
  async function showHistory() {
    const pick = state.shown;
    const items = await getAll(`${base}/impacts`, { region: pick.region, figure: pick.figure }, 3);
    if (state.shown === pick) update(history, historyView(pick, items, close));
  }
  function open(region, figure) {
    state.shown = { region, figure };
    showHistory().then(() => {
      history.hidden = false;
      history.scrollIntoView({ block: 'nearest' });
      history.querySelector('h2')?.focus({ preventScroll: true });
    }).catch(ctx.showError);
  }
  async function refresh() {
    const current = await get(`${base}/impacts/current`);
    state.items = current.items;
    update(grid, regionsOf(incident, state.items).map((region) => regionView(region, state.items, open)));
    if (state.shown) await showHistory();
    recorder?.fill();
  }

  if (ctx.canDispatch) {
    state.organizations = await getAll('/v1/organizations', { status: 'approved' }, 3);
    state.organizations.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
    recorder = recordForm(ctx, incident, state, refresh);
  }
  await refresh();
  ctx.root.append(
    h('section', { 'aria-labelledby': 'impacts-current' },
      h('h2', { id: 'impacts-current', text: t('impacts.heading') }),
      h('p', { class: 'meta', text: t('impacts.intro') }), grid),
    history,
    recorder && h('section', { class: 'card', 'aria-labelledby': 'impacts-record' },
      h('h2', { id: 'impacts-record', text: t('impacts.record') }), recorder.element),
  );
  return { refresh };
}
