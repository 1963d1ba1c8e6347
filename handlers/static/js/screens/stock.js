// Stock: what each site and shelter holds (low levels marked), the incident's totals per item, transfers
// on the way (received here, a shortfall with its reason), the movement log with reversals, the sites,
// and (for dispatchers) recording transfers, distributions and write-offs and setting minimums.
import { t, tEnum, fmtQty, fmtNumber, fmtTime, wallToIso } from '../i18n.js';
import { get, getAll, post } from '../api.js';
import { h, badge, button, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { locationName, siteForm, sitesTable } from './sites.js';
import { insufficient, minimumForm, movementForm } from './stock_forms.js';
import { add, isZero } from '../decimal.js';
import { regionLabel } from '../region_picker.js';

const STATUS_BADGE = { in_transit: 'warn', received: 'ok', done: 'ok', reversed: 'muted' };

function levelsTable(state) {
  const { levels } = state.stock;
  const qty = (value, level) => fmtQty(value, level.unit);
  const kindOf = (location) => {
    const site = location.site_id && state.sites.find((s) => s.id === location.site_id);
    return site ? tEnum('site_kind', site.kind) : t('stock.shelter');
  };
  return table(t('stock.levelsCaption'), [
    t('stock.location'), t('stock.item'), t('stock.onHand'), t('stock.minimum'), t('stock.inTransitOut'),
    t('stock.received'), t('stock.distributed'), t('stock.writtenOff'),
  ], levels.map((l) => [
    h('div', {}, h('strong', { text: locationName(state, l.location) }), h('div', { class: 'meta', text: kindOf(l.location) })),
    tEnum('item', l.item),
    h('div', { class: 'on-hand' }, h('strong', { text: qty(l.on_hand, l) }), l.low && ' ', l.low && badge(t('stock.low'), 'low')),
    l.minimum === null ? t('stock.noMinimum') : qty(l.minimum, l),
    qty(l.in_transit_out, l), qty(l.received, l), qty(l.distributed, l), qty(l.written_off, l),
  ]), { empty: t('stock.levelsEmpty'), rowProps: (i) => ({ class: levels[i].low ? 'low' : '',
    dataset: { item: levels[i].item } }) });
}

function totalsTable(stock) {
  return table(t('stock.totalsCaption'), [
    t('stock.item'), t('stock.received'), t('stock.onHand'), t('stock.inTransit'), t('stock.distributed'),
    t('stock.writtenOff'), t('stock.peopleReached'),
  ], stock.totals.map((s) => [
    tEnum('item', s.item), fmtQty(s.received, s.unit), fmtQty(s.on_hand, s.unit), fmtQty(s.in_transit, s.unit),
    fmtQty(s.distributed, s.unit), fmtQty(s.written_off, s.unit), fmtNumber(s.people_reached),
  ]), { empty: t('stock.levelsEmpty') });
}

function what(m) {
  return `${tEnum('item', m.item)} ${fmtQty(m.quantity, m.unit)}`;
}

/** Where a movement went: a location, or the people a distribution reached (never a person's name). */
function destination(state, m) {
  const to = m.to;
  if (!to) return '';
  if (!('kind' in to)) return locationName(state, to);
  if (to.kind === 'shelter_residents') {
    return t('stock.toShelterResidents', { name: locationName(state, { shelter_id: to.shelter_id }) });
  }
  if (to.kind === 'household') return t('stock.toHousehold', { id: to.household_id });
  if (to.kind === 'group' && to.region) { // the region's name (lang=zh) beside its code, in the sentence
    const [before, after] = t('stock.toGroupIn', { region: '\u0000' }).split('\u0000');
    return h('span', {}, before, regionLabel(to.region, to.region_name), after);
  }
  return tEnum('recipient_kind', to.kind);
}

function receive(ctx, state, m, refresh) {
  const label = t('stock.receiveAria', { what: what(m), from: locationName(state, m.from), to: locationName(state, m.to) });
  return button(t('stock.receive'), { class: 'primary', 'aria-label': label, on: { click: async () => {
    const done = await ask({
      title: label,
      intro: t('stock.receiveIntro', { sent: fmtQty(m.quantity, m.unit) }),
      submit: t('stock.receive'),
      fields: [
        { name: 'quantity', label: t('stock.arrived', { unit: tEnum('unit', m.unit) }), type: 'number', step: 'any',
          min: 0, value: m.quantity, required: true },
        { name: 'reason', label: t('stock.shortReason'), type: 'textarea', hint: t('stock.shortReasonHint') },
        { name: 'moved_at', label: t('stock.arrivedAt'), type: 'datetime-local', hint: t('stock.movedHint'),
          pointer: '/moved_at' },
      ],
      check: (got) => {
        const lost = add(m.quantity, `-${got.quantity || '0'}`);
        if (lost.startsWith('-')) return t('stock.tooMany', { sent: fmtQty(m.quantity, m.unit) });
        if (!isZero(lost) && !got.reason) return t('stock.shortNeedsReason', { lost: fmtQty(lost, m.unit) });
        return null;
      },
      describe: (failure) => insufficient(failure, m.unit),
      onSubmit: (got) => post(`/v1/stock-movements/${m.id}/receive`,
        { quantity: got.quantity, ...(got.reason ? { reason: got.reason } : {}),
          ...(got.moved_at ? { moved_at: wallToIso(got.moved_at) } : {}) }),
    });
    if (done) { ctx.notify(t('stock.receivedDone', { what: what(m) })); await refresh(); }
  } } });
}

function transitTable(ctx, state, refresh) {
  const rows = state.inTransit;
  return table(t('stock.transitCaption'), [
    t('stock.sentAt'), t('stock.what'), t('stock.fromLocation'), t('stock.toLocation'), t('stock.noteCol'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), rows.map((m) => [
    fmtTime(m.moved_at), what(m), locationName(state, m.from), locationName(state, m.to), m.note || '',
    ctx.canDispatch ? receive(ctx, state, m, refresh) : null,
  ].filter((cell) => cell !== null)), { empty: t('stock.transitEmpty') });
}

function reverse(ctx, m, refresh) {
  const label = t('stock.reverseAria', { kind: tEnum('movement_kind', m.kind), what: what(m) });
  return button(t('stock.reverse'), { class: 'danger', 'aria-label': label, on: { click: async () => {
    const done = await ask({ title: label, intro: t('stock.reverseIntro'), submit: t('stock.reverse'), danger: true,
      fields: [{ name: 'reason', label: t('stock.reason'), type: 'textarea', required: true }],
      describe: (failure) => insufficient(failure, m.unit),
      onSubmit: (got) => post(`/v1/stock-movements/${m.id}/reverse`, { reason: got.reason }) });
    if (done) { ctx.notify(t('stock.reversedDone')); await refresh(); }
  } } });
}

function reasonOf(m) {
  const parts = [];
  if (m.kind === 'write_off') parts.push(tEnum('write_off_reason', m.reason));
  else if (m.reason) parts.push(m.reason);
  if (m.kind === 'arrival' && !isZero(m.lost)) parts.unshift(t('stock.lost', { qty: fmtQty(m.lost, m.unit) }));
  if (m.note) parts.push(m.note);
  return parts.join(' · ');
}

function logTable(ctx, state, refresh) {
  const rows = state.movements;
  return table(t('stock.logCaption'), [
    t('stock.movedAt'), t('stock.recordedAt'), t('stock.kind'), t('stock.what'), t('stock.fromLocation'), t('stock.to'), t('stock.peopleReached'),
    t('stock.noteOrReason'), t('stock.status'), ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), rows.map((m) => [
    fmtTime(m.moved_at), fmtTime(m.created_at),
    badge(tEnum('movement_kind', m.kind), m.kind === 'reversal' ? 'warn' : 'ok'),
    what(m), locationName(state, m.from), destination(state, m),
    m.people_reached === null ? '' : fmtNumber(m.people_reached),
    reasonOf(m),
    ['arrival', 'reversal'].includes(m.kind) ? '' : badge(tEnum('movement_status', m.status), STATUS_BADGE[m.status]),
    ctx.canDispatch ? (['transfer', 'distribution', 'write_off'].includes(m.kind) && m.status !== 'reversed'
      ? reverse(ctx, m, refresh) : '') : null,
  ].filter((cell) => cell !== null)), { empty: t('stock.logEmpty'),
    rowProps: (i) => ({ class: rows[i].kind === 'reversal' ? 'reversal' : '', dataset: { kind: rows[i].kind } }) });
}

export async function mount(ctx) {
  const { incident } = ctx;
  const base = `/v1/incidents/${incident.id}`;
  const state = { sites: [], shelters: [], stock: { levels: [], totals: [], people_reached: '0' }, inTransit: [], movements: [] };
  const regions = { levels: h('div'), reached: h('p', { class: 'meta' }), totals: h('div'), transit: h('div'),
    log: h('div'), sites: h('div') };
  const forms = [];

  async function refresh() {
    const [sites, shelters, stock, inTransit, movements] = await Promise.all([
      getAll(`${base}/sites`, {}, 3), getAll(`${base}/shelters`, {}, 3), get(`${base}/stock`),
      getAll(`${base}/stock-movements`, { status: 'in_transit' }, 3), get(`${base}/stock-movements`, { limit: 100 }),
    ]);
    sites.sort((a, b) => Number(b.intake) - Number(a.intake) || a.name.localeCompare(b.name, 'zh-CN'));
    shelters.sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
    Object.assign(state, { sites, shelters, stock, inTransit, movements: movements.items });
    update(regions.levels, levelsTable(state));
    regions.reached.textContent = t('stock.peopleReachedAll', { n: fmtNumber(stock.people_reached) });
    update(regions.totals, totalsTable(stock));
    update(regions.transit, transitTable(ctx, state, refresh));
    update(regions.log, logTable(ctx, state, refresh));
    update(regions.sites, sitesTable(state));
    for (const f of forms) f.fill();
  }
  await refresh();

  const section = (id, title, ...body) => h('section', { 'aria-labelledby': id }, h('h2', { id, text: title }), body);
  const moves = ctx.canDispatch ? movementForm(ctx, incident, state, refresh) : null;
  const minimums = ctx.canDispatch ? minimumForm(ctx, state, refresh) : null;
  forms.push(...[moves, minimums].filter(Boolean));
  ctx.root.append(
    section('stock-levels', t('stock.levels'), regions.levels),
    section('stock-totals', t('stock.totals'), regions.reached, regions.totals),
    section('stock-transit', t('stock.transit'), regions.transit),
    moves && h('section', { class: 'card', 'aria-labelledby': 'stock-record' },
      h('h2', { id: 'stock-record', text: t('stock.record') }), moves.element),
    section('stock-log', t('stock.log'), regions.log),
    section('stock-sites', t('sites.heading'), regions.sites,
      ctx.canDispatch && incident.status === 'open' && h('details', { class: 'card' },
        h('summary', { text: t('sites.open') }), siteForm(ctx, incident, refresh)),
      minimums && h('details', { class: 'card' }, h('summary', { text: t('stock.minimums') }), minimums.element)),
  );
  return { refresh };
}
