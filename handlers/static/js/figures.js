// The summary figures, drawn the same way in the incident room (GET …/summary) and on the public page
// (GET /v1/public/incidents/{id}): both endpoints share these shapes.
import { t, tEnum, fmtMoney, fmtNumber, fmtQty, fmtPeople } from './i18n.js';
import { h, bar, table } from './dom.js';

function stats(pairs) {
  return h('dl', { class: 'stats' }, pairs.map(([label, value]) => h('div', {},
    h('dt', { text: label }), h('dd', { text: value }))));
}

function card(title, ...body) {
  return h('section', { class: 'card figure', 'aria-label': title }, h('h3', { text: title }), body);
}

/** Two bars on one scale: what was promised and what arrived. */
function pledgedReceived(pledged, received, format) {
  const top = Math.max(Number(pledged), Number(received), 0) || 1;
  return [
    bar(t('fig.pledged'), pledged, top, 'committed', format(pledged)),
    bar(t('fig.received'), received, top, 'delivered', format(received)),
  ];
}

export function money(figures) {
  if (!figures.length) return card(t('fig.money'), h('p', { class: 'empty', text: t('common.none') }));
  return card(t('fig.money'), figures.map((m) => h('div', { class: 'currency', dataset: { currency: m.currency } },
    figures.length > 1 && h('h4', { text: m.currency }),
    pledgedReceived(m.pledged, m.received, (v) => fmtMoney(v, m.currency)))));
}

export function goods(figures) {
  const received = Object.entries(figures.value_received);
  const cny = figures.value_received.CNY ?? '0';
  return card(t('fig.goods'),
    pledgedReceived(figures.value_pledged, cny, (v) => fmtMoney(v, 'CNY')),
    received.filter(([currency]) => currency !== 'CNY').length > 0 && stats(received.map(([currency, value]) =>
      [t('fig.valueReceivedIn', { currency }), fmtMoney(value, currency)])),
    figures.items.length > 0 && h('details', {},
      h('summary', { text: t('fig.goodsItems', { n: figures.items.length }) }),
      table(t('fig.goodsItemsCaption'), [t('fig.item'), t('fig.pledged'), t('fig.received')],
        figures.items.map((item) => [tEnum('item', item.item), fmtQty(item.pledged, item.unit),
          fmtQty(item.received, item.unit)]))));
}

export function personnel(figures) {
  const top = Math.max(Number(figures.pledged), Number(figures.delivered)) || 1;
  return card(t('fig.personnel'),
    bar(t('fig.pledged'), figures.pledged, top, 'committed', fmtPeople(figures.pledged)),
    bar(t('fig.onDuty'), figures.delivered, top, 'delivered', fmtPeople(figures.delivered)));
}

export function residents(figures) {
  return card(t('fig.residents'),
    h('p', { class: 'big' }, h('span', { class: 'big-number', text: fmtNumber(figures.evacuated) }),
      h('span', { text: t('fig.evacuated', { count: Number(figures.evacuated) }) })),
    stats([
      [t('fig.individual'), fmtPeople(figures.individual)],
      [t('fig.aggregate'), fmtPeople(figures.aggregate)],
      [t('fig.shelteredNow'), fmtPeople(figures.sheltered_now)],
      [t('fig.centralized'), fmtPeople(figures.centralized)],
      [t('fig.dispersed'), fmtPeople(figures.dispersed)],
      [t('fig.returned'), fmtPeople(figures.returned)],
    ]));
}

export function organizations(count, names) {
  return card(t('fig.organizations'),
    h('p', { class: 'big' }, h('span', { class: 'big-number', text: fmtNumber(count) }),
      h('span', { text: t('fig.organizationsTaking', { count }) })),
    names && names.length > 0 && h('ul', { class: 'names' }, names.map((name) => h('li', { text: name }))));
}

export function callsByStatus(counts) {
  const entries = Object.entries(counts);
  return card(t('fig.calls'), entries.length
    ? stats(entries.map(([status, n]) => [tEnum('call_status', status), fmtNumber(n)]))
    : h('p', { class: 'empty', text: t('common.none') }));
}

/**
 * A shelter's occupancy as a <meter> (high at 90 %, as the near-capacity event). In a table row that
 * already names the shelter, the name only labels the meter for screen readers (`named: false`).
 */
export function occupancy(shelter, { named = true } = {}) {
  const id = `occ-${Math.random().toString(36).slice(2)}`;
  return h('div', { class: 'occupancy' },
    h('span', { id, class: 'bar-label' }, h('span', { class: named ? 'bar-name' : 'visually-hidden', text: shelter.name }),
      h('span', { text: t('shelters.occupancyOf', { n: fmtNumber(shelter.occupancy), capacity: fmtNumber(shelter.capacity) }) })),
    h('meter', { min: 0, max: shelter.capacity, value: shelter.occupancy, low: Math.floor(shelter.capacity * 0.7),
      high: Math.floor(shelter.capacity * 0.9), optimum: 0, 'aria-labelledby': id }));
}
