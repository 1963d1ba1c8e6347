// Disbursements (拨付): the balance of every fund (unearmarked money and each earmark, per currency),
// proposing a payment, and deciding it with four eyes: the dispatcher who proposed cannot approve or
// reject (the server answers 403; said here in words), another one does. Approved payments are reversed
// with a reason.
import { t, tEnum, enumOptions, fmtMoney, fmtTime, wallToIso } from '../i18n.js';
import { get, getAll, post, idempotent } from '../api.js';
import {
  h, badge, button, field, form, input, keepChoices, problemText, select, setOptions, switchSets, table, update,
} from '../dom.js';
import { ask } from '../dialog.js';
import { fundLabel, fundText } from '../use.js';
import { residentPicker } from './resident_picker.js';
import { regionField, regionLabel } from '../region_picker.js';

const STATUS_BADGE = { proposed: 'warn', approved: 'ok', rejected: 'muted' };

function fundsTable(funds) {
  return table(t('disbursements.fundsCaption'), [
    t('disbursements.fund'), t('disbursements.received'), t('disbursements.paid'), t('disbursements.pending'),
    t('disbursements.balance'),
  ], funds.map((f) => [
    h('div', {}, h('strong', {}, fundLabel(f.earmark)), h('div', { class: 'meta', text: f.currency })),
    fmtMoney(f.received, f.currency), fmtMoney(f.paid, f.currency), fmtMoney(f.proposed, f.currency),
    h('strong', { text: fmtMoney(f.balance, f.currency) }),
  ]), { empty: t('disbursements.fundsEmpty') });
}

function payee(d) {
  const r = d.recipient;
  if (r.kind === 'organization') return r.organization_name || tEnum('payee_kind', r.kind);
  if (r.kind === 'shelter') return r.shelter_name || tEnum('payee_kind', r.kind);
  if (r.kind === 'households') return t('disbursements.householdsCount', { n: r.households, count: r.households });
  return tEnum('payee_kind', r.kind);
}

/** Why a decision was refused, in words: four eyes (403), or a fund short of the amount (409 `available`). */
function refusal(error, d) {
  if (error?.status === 403) return t('disbursements.ownProposal');
  if (error?.status === 409 && error.problem?.available !== undefined) {
    return t('disbursements.insufficient', { available: fmtMoney(error.problem.available, d.currency) });
  }
  return null;
}

function actions(ctx, d, refresh) {
  const voucher = d.voucher_no;
  const out = [];
  if (d.status === 'proposed') {
    out.push(button(t('disbursements.approve'), {
      class: 'primary', 'aria-label': t('disbursements.approveAria', { voucher }),
      on: { click: async (event) => {
        const target = event.currentTarget;
        target.disabled = true;
        try {
          await post(`/v1/disbursements/${d.id}/approve`);
          ctx.notify(t('disbursements.approvedDone', { voucher }));
          await refresh();
        } catch (error) {
          target.disabled = false;
          ctx.notify(refusal(error, d) || problemText(error), 'error');
        }
      } },
    }));
    out.push(button(t('disbursements.reject'), {
      class: 'danger', 'aria-label': t('disbursements.rejectAria', { voucher }),
      on: { click: async () => {
        const done = await ask({ title: t('disbursements.rejectAria', { voucher }), submit: t('disbursements.reject'),
          danger: true, fields: [{ name: 'reason', label: t('disbursements.rejectReason'), type: 'textarea', required: true }],
          describe: (error) => refusal(error, d),
          onSubmit: (got) => post(`/v1/disbursements/${d.id}/reject`, { reason: got.reason }) });
        if (done) { ctx.notify(t('disbursements.rejectedDone', { voucher })); await refresh(); }
      } },
    }));
  }
  if (d.entry === 'payment' && d.status === 'approved' && !d.reversed_by) {
    out.push(button(t('disbursements.reverse'), {
      class: 'danger', 'aria-label': t('disbursements.reverseAria', { voucher }),
      on: { click: async () => {
        const done = await ask({ title: t('disbursements.reverseAria', { voucher }), intro: t('disbursements.reverseIntro'),
          submit: t('disbursements.reverse'), danger: true,
          fields: [{ name: 'reason', label: t('disbursements.reverseReason'), type: 'textarea', required: true }],
          describe: (error) => refusal(error, d),
          onSubmit: (got) => post(`/v1/disbursements/${d.id}/reverse`, { reason: got.reason }) });
        if (done) { ctx.notify(t('disbursements.reversedDone', { voucher })); await refresh(); }
      } },
    }));
  }
  return out.length ? h('div', { class: 'actions' }, out) : '';
}

function listTable(ctx, items, refresh) {
  return table(t('disbursements.listCaption'), [
    t('disbursements.disbursedAt'), t('disbursements.recordedAt'), t('disbursements.voucherNo'), t('disbursements.status'), t('disbursements.amount'),
    t('disbursements.purpose'), t('disbursements.fund'), t('disbursements.payee'), t('disbursements.noteOrReason'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), items.map((d) => [
    d.status === 'rejected' ? '' : fmtTime(d.disbursed_at), fmtTime(d.created_at), // a rejected one paid nothing
    h('span', { class: 'nowrap', text: d.voucher_no }),
    h('div', { class: 'actions' },
      d.entry === 'reversal' ? badge(tEnum('disbursement_entry', 'reversal'), 'warn')
        : badge(tEnum('disbursement_status', d.status), STATUS_BADGE[d.status]),
      d.reversed_by && badge(t('disbursements.reversed'), 'muted')),
    fmtMoney(d.amount, d.currency),
    tEnum('purpose', d.purpose),
    fundLabel(d.fund),
    h('span', {}, payee(d), d.region && [' · ', regionLabel(d.region, d.region_name)]),
    [d.reason, d.note].filter(Boolean).join(' · '),
    ctx.canDispatch ? actions(ctx, d, refresh) : null,
  ].filter((cell) => cell !== null)), { empty: t('disbursements.listEmpty'),
    rowProps: (i) => ({ class: items[i].entry === 'reversal' ? 'reversal' : '', dataset: { status: items[i].status } }) });
}

function proposeForm(ctx, incident, state, refresh) {
  const send = idempotent(); // one key per submission, kept only for a retry of the same one
  const currency = input('currency', { value: 'CNY', required: true, pattern: '[A-Z]{3}', maxlength: 3 });
  const purpose = select('purpose', enumOptions('purpose'), 'emergency_living_aid');
  const fund = select('fund', []);
  const payeeKind = select('payee_kind', enumOptions('payee_kind'), 'households');
  const organization = select('organization_id', [], undefined, { required: true });
  const shelter = select('shelter_id', [], undefined, { required: true });
  const sets = {
    organization: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('payee_kind', 'organization') }),
      field(t('disbursements.organization'), organization)),
    shelter: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('payee_kind', 'shelter') }),
      field(t('disbursements.shelter'), shelter)),
    resident: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('payee_kind', 'resident') }),
      residentPicker(incident)),
    households: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('payee_kind', 'households') }),
      field(t('disbursements.households'), input('households', { type: 'number', min: 1, required: true })),
      regionField(t('disbursements.householdsRegion'), input('households_region', { required: true, inputmode: 'numeric',
        pattern: '\\d{6}', maxlength: 6 }), t('disbursements.regionHint'))),
  };
  function fill() {
    // Only the earmarks this purpose may draw on, in this currency: the server refuses the others.
    const earmarks = state.funds.filter((f) => f.earmark && f.earmark.purpose === purpose.value
      && f.currency === (currency.value || 'CNY'));
    setOptions(fund, [['', fundText(null)], ...earmarks.map((f) => [`${f.earmark.purpose}|${f.earmark.region || ''}`,
      t('disbursements.fundChoice', { fund: fundText(f.earmark), balance: fmtMoney(f.balance, f.currency) })])]);
    setOptions(organization, state.organizations.map((o) => [o.id, o.name]));
    setOptions(shelter, state.shelters.map((s) => [s.id, s.name]));
  }
  const sync = () => switchSets(sets, payeeKind.value);
  payeeKind.addEventListener('change', sync);
  purpose.addEventListener('change', fill);
  currency.addEventListener('change', fill);
  const el = form({
    label: t('disbursements.propose'),
    submit: t('disbursements.proposeSubmit'),
    describe: (error) => (error?.status === 409 && error.problem?.voucher_no
      ? t('disbursements.voucherTaken', { voucher: error.problem.voucher_no }) : null),
    children: [
      h('p', { class: 'hint', text: t('disbursements.fourEyes') }),
      h('div', { class: 'grid' },
        field(t('disbursements.amount'), input('amount', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d{1,2})?' })),
        field(t('disbursements.currency'), currency),
        field(t('disbursements.purpose'), purpose),
        field(t('disbursements.fund'), fund, t('disbursements.fundHint')),
        field(t('disbursements.voucherNo'), input('voucher_no', { required: true, maxlength: 100 }), t('disbursements.voucherHint')),
        field(t('disbursements.payeeKind'), payeeKind)),
      Object.values(sets),
      h('div', { class: 'grid' },
        regionField(t('disbursements.region'), input('region', { inputmode: 'numeric', pattern: '\\d{6}', maxlength: 6 }),
          t('disbursements.regionHintTop')),
        field(t('disbursements.disbursedAt'), input('disbursed_at', { type: 'datetime-local' }),
          t('disbursements.disbursedHint')),
        field(t('disbursements.note'), input('note', { maxlength: 2000 }))),
    ],
    onSubmit: async (got) => {
      const recipient = {};
      if (got.payee_kind === 'organization') recipient.organization_id = got.organization_id;
      if (got.payee_kind === 'shelter') recipient.shelter_id = got.shelter_id;
      if (got.payee_kind === 'resident') recipient.resident_id = got.resident_id;
      if (got.payee_kind === 'households') Object.assign(recipient, { households: Number(got.households), region: got.households_region });
      const body = { amount: got.amount, currency: got.currency, purpose: got.purpose, recipient,
        voucher_no: got.voucher_no, note: got.note || '' };
      if (got.region) body.region = got.region;
      if (got.disbursed_at) body.disbursed_at = wallToIso(got.disbursed_at);
      if (got.fund) {
        const [fundPurpose, region] = got.fund.split('|');
        body.fund = region ? { purpose: fundPurpose, region } : { purpose: fundPurpose };
      }
      const done = await send((key) => post(`/v1/incidents/${incident.id}/disbursements`, body, { idempotencyKey: key }));
      ctx.notify(t('disbursements.proposedDone', { voucher: done.voucher_no, amount: fmtMoney(done.amount, done.currency) }));
      await refresh();
    },
  });
  keepChoices(el, ['amount', 'voucher_no', 'note', 'resident_id', 'disbursed_at']); // purpose, fund and payee stay for the next
  el.addEventListener('relief:reset', () => { fill(); sync(); });
  fill();
  sync();
  return { element: el, fill };
}

export async function mount(ctx) {
  const { incident } = ctx;
  const base = `/v1/incidents/${incident.id}`;
  const state = { funds: [], items: [], organizations: [], shelters: [] };
  const regions = { funds: h('div'), list: h('div') };
  let propose = null;
  async function refresh() {
    const [funds, items, shelters] = await Promise.all([
      get(`${base}/funds`), getAll(`${base}/disbursements`, {}, 5),
      ctx.canDispatch ? getAll(`${base}/shelters`, {}, 3) : [],
    ]);
    Object.assign(state, { funds: funds.items, items, shelters });
    update(regions.funds, fundsTable(state.funds));
    update(regions.list, listTable(ctx, state.items, refresh));
    propose?.fill();
  }
  if (ctx.canDispatch) state.organizations = await getAll('/v1/organizations', { status: 'approved' }, 3);
  await refresh();
  ctx.root.append(h('section', { 'aria-labelledby': 'disbursement-funds' },
    h('h2', { id: 'disbursement-funds', text: t('disbursements.funds') }), regions.funds));
  if (ctx.canDispatch) {
    propose = proposeForm(ctx, incident, state, refresh);
    ctx.root.append(h('section', { class: 'card', 'aria-labelledby': 'disbursement-new' },
      h('h2', { id: 'disbursement-new', text: t('disbursements.propose') }), propose.element));
  }
  ctx.root.append(h('section', { 'aria-labelledby': 'disbursement-list' },
    h('h2', { id: 'disbursement-list', text: t('disbursements.list') }), regions.list));
  return { refresh };
}
