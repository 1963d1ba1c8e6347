// Pledges: the queue of new pledges (accept / reject), those under way (deliver), and what each
// organization has delivered so far — all from GET /v1/pledges?incident_id=…
import { t, tEnum, fmtAmount, fmtMoney, fmtPeople, fmtQty, fmtTime } from '../i18n.js';
import { getAll, post } from '../api.js';
import { h, badge, button, table, update } from '../dom.js';
import { add, isZero } from '../decimal.js';
import { ask } from '../dialog.js';

function terms(pledge, call) {
  return { kind: pledge.kind, unit: pledge.unit || call?.unit, currency: pledge.currency || call?.currency };
}

function describe(pledge, call) {
  const parts = [fmtAmount(pledge.quantity, terms(pledge, call))];
  if (pledge.kind === 'goods' && call?.item) parts.unshift(tEnum('item', call.item));
  if (pledge.estimated_value) parts.push(t('pledges.worth', { value: fmtMoney(pledge.estimated_value, 'CNY') }));
  if (pledge.lead) parts.push(t('pledges.lead', { name: pledge.lead.name, phone: pledge.lead.phone || '' }));
  return parts.join(' · ');
}

function act(ctx, refresh, pledge, action, options = {}) {
  return button(t(`pledges.${action}`), {
    class: options.cls,
    'aria-label': t(`pledges.${action}Aria`, { org: pledge.organization_name || '', what: options.what }),
    on: { click: async (event) => {
      const target = event.currentTarget;
      if (options.ask) {
        const done = await ask({ ...options.ask, onSubmit: (got) => post(`/v1/pledges/${pledge.id}/${action}`,
          options.body(got)) });
        if (!done) return;
      } else {
        target.disabled = true;
        try {
          await post(`/v1/pledges/${pledge.id}/${action}`);
        } catch (error) {
          target.disabled = false;
          ctx.showError(error);
          return;
        }
      }
      ctx.notify(t(`pledges.${action}Done`, { org: pledge.organization_name || '' }));
      await refresh();
    } },
  });
}

function queue(ctx, refresh, pending, calls) {
  return table(t('pledges.queueCaption'), [
    t('pledges.time'), t('pledges.organization'), t('pledges.call'), t('pledges.what'), t('pledges.note'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), pending.map((pledge) => {
    const call = calls.get(pledge.call_id);
    const what = describe(pledge, call);
    return [
      fmtTime(pledge.created_at), pledge.organization_name || '', call?.title || '', what, pledge.note,
      ctx.canDispatch && h('div', { class: 'actions' },
        act(ctx, refresh, pledge, 'accept', { cls: 'primary', what }),
        act(ctx, refresh, pledge, 'reject', { cls: 'danger', what, body: (got) => ({ reason: got.reason }), ask: {
          title: t('pledges.rejectAria', { org: pledge.organization_name || '', what }), submit: t('pledges.reject'),
          danger: true, fields: [{ name: 'reason', label: t('pledges.reason'), type: 'textarea', required: true }],
        } })),
    ].filter((cell) => cell !== false);
  }), { empty: t('pledges.queueEmpty') });
}

function underway(ctx, refresh, active, calls) {
  return table(t('pledges.underwayCaption'), [
    t('pledges.organization'), t('pledges.call'), t('pledges.what'), t('pledges.status'),
    ctx.canDispatch ? t('common.actions') : null,
  ].filter(Boolean), active.map((pledge) => {
    const call = calls.get(pledge.call_id);
    const what = describe(pledge, call);
    const fields = pledge.kind === 'personnel' ? [] : [{
      name: 'quantity', label: t('pledges.arrived', { unit: pledge.kind === 'money'
        ? terms(pledge, call).currency : tEnum('unit', terms(pledge, call).unit) }),
      type: 'text', value: pledge.quantity, required: true, hint: t('pledges.arrivedHint'),
    }];
    fields.push({ name: 'note', label: t('pledges.deliveryNote'), type: 'textarea' });
    return [
      pledge.organization_name || '', call?.title || '', what, badge(tEnum('pledge_status', pledge.status), pledge.status),
      ctx.canDispatch && act(ctx, refresh, pledge, 'deliver', { cls: 'primary', what,
        body: (got) => ({ ...(got.quantity ? { quantity: got.quantity } : {}), ...(got.note ? { note: got.note } : {}) }),
        ask: { title: t('pledges.deliverAria', { org: pledge.organization_name || '', what }), submit: t('pledges.deliver'),
          fields } }),
    ].filter((cell) => cell !== false);
  }), { empty: t('pledges.underwayEmpty') });
}

/** Per organization: pledges in play and what has arrived, summed exactly per currency, item and unit. */
function byOrganization(pledges, calls) {
  const orgs = new Map();
  for (const pledge of pledges) {
    if (pledge.status === 'rejected' || pledge.status === 'withdrawn') continue;
    const name = pledge.organization_name || pledge.organization_id;
    const row = orgs.get(name) || { pledges: 0, delivered: 0, money: new Map(), goods: new Map(), people: '0' };
    orgs.set(name, row);
    row.pledges += 1;
    if (pledge.status !== 'delivered' || pledge.delivered_quantity === null) continue;
    row.delivered += 1;
    const call = calls.get(pledge.call_id);
    const got = pledge.delivered_quantity;
    if (pledge.kind === 'money') {
      const currency = pledge.currency || call?.currency || 'CNY';
      row.money.set(currency, add(row.money.get(currency) || '0', got));
    } else if (pledge.kind === 'goods') {
      const key = `${call?.item || ''}|${pledge.unit || call?.unit || ''}`;
      row.goods.set(key, add(row.goods.get(key) || '0', got));
    } else {
      row.people = add(row.people, got);
    }
  }
  const rows = [...orgs.entries()].sort(([a], [b]) => a.localeCompare(b, 'zh-CN'));
  return table(t('pledges.byOrgCaption'), [
    t('pledges.organization'), t('pledges.deliveredOfPledges'), t('pledges.money'), t('pledges.goods'),
    t('pledges.people'),
  ], rows.map(([name, row]) => [
    name,
    t('pledges.countOf', { delivered: row.delivered, total: row.pledges }),
    [...row.money.entries()].map(([currency, value]) => fmtMoney(value, currency)).join(' · ') || '—',
    [...row.goods.entries()].map(([key, value]) => {
      const [item, unit] = key.split('|');
      return `${tEnum('item', item)} ${fmtQty(value, unit)}`;
    }).join(' · ') || '—',
    isZero(row.people) ? '—' : fmtPeople(row.people),
  ]), { empty: t('pledges.byOrgEmpty') });
}

export async function mount(ctx) {
  const { incident } = ctx;
  const regions = { queue: h('div'), underway: h('div'), orgs: h('div') };
  ctx.root.append(
    h('section', { 'aria-labelledby': 'pledge-queue' },
      h('h2', { id: 'pledge-queue' }, t('pledges.queue'), ' ', h('span', { class: 'count', id: 'queue-count' })),
      regions.queue),
    h('section', { 'aria-labelledby': 'pledge-underway' },
      h('h2', { id: 'pledge-underway', text: t('pledges.underway') }), regions.underway),
    h('section', { 'aria-labelledby': 'pledge-orgs' },
      h('h2', { id: 'pledge-orgs', text: t('pledges.byOrg') }), regions.orgs),
  );
  async function refresh() {
    const [pledges, callList] = await Promise.all([
      getAll('/v1/pledges', { incident_id: incident.id }),
      getAll(`/v1/incidents/${incident.id}/calls`, {}, 5),
    ]);
    const calls = new Map(callList.map((call) => [call.id, call]));
    const pending = pledges.filter((p) => p.status === 'pledged')
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
    const active = pledges.filter((p) => p.status === 'accepted' || p.status === 'dispatched');
    ctx.root.querySelector('#queue-count').textContent = t('pledges.waiting', { n: pending.length });
    update(regions.queue, queue(ctx, refresh, pending, calls));
    update(regions.underway, underway(ctx, refresh, active, calls));
    update(regions.orgs, byOrganization(pledges, calls));
  }
  await refresh();
  return { refresh };
}
