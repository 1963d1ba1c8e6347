// The transparency page: an incident's figures for anyone, no sign-in (GET /v1/public/incidents/{id}), and
// how donations were used with the ledger's signed head (GET …/use and …/ledger: use.js), and the situation
// reports' public versions (GET …/sitreps): the figures of the latest verified one, else the latest (provisional).
import {
  t, tEnum, applyStatic, getLang, setLang, onLangChange, setTimezone, fmtTime, fmtNumber, fmtPeople, fmtMoney, fmtQty,
} from './i18n.js';
import { get } from './api.js';
import { h, bar, table, problemText } from './dom.js';
import * as figures from './figures.js';
import * as use from './use.js';
import { fmtImpact } from './screens/impacts.js';

const REFRESH_MS = 30000;
const main = document.getElementById('main');
const langButton = document.getElementById('lang');
const segments = window.location.pathname.split('/').filter(Boolean);
// /public lists the open incidents; /public/incidents/<id> is one incident's page.
const listing = segments.length === 1 && segments[0] === 'public';
const incidentId = listing ? '' : decodeURIComponent(segments.pop() || '');
let last = null;

function calls(items) {
  return table(t('public.callsCaption'), [t('public.call'), t('public.status'), t('public.coverage')],
    items.map((call) => {
      // Money in its currency (¥ for CNY), goods in their unit, people counted; a call from an older server without
      // its unit or currency stays a plain figure.
      const amount = (v) => {
        if (call.kind === 'personnel') return fmtPeople(v);
        if (call.kind === 'money') return call.currency ? fmtMoney(v, call.currency) : fmtNumber(v);
        return call.unit ? fmtQty(v, call.unit) : fmtNumber(v);
      };
      return [call.title, tEnum('call_status', call.status),
        bar(t('public.delivered'), call.delivered, call.requested, 'delivered',
          t('public.coverageText', { delivered: amount(call.delivered), requested: amount(call.requested),
            percent: fmtNumber((Number(call.coverage) * 100).toFixed(0)) }))];
    }), { empty: t('common.none') });
}

/** The situation reports: the shown report's aggregates (marked when provisional), and every report's page. */
function reports({ items, shown, provisional }) {
  const numbered = (item) => t('sitreps.number', { n: item.number });
  const kind = (item) => t(`sitreps.kinds.${item.kind}`);
  const stat = (label, value, key) => h('div', { dataset: { figure: key } }, h('dt', { text: label }), h('dd', { text: value }));
  const source = (i) => (i.source === 'organization'
    ? t('impacts.byOrganization', { name: i.organization_name || '' }) : tEnum('impact_source', i.source));
  return h('section', { 'aria-labelledby': 'public-sitreps', class: 'public-sitreps' },
    h('h2', { id: 'public-sitreps', text: t('sitreps.publicHeading') }),
    shown ? [
      h('p', { class: 'meta' },
        h('span', { text: t('sitreps.publicShown', { number: numbered(shown), kind: kind(shown),
          time: fmtTime(shown.issued_at) }) }),
        provisional && h('span', { class: 'badge badge-provisional', dataset: { provisional: 'true' },
          text: t('sitreps.provisional') })),
      h('dl', { class: 'stats stats-wide' },
        shown.money.map((m) => stat(t('sitreps.moneyReceived', { currency: m.currency }),
          fmtMoney(m.received, m.currency), `money.received.${m.currency}`)),
        stat(t('sitreps.evacuated'), fmtPeople(shown.residents.evacuated), 'residents.evacuated'),
        stat(t('sitreps.shelteredNow'), fmtPeople(shown.residents.sheltered_now), 'residents.sheltered_now'),
        stat(t('sitreps.onSite'), fmtPeople(shown.field.on_site), 'field.on_site')),
      table(t('sitreps.publicImpactsCaption'),
        [t('sitreps.region'), t('sitreps.figure'), t('sitreps.source'), t('sitreps.value')],
        shown.impacts.map((i) => [i.region, tEnum('impact_figures', i.figure), source(i), fmtImpact(i.value, i.unit)]),
        { empty: t('common.none') }),
      h('h3', { text: t('sitreps.publicList') }),
      h('ul', { class: 'sitrep-reports' }, items.map((item) => h('li', {},
        h('a', { href: `/v1/public/sitreps/${item.id}.html?lang=${getLang()}`,
          text: t('sitreps.publicLink', { number: numbered(item), kind: kind(item), time: fmtTime(item.issued_at) }) })))),
    ] : h('p', { class: 'empty', text: t('sitreps.publicNone') }));
}

function render({ data, used, head, sitreps }) {
  document.title = `${data.title} · ${t('public.title')}`;
  main.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '/public', text: t('public.allOpen') })),
    h('h1', { tabindex: '-1', text: data.title }),
    h('p', { class: 'meta' },
      h('span', { class: 'code', text: data.code }),
      h('span', { class: `badge badge-${data.status}`, text: tEnum('incident_status', data.status) }),
      h('span', { text: t('public.asOf', { time: fmtTime(data.as_of) }) })),
    h('p', { class: 'lead', text: t('public.intro') }),
    h('div', { class: 'figures' },
      figures.money(data.money), figures.goods(data.goods), figures.personnel(data.personnel),
      figures.residents(data.residents), figures.organizations(data.organizations.length, data.organizations)),
    h('section', { 'aria-labelledby': 'public-shelters' },
      h('h2', { id: 'public-shelters', text: t('public.shelters') }),
      data.shelters.length ? h('div', { class: 'card occupancies' }, data.shelters.map((shelter) => figures.occupancy(shelter)))
        : h('p', { class: 'empty', text: t('common.none') })),
    h('section', { 'aria-labelledby': 'public-calls' },
      h('h2', { id: 'public-calls', text: t('public.calls') }), calls(data.calls)),
    sitreps && reports(sitreps),
    ...(used || head ? [use.section(used, head, incidentId)] : []),
    h('p', { class: 'hint', text: t('public.privacy') }),
  );
}

/** The figures without their timestamps: a refresh that brings nothing new leaves the page (and its focus) be. */
function substance(page) {
  return page && JSON.stringify({ ...page, data: { ...page.data, as_of: null },
    used: page.used && { ...page.used, as_of: null } });
}

/** A part of the page that may be missing (an older server): shown when it comes. */
async function optional(path) {
  try { return await get(path); } catch { return null; }
}

/** /public: every open incident (GET /v1/public/incidents), each a link to its page. */
function renderList(items) {
  document.title = t('public.listTitle');
  main.replaceChildren(
    h('h1', { tabindex: '-1', text: t('public.listHeading') }),
    h('p', { class: 'lead', text: t('public.listIntro') }),
    items.length ? h('ul', { class: 'public-list' }, items.map((i) => h('li', { dataset: { incidentId: i.incident_id } },
      h('a', { href: `/public/incidents/${i.incident_id}`, text: i.title }), ' ',
      h('span', { class: 'code', text: i.code }), ' ',
      h('span', { class: 'hint', text: t('public.listMeta', {
        type: tEnum('incident_type', i.type), severity: tEnum('severity', i.severity),
        regions: (i.region_names || []).map((name, n) => name || i.regions[n]).join('、') || i.regions.join(' '),
        time: fmtTime(i.started_at) }) }))))
      : h('p', { class: 'empty', text: t('public.listEmpty') }),
    h('p', { class: 'hint', text: t('public.privacy') }));
}

async function loadList() {
  try {
    const { items } = await get('/v1/public/incidents');
    const fresh = { list: items };
    if (last && JSON.stringify(last) === JSON.stringify(fresh)) return;
    last = fresh;
    renderList(items);
  } catch (error) {
    main.replaceChildren(h('h1', { tabindex: '-1', text: t('public.unavailable') }),
      h('p', { class: 'form-error', role: 'alert', text: problemText(error) }));
  }
}

async function load() {
  if (listing) { await loadList(); return; }
  try {
    const base = `/v1/public/incidents/${encodeURIComponent(incidentId)}`;
    const data = await get(base); // first: an unknown incident is one 404, not three
    const [used, head, sitreps] = await Promise.all([optional(`${base}/use`), optional(`${base}/ledger`),
      optional(`${base}/sitreps`)]);
    const fresh = { data, used, head, sitreps };
    if (last && substance(fresh) === substance(last)) return;
    last = fresh;
    render(last);
  } catch (error) {
    main.replaceChildren(h('h1', { tabindex: '-1', text: t('public.unavailable') }),
      h('p', { class: 'form-error', role: 'alert', text: error.status === 404 ? t('public.notFound') : problemText(error) }));
  }
}

function renderLang() {
  const other = getLang() === 'zh' ? 'en' : 'zh';
  langButton.textContent = t('lang.other');
  langButton.lang = other;
  langButton.setAttribute('aria-label', t('lang.switchLabel'));
  langButton.dataset.lang = other;
}

async function boot() {
  document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en-US';
  applyStatic();
  renderLang();
  langButton.addEventListener('click', () => setLang(langButton.dataset.lang));
  onLangChange(() => { applyStatic(); renderLang(); if (last?.list) renderList(last.list); else if (last) render(last); else load(); });
  try {
    setTimezone((await get('/console/config')).timezone);
  } catch { /* the default zone stays */ }
  await load();
  document.body.dataset.ready = 'true';
  setInterval(load, REFRESH_MS);
}

boot();
