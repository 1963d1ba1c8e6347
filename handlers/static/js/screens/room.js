// The incident room: the summary figures, the latest impact figures, every call with its committed /
// in transit / delivered bars and who could fill it (matches), the open offers, and (for dispatchers) creating
// a call (first on the page, folded), publishing, editing, closing and cancelling one.
import { t, tEnum, enumOptions, fmtAmount, fmtTime, wallToIso } from '../i18n.js';
import { get, getAll, post, request } from '../api.js';
import { h, badge, bar, button, checkbox, field, form, input, keepChoices, select, switchSets, textarea, update }
  from '../dom.js';
import { ask } from '../dialog.js';
import { codePicker, pickerField } from './catalogue_picker.js';
import { offersTable, showMatches } from './matches.js';
import { isoToWall } from './incident_actions.js';
import * as figures from '../figures.js';
import { latest as latestImpacts } from './impacts.js';

const STATUS_ORDER = ['draft', 'open', 'fulfilled', 'closed', 'cancelled'];
const PRIORITY_ORDER = ['critical', 'high', 'medium', 'low'];

function sortCalls(calls) {
  return [...calls].sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status)
    || PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority));
}

function what(call) {
  if (call.kind === 'goods') return tEnum('item', call.item);
  if (call.kind === 'personnel') return tEnum('skill', call.skill);
  return call.currency;
}

function callCard(call, ctx, refresh) {
  const amount = (v) => fmtAmount(v, call);
  const of = (v) => t('room.ofRequested', { value: amount(v), requested: amount(call.requested) });
  const titleId = `call-${call.id}`;
  const actions = [];
  if (ctx.canDispatch && call.status === 'draft') {
    actions.push(button(t('room.publish'), {
      class: 'primary', 'aria-label': t('room.publishAria', { title: call.title }),
      on: { click: async (event) => {
        const target = event.currentTarget;
        target.disabled = true;
        try {
          await post(`/v1/calls/${call.id}/publish`);
          ctx.notify(t('room.published', { title: call.title }));
          await refresh();
        } catch (error) { ctx.showError(error); target.disabled = false; }
      } },
    }));
  }
  if (ctx.canDispatch && (call.status === 'draft' || call.status === 'open')) {
    actions.push(button(t('jobs.editCall'), {
      'aria-label': t('jobs.editCallAria', { title: call.title }),
      on: { click: async () => { if (await editCall(call)) { ctx.notify(t('jobs.callSaved', { title: call.title })); await refresh(); } } },
    }));
  }
  if (ctx.canDispatch && call.status === 'open') {
    actions.push(button(t('room.close'), {
      'aria-label': t('room.closeAria', { title: call.title }),
      on: { click: async () => {
        const ok = await ask({ title: t('room.closeAria', { title: call.title }), intro: t('room.closeIntro'),
          submit: t('room.close'), danger: true, onSubmit: () => post(`/v1/calls/${call.id}/close`) });
        if (ok) await refresh();
      } },
    }));
  }
  if (ctx.canDispatch && (call.status === 'draft' || call.status === 'open')) {
    actions.push(button(t('jobs.cancelCall'), {
      class: 'danger', 'aria-label': t('jobs.cancelCallAria', { title: call.title }),
      on: { click: async () => {
        const ok = await ask({ title: t('jobs.cancelCallAria', { title: call.title }), intro: t('jobs.cancelCallIntro'),
          submit: t('jobs.cancelCall'), danger: true, onSubmit: () => post(`/v1/calls/${call.id}/cancel`) });
        if (ok) { ctx.notify(t('jobs.callCancelled', { title: call.title })); await refresh(); }
      } },
    }));
  }
  // Reading who could fill a call is for every console role (the API lets viewers read matches).
  actions.push(button(t('jobs.matches'), {
    'aria-label': t('jobs.matchesAria', { title: call.title }),
    on: { click: () => showMatches(call).catch(ctx.showError) },
  }));
  return h('article', { class: `card call call-${call.status}`, 'aria-labelledby': titleId, dataset: { callId: call.id } },
    h('div', { class: 'call-head' },
      h('h3', { id: titleId, text: call.title }),
      badge(tEnum('call_status', call.status), call.status),
      badge(tEnum('priority', call.priority), `prio-${call.priority}`),
      call.overdue && badge(t('room.overdue'), 'warn')),
    h('p', { class: 'meta' },
      h('span', { text: `${tEnum('call_kind', call.kind)} · ${what(call)}` }),
      h('span', { text: t('room.requested', { value: amount(call.requested) }) }),
      call.deadline && h('span', { text: t('room.deadline', { time: fmtTime(call.deadline) }) }),
      call.deliver_to && h('span', { text: t('room.deliverTo', { address: call.deliver_to.address }) })),
    h('div', { class: 'bars' },
      bar(t('room.committed'), call.committed, call.requested, 'committed', of(call.committed)),
      bar(t('room.inTransit'), call.in_transit, call.requested, 'transit', of(call.in_transit)),
      bar(t('room.delivered'), call.delivered, call.requested, 'delivered', of(call.delivered))),
    h('p', { class: 'meta' }, t('room.remaining', { value: amount(call.remaining) })),
    actions.length > 0 && h('div', { class: 'actions' }, actions));
}

/** The call's edit dialog: what PATCH /v1/calls/{id} may change, sent with If-Match (its version). */
function editCall(call) {
  const size = {
    money: { name: 'amount', label: t('room.amount'), value: call.amount },
    goods: { name: 'quantity', label: t('jobs.quantityIn', { unit: tEnum('unit', call.unit) }), value: call.quantity },
    personnel: { name: 'headcount', label: t('room.headcount'), value: String(call.headcount ?? ''), type: 'number' },
  }[call.kind];
  return ask({
    title: t('jobs.editCallAria', { title: call.title }),
    submit: t('jobs.save'),
    fields: [
      { name: 'title', label: t('room.callTitle'), value: call.title, required: true },
      { name: 'priority', label: t('room.priority'), type: 'select', options: enumOptions('priority'), value: call.priority },
      { ...size, required: true, hint: t('jobs.notBelowCommitted') },
      { name: 'deadline', label: t('room.deadlineLabel'), type: 'datetime-local', value: isoToWall(call.deadline),
        hint: t('common.timezoneHint') },
      { name: 'address', label: t(call.kind === 'personnel' ? 'room.reportTo' : 'room.deliverAddress'),
        value: call.deliver_to?.address || '' },
      { name: 'description', label: t('room.description'), type: 'textarea', value: call.description },
    ],
    onSubmit: (got) => {
      const body = {};
      if (got.title !== call.title) body.title = got.title;
      if (got.priority !== call.priority) body.priority = got.priority;
      if ((got.description || '') !== call.description) body.description = got.description || '';
      const sizeValue = size.type === 'number' ? Number(got[size.name]) : got[size.name];
      if (String(sizeValue) !== String(size.value)) body[size.name] = sizeValue;
      if ((got.deadline || '') !== isoToWall(call.deadline)) body.deadline = got.deadline ? wallToIso(got.deadline) : null;
      if ((got.address || '') !== (call.deliver_to?.address || '')) {
        body.deliver_to = got.address ? { ...(call.deliver_to || {}), address: got.address } : null;
      }
      return request('PATCH', `/v1/calls/${call.id}`, { body, ifMatch: `"${call.version}"` });
    },
  });
}

function callForm(ctx, incident, refresh) {
  const kind = select('kind', enumOptions('call_kind'), 'goods');
  const unit = codePicker('unit', 'unit', { required: true, maxlength: 20 });
  const item = codePicker('item', 'item', { required: true, unit });
  const sets = {
    money: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('call_kind', 'money') }),
      field(t('room.amount'), input('amount', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d{1,2})?' })),
      field(t('room.currency'), input('currency', { value: 'CNY', required: true, pattern: '[A-Z]{3}', maxlength: 3 }))),
    goods: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('call_kind', 'goods') }),
      pickerField(t('room.item'), item),
      pickerField(t('room.unit'), unit),
      field(t('room.quantity'), input('quantity', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?' })),
      field(t('room.deliverAddress'), input('address'))),
    personnel: h('fieldset', { class: 'grid' }, h('legend', { text: tEnum('call_kind', 'personnel') }),
      field(t('room.skill'), select('skill', enumOptions('skill'))),
      field(t('room.headcount'), input('headcount', { type: 'number', min: 1, required: true })),
      field(t('room.reportTo'), input('address'))),
  };
  kind.addEventListener('change', () => switchSets(sets, kind.value));
  switchSets(sets, kind.value);
  const el = form({
    label: t('room.newCall'),
    submit: t('room.createCall'),
    children: [
      h('div', { class: 'grid' },
        field(t('room.kind'), kind),
        field(t('room.callTitle'), input('title', { required: true, maxlength: 300 })),
        field(t('room.priority'), select('priority', enumOptions('priority'), 'high')),
        field(t('room.deadlineLabel'), input('deadline', { type: 'datetime-local' }), t('common.timezoneHint'))),
      Object.values(sets),
      field(t('room.description'), textarea('description', { rows: 2 })),
      checkbox('publish', t('room.publishNow'), true),
    ],
    onSubmit: async (got) => {
      const body = { kind: got.kind, title: got.title, priority: got.priority, description: got.description || '',
        status: got.publish ? 'open' : 'draft' };
      if (got.deadline) body.deadline = wallToIso(got.deadline);
      if (got.kind === 'money') Object.assign(body, { amount: got.amount, currency: got.currency || 'CNY' });
      if (got.kind === 'goods') Object.assign(body, { item: got.item, unit: got.unit, quantity: got.quantity });
      if (got.kind === 'personnel') Object.assign(body, { skill: got.skill, headcount: Number(got.headcount) });
      if (got.address) body.deliver_to = { address: got.address };
      const call = await post(`/v1/incidents/${incident.id}/calls`, body);
      ctx.notify(t(call.status === 'draft' ? 'room.drafted' : 'room.published', { title: call.title }));
      await refresh();
    },
  });
  // The next call often has the same kind and priority: they stay; what is particular to this one goes.
  keepChoices(el, ['title', 'deadline', 'amount', 'item', 'unit', 'quantity', 'address', 'headcount', 'description']);
  el.addEventListener('relief:reset', () => { switchSets(sets, kind.value); item.show(); unit.show(); });
  return el;
}

export async function mount(ctx) {
  const { incident } = ctx;
  const summaryRegion = h('div', { class: 'figures' });
  const callsRegion = h('div', { class: 'calls' });
  const impactsRegion = h('div', { class: 'card' });
  const offersRegion = h('div');
  const newCall = ctx.canDispatch && incident.status === 'open'
    ? h('details', { class: 'card new-call' }, h('summary', { text: t('room.newCall') })) : null;
  ctx.root.append(
    newCall,
    h('section', { 'aria-labelledby': 'room-summary' },
      h('h2', { id: 'room-summary', text: t('room.summary') }),
      h('p', { class: 'meta', id: 'as-of' }), summaryRegion),
    h('section', { 'aria-labelledby': 'room-impacts' },
      h('h2', { id: 'room-impacts', text: t('impacts.latest') }), impactsRegion),
    h('section', { 'aria-labelledby': 'room-calls' },
      h('h2', { id: 'room-calls', text: t('room.calls') }), callsRegion),
    h('section', { 'aria-labelledby': 'room-offers' },
      h('h2', { id: 'room-offers', text: t('jobs.offers') }), offersRegion),
  );
  async function refresh() {
    const [summary, calls, impacts, offers] = await Promise.all([
      get(`/v1/incidents/${incident.id}/summary`),
      getAll(`/v1/incidents/${incident.id}/calls`, {}, 5),
      get(`/v1/incidents/${incident.id}/impacts/current`),
      offersTable(incident),
    ]);
    update(impactsRegion, latestImpacts(impacts.items, incident.id));
    ctx.root.querySelector('#as-of').textContent = t('room.asOf', { time: fmtTime(summary.as_of) });
    update(summaryRegion, [
      figures.money(summary.money), figures.goods(summary.goods), figures.personnel(summary.personnel),
      figures.residents(summary.residents), figures.organizations(summary.organizations_participating),
      figures.callsByStatus(summary.calls_by_status),
    ]);
    update(callsRegion, calls.length
      ? sortCalls(calls).map((call) => callCard(call, ctx, refresh))
      : h('p', { class: 'empty', text: t('room.noCalls') }));
    update(offersRegion, offers);
  }
  if (newCall) newCall.append(callForm(ctx, incident, refresh));
  await refresh();
  return { refresh };
}
