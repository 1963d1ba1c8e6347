// Activity: the incident's event trail (GET /v1/incidents/{id}/events), newest first, arriving live.
import { t, tEnum, fmtTime, fmtAmount, fmtMoney } from '../i18n.js';
import { get } from '../api.js';
import { h, field, select, table, update } from '../dom.js';
import { regionLabel } from '../region_picker.js';

const FAMILIES = ['incident', 'call', 'pledge', 'offer', 'donation', 'disbursement', 'stock', 'site', 'shelter', 'resident',
  'evacuation', 'impact', 'sitrep', 'alert'];

/** A pledge's figure: what was delivered when the event is a delivery (a partial one is less than pledged). */
function pledgeAmount(event, r) {
  const delivered = r.delivered_quantity;
  if (event.type === 'pledge.delivered' && delivered !== null && delivered !== undefined) {
    return delivered === r.quantity ? t('activity.deliveredAll', { delivered: fmtAmount(delivered, r) })
      : t('activity.deliveredPart', { delivered: fmtAmount(delivered, r), pledged: fmtAmount(r.quantity, r) });
  }
  return r.quantity ? fmtAmount(r.quantity, r) : '';
}

/** Who acted: the key by its name and prefix (the audit trail's join), with its role. */
function actor(a) {
  const role = tEnum('role', a.role);
  if (!a.key_name) return role;
  return h('span', { dataset: { keyPrefix: a.key_prefix || '' } }, h('strong', { text: a.key_name }), ' ',
    h('code', { class: 'hint', text: `${a.key_prefix || ''}…` }), ' ', h('span', { text: `(${role})` }));
}

/** A line saying what changed, from the resource after (or before) the change; never a person's name. */
function gist(event) {
  const r = event.after || event.before || {};
  switch (event.entity.type) {
    case 'call': return r.title || '';
    case 'pledge': return [r.organization_name, pledgeAmount(event, r)].filter(Boolean).join(' · ');
    case 'donation': return r.kind === 'money' ? fmtMoney(r.amount, r.currency)
      : [tEnum('item', r.item), r.quantity && fmtAmount(r.quantity, { kind: 'goods', unit: r.unit })].filter(Boolean).join(' ');
    case 'resident': return [r.id_number_masked, tEnum('resident_status', r.status)].filter(Boolean).join(' · ');
    case 'shelter': return r.name ? t('activity.shelter', { name: r.name, n: r.occupancy, capacity: r.capacity }) : '';
    case 'evacuation': return r.count ? t('activity.evacuation', { n: r.count, placement: tEnum('placement', r.placement) }) : '';
    case 'impact': return r.figure ? h('span', {}, tEnum('impact_figures', r.figure), ' · ',
      regionLabel(r.region, r.region_name), ' · ', tEnum('impact_source', r.source), ' · ', r.value) : '';
    case 'sitrep': return r.number ? `${t('sitreps.number', { n: r.number })} ${t(`sitreps.kinds.${r.kind}`)}` : '';
    case 'alert': return r.headline || '';
    case 'alert_ack': return [r.organization_name, tEnum('ack_status', r.status)].filter(Boolean).join(' · ');
    case 'stock_movement': return r.item ? `${tEnum('item', r.item)} ${fmtAmount(r.quantity, { kind: 'goods', unit: r.unit })}`
      : '';
    case 'stock_level': return r.item ? [r.location?.name,
      `${tEnum('item', r.item)} ${fmtAmount(r.on_hand, { kind: 'goods', unit: r.unit })}`].filter(Boolean).join(' · ') : '';
    case 'disbursement': return r.amount
      ? [r.voucher_no, fmtMoney(r.amount, r.currency), tEnum('purpose', r.purpose)].join(' · ') : '';
    default: return r.title || r.headline || r.name || '';
  }
}

export async function mount(ctx) {
  const { incident } = ctx;
  const region = h('div');
  const seen = new Set();
  let first = true;
  const family = select('family', [['', t('activity.all')], ...FAMILIES.map((f) => [f, tEnum('entity', f)])], '');
  family.addEventListener('change', () => { first = true; seen.clear(); refresh().catch(ctx.showError); });
  ctx.root.append(h('section', { 'aria-labelledby': 'activity-heading' },
    h('h2', { id: 'activity-heading', text: t('activity.heading') }),
    h('div', { class: 'grid filters' }, field(t('activity.filter'), family)),
    h('p', { class: 'hint', text: t('activity.liveHint') }), region));
  async function refresh() {
    const page = await get(`/v1/incidents/${incident.id}/events`,
      { limit: 100, type: family.value ? `${family.value}.*` : '' });
    const fresh = new Set(first ? [] : page.items.filter((e) => !seen.has(e.id)).map((e) => e.id));
    for (const e of page.items) seen.add(e.id);
    first = false;
    update(region, table(t('activity.caption'), [
      t('activity.time'), t('activity.what'), t('activity.detail'), t('activity.by'),
    ], page.items.map((e) => [
      fmtTime(e.created_at), tEnum('event', e.type), gist(e), actor(e.actor),
    ]), { empty: t('activity.none'), rowProps: (i) => ({ class: fresh.has(page.items[i].id) ? 'fresh' : '',
      dataset: { eventType: page.items[i].type } }) }));
  }
  await refresh();
  return { refresh };
}
