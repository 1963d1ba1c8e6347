// Situation reports (灾情报告): the incident's reports, newest first, each with its printable page (in the
// console's language) and its HXL CSV; for dispatchers, a panel that previews the next report (its number,
// key figures and what moved since the last one) and issues it. An issued report never changes: its page and
// CSV are made from the copy frozen at issue, so the links below always give the same document.
import { t, getLang, fmtMoney, fmtNumber, fmtPeople, fmtTime } from '../i18n.js';
import { get, idempotent, post } from '../api.js';
import { h, button, field, form, keepChoices, problemText, table, textarea, update } from '../dom.js';

const KINDS = ['initial', 'update', 'verified'];

const numbered = (n) => t('sitreps.number', { n });
const kindLabel = (kind) => t(`sitreps.kinds.${kind}`);

function links(item) {
  const number = numbered(item.number);
  return h('span', { class: 'sitrep-links' },
    h('a', { href: `/v1/sitreps/${item.id}.html?lang=${getLang()}`, target: '_blank', rel: 'noopener',
      'aria-label': t('sitreps.printAria', { number }), text: t('sitreps.print') }), ' · ',
    h('a', { href: `/v1/sitreps/${item.id}.csv`, download: '', 'aria-label': t('sitreps.csvAria', { number }),
      text: t('sitreps.csv') }));
}

function list(items) {
  return table(t('sitreps.caption'),
    [t('sitreps.numberHead'), t('sitreps.kind'), t('sitreps.issuedAt'), t('sitreps.issuedBy'), t('sitreps.links')],
    items.map((item) => [h('strong', { text: numbered(item.number) }), kindLabel(item.kind), fmtTime(item.issued_at),
      item.issued_by.name, links(item)]),
    { empty: t('sitreps.none'), rowProps: (i) => ({ dataset: { number: String(items[i].number), kind: items[i].kind } }) });
}

function stat(label, value, key) {
  return h('div', { dataset: { figure: key } }, h('dt', { text: label }), h('dd', { text: value }));
}

/** The figures a reader looks at first, as the report would freeze them. */
function keyFigures(figures) {
  const s = figures.summary;
  return h('dl', { class: 'stats stats-wide sitrep-figures' },
    s.money.map((m) => stat(t('sitreps.moneyReceived', { currency: m.currency }), fmtMoney(m.received, m.currency),
      `money.received.${m.currency}`)),
    stat(t('sitreps.evacuated'), fmtPeople(s.residents.evacuated), 'residents.evacuated'),
    stat(t('sitreps.shelteredNow'), fmtPeople(s.residents.sheltered_now), 'residents.sheltered_now'),
    stat(t('sitreps.onSite'), fmtPeople(s.field.on_site), 'field.on_site'),
    stat(t('sitreps.openNeeds'), fmtNumber(figures.open_needs.length), 'needs.open'),
    stat(t('sitreps.impactFigures'), fmtNumber(figures.impacts.length), 'impacts'));
}

function signed(value) {
  if (value === null || value === undefined) return '';
  return String(value).startsWith('-') ? fmtNumber(value) : `+${fmtNumber(value)}`;
}

function changesTable(changes, previous) {
  return table(previous ? t('sitreps.changesCaption', { number: numbered(previous.number) }) : t('sitreps.changesFirst'),
    [t('sitreps.figure'), t('sitreps.previous'), t('sitreps.current'), t('sitreps.delta')],
    changes.map((c) => [h('code', { text: c.figure }), c.previous === null ? t('sitreps.absent') : fmtNumber(c.previous),
      c.current === null ? t('sitreps.absent') : fmtNumber(c.current), signed(c.delta)]),
    { empty: t('sitreps.noChanges'), rowProps: (i) => ({ dataset: { figure: changes[i].figure } }) });
}

function previewView(report) {
  const { figures } = report;
  return [
    h('h3', { id: 'sitrep-preview-heading', tabindex: '-1',
      text: t('sitreps.previewHeading', { number: numbered(report.number), kind: kindLabel(report.kind) }) }),
    h('p', { class: 'meta' },
      h('span', { text: t('sitreps.asOf', { time: fmtTime(figures.as_of) }) }),
      h('span', { text: t('sitreps.position', { position: report.position }) })),
    keyFigures(figures),
    h('h4', { text: t('sitreps.changes', { n: figures.changes.length, count: figures.changes.length }) }),
    changesTable(figures.changes, figures.previous),
  ];
}

function issuePanel(ctx, incident, state, refresh) {
  const send = idempotent(); // a fresh key per report, the same one only for a retry of it
  const kind = h('select', { name: 'kind', id: 'sitrep-kind' },
    KINDS.map((k) => h('option', { value: k, text: kindLabel(k) })));
  const narrative = textarea('narrative', { maxlength: 20000, rows: 6 });
  const preview = h('div', { class: 'sitrep-preview', 'aria-live': 'polite' });
  const previewError = h('p', { class: 'form-error', role: 'alert', hidden: true });

  function sync() { // the first report is the initial one, and only it
    const first = state.items.length === 0;
    for (const option of kind.options) option.disabled = first ? option.value !== 'initial' : option.value === 'initial';
    if (first) kind.value = 'initial';
    else if (kind.value === 'initial') kind.value = 'update';
  }

  async function showPreview() {
    previewError.hidden = true;
    try {
      const report = await get(`/v1/incidents/${incident.id}/sitreps/preview`, { kind: kind.value });
      update(preview, previewView(report));
      preview.querySelector('h3')?.focus({ preventScroll: true });
    } catch (error) {
      previewError.textContent = problemText(error);
      previewError.hidden = false;
    }
  }

  const el = form({
    label: t('sitreps.issueForm'),
    submit: t('sitreps.issue'),
    children: [
      h('div', { class: 'grid' }, field(t('sitreps.kind'), kind, t('sitreps.kindHint'))),
      field(t('sitreps.narrative'), narrative, t('sitreps.narrativeHint')),
      h('div', { class: 'form-actions' }, button(t('sitreps.preview'), { on: { click: showPreview } })),
      previewError,
      preview,
    ],
    onSubmit: async (got) => {
      const made = await send((key) => post(`/v1/incidents/${incident.id}/sitreps`,
        { kind: got.kind, narrative: got.narrative || '' }, { idempotencyKey: key }));
      preview.replaceChildren();
      ctx.notify(t('sitreps.issued', { number: numbered(made.number), kind: kindLabel(made.kind) }));
      await refresh();
    },
  });
  keepChoices(el, ['narrative']); // the kind stays (sync() then moves it off initial)
  el.addEventListener('relief:reset', sync);
  sync();
  return { element: el, fill: sync };
}

export async function mount(ctx) {
  const { incident } = ctx;
  const state = { items: [] };
  const region = h('div', { class: 'sitrep-list' });
  let panel = null;

  async function refresh() {
    state.items = (await get(`/v1/incidents/${incident.id}/sitreps`)).items;
    update(region, list(state.items));
    panel?.fill();
  }

  if (ctx.canDispatch) panel = issuePanel(ctx, incident, state, refresh);
  await refresh();
  ctx.root.append(
    h('section', { 'aria-labelledby': 'sitreps-list' },
      h('h2', { id: 'sitreps-list', text: t('sitreps.heading') }),
      h('p', { class: 'meta', text: t('sitreps.intro') }), region),
    panel && h('section', { class: 'card', 'aria-labelledby': 'sitreps-issue' },
      h('h2', { id: 'sitreps-issue', text: t('sitreps.issueForm') }), panel.element),
  );
  return { refresh };
}
