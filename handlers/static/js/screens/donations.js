// Donations: the ledger (receipts and reversals) with its totals from the summary, recording a donation
// (with an Idempotency-Key kept across retries), and reversing one with a reason.
import { t, tEnum, enumOptions, fmtMoney, fmtQty, fmtTime, wallToIso } from '../i18n.js';
import { get, getAll, post, idempotent } from '../api.js';
import { h, badge, button, field, form, input, keepChoices, select, switchSets, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { codePicker, pickerField } from './catalogue_picker.js';

function donor(d) {
  if (d.donor.anonymous) return t('donations.anonymous');
  return d.donor.organization_name || d.donor.name || '';
}

function what(d) {
  if (d.kind === 'money') return fmtMoney(d.amount, d.currency);
  const value = d.estimated_value ? ` (${t('donations.worth', { value: fmtMoney(d.estimated_value, d.currency || 'CNY') })})` : '';
  return `${tEnum('item', d.item)} ${fmtQty(d.quantity, d.unit)}${value}`;
}

function ledger(ctx, refresh, entries) {
  return table(t('donations.caption'), [
    t('donations.receivedAt'), t('donations.recordedAt'), t('donations.entry'), t('donations.donor'), t('donations.what'), t('donations.channel'),
    t('donations.receiptNo'), t('donations.noteOrReason'), ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), entries.map((d) => {
    let action = '';
    if (d.entry === 'receipt' && d.reversed_by) action = badge(t('donations.reversed'), 'muted');
    else if (d.entry === 'receipt' && ctx.canDispatch) {
      const label = t('donations.reverseAria', { what: what(d), donor: donor(d) });
      action = button(t('donations.reverse'), { class: 'danger', 'aria-label': label, on: { click: async () => {
        const done = await ask({ title: label, intro: t('donations.reverseIntro'), submit: t('donations.reverse'),
          danger: true, fields: [{ name: 'reason', label: t('donations.reason'), type: 'textarea', required: true }],
          onSubmit: (got) => post(`/v1/donations/${d.id}/reverse`, { reason: got.reason }) });
        if (done) { ctx.notify(t('donations.reversedDone')); await refresh(); }
      } } });
    }
    return [
      fmtTime(d.received_at), fmtTime(d.created_at),
      badge(tEnum('entry', d.entry), d.entry === 'reversal' ? 'warn' : 'ok'),
      donor(d), what(d), tEnum('channel', d.channel), d.receipt_no || '',
      d.entry === 'reversal' ? d.reason || '' : d.note || (d.pledge_id ? t('donations.againstPledge') : ''),
      ctx.canDispatch ? action : null,
    ].filter((cell) => cell !== null);
  }), { empty: t('donations.empty'), rowProps: (i) => ({ class: entries[i].entry === 'reversal' ? 'reversal' : '' }) });
}

function totals(summary) {
  const rows = summary.money.map((m) => [t('donations.moneyReceived', { currency: m.currency }), fmtMoney(m.received, m.currency)]);
  for (const [currency, value] of Object.entries(summary.goods.value_received)) {
    rows.push([t('donations.goodsReceived', { currency }), fmtMoney(value, currency)]);
  }
  if (!rows.length) return h('p', { class: 'empty', text: t('common.none') });
  return h('dl', { class: 'stats totals' }, rows.map(([label, value]) => h('div', {},
    h('dt', { text: label }), h('dd', { text: value }))));
}

function recordForm(ctx, incident, organizations, refresh) {
  const send = idempotent();
  const kind = select('kind', [['money', tEnum('call_kind', 'money')], ['goods', tEnum('call_kind', 'goods')]], 'money');
  const donorKind = select('donor_kind', [['organization', t('donations.donorOrg')], ['name', t('donations.donorNamed')],
    ['anonymous', t('donations.anonymous')]], organizations.length ? 'organization' : 'name');
  const unit = codePicker('unit', 'unit', { required: true, maxlength: 20 });
  const item = codePicker('item', 'item', { required: true, unit });
  const sets = {
    money: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('call_kind', 'money') }),
      field(t('donations.amount'), input('amount', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d{1,2})?' })),
      field(t('donations.currency'), input('currency', { value: 'CNY', required: true, pattern: '[A-Z]{3}', maxlength: 3 })),
      field(t('donations.channel'), select('channel', enumOptions('channel').filter(([v]) => v !== 'in_kind'), 'bank_transfer'))),
    goods: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('call_kind', 'goods') }),
      pickerField(t('donations.item'), item),
      pickerField(t('donations.unit'), unit),
      field(t('donations.quantity'), input('quantity', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?' })),
      field(t('donations.estimatedValue'), input('estimated_value', { inputmode: 'decimal', pattern: '\\d+(\\.\\d{1,2})?' }))),
  };
  const donors = {
    organization: h('fieldset', { class: 'grid' }, h('legend', { text: t('donations.donorOrg') }),
      field(t('donations.organization'), select('organization_id', organizations.map((o) => [o.id, o.name])))),
    name: h('fieldset', { class: 'grid' }, h('legend', { text: t('donations.donorNamed') }),
      field(t('donations.donorName'), input('donor_name', { required: true, maxlength: 200 }))),
    anonymous: h('div'),
  };
  const sync = () => { switchSets(sets, kind.value); switchSets(donors, donorKind.value); };
  kind.addEventListener('change', sync);
  donorKind.addEventListener('change', sync);
  sync();
  const el = form({
    label: t('donations.record'),
    submit: t('donations.recordSubmit'),
    children: [
      h('div', { class: 'grid' }, field(t('donations.kind'), kind), field(t('donations.donorKind'), donorKind),
        field(t('donations.receiptNo'), input('receipt_no', { maxlength: 100 }), t('donations.receiptHint'))),
      Object.values(sets), Object.values(donors),
      h('div', { class: 'grid' },
        field(t('donations.receivedAt'), input('received_at', { type: 'datetime-local' }), t('donations.receivedHint')),
        field(t('donations.note'), input('note', { maxlength: 2000 }))),
    ],
    onSubmit: async (got) => {
      const body = { kind: got.kind, note: got.note || '' };
      if (got.receipt_no) body.receipt_no = got.receipt_no;
      if (got.received_at) body.received_at = wallToIso(got.received_at);
      if (got.donor_kind === 'organization') body.donor = { organization_id: got.organization_id };
      else if (got.donor_kind === 'name') body.donor = { name: got.donor_name };
      else body.donor = { anonymous: true };
      if (got.kind === 'money') Object.assign(body, { amount: got.amount, currency: got.currency, channel: got.channel });
      else {
        Object.assign(body, { item: got.item, unit: got.unit, quantity: got.quantity });
        if (got.estimated_value) body.estimated_value = got.estimated_value;
      }
      const recorded = await send((key) => post(`/v1/incidents/${incident.id}/donations`, body, { idempotencyKey: key }));
      ctx.notify(t('donations.recorded', { what: what(recorded) }));
      await refresh();
    },
  });
  // The next donation keeps its kind, donor, currency, channel, item and unit; what is particular to it goes.
  keepChoices(el, ['receipt_no', 'amount', 'quantity', 'estimated_value', 'note', 'donor_name', 'received_at']);
  el.addEventListener('relief:reset', () => { sync(); item.show(); unit.show(); });
  return el;
}

export async function mount(ctx) {
  const { incident } = ctx;
  const regions = { totals: h('div'), ledger: h('div') };
  ctx.root.append(
    h('section', { 'aria-labelledby': 'donation-totals' },
      h('h2', { id: 'donation-totals', text: t('donations.totals') }), regions.totals),
  );
  async function refresh() {
    const [summary, entries] = await Promise.all([
      get(`/v1/incidents/${incident.id}/summary`),
      getAll(`/v1/incidents/${incident.id}/donations`, {}, 5),
    ]);
    update(regions.totals, totals(summary));
    update(regions.ledger, ledger(ctx, refresh, entries));
  }
  if (ctx.canDispatch) {
    const organizations = await getAll('/v1/organizations', { status: 'approved' }, 3);
    ctx.root.append(h('section', { class: 'card', 'aria-labelledby': 'donation-new' },
      h('h2', { id: 'donation-new', text: t('donations.record') }), recordForm(ctx, incident, organizations, refresh)));
  }
  ctx.root.append(h('section', { 'aria-labelledby': 'donation-ledger' },
    h('h2', { id: 'donation-ledger', text: t('donations.ledger') }), regions.ledger));
  await refresh();
  return { refresh };
}
