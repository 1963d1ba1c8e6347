// Alerts: broadcast (CAP fields; the area as a description plus region codes, a circle or a polygon),
// updates and cancels that reference an earlier alert, and who has acknowledged each — or not yet; for the bureau's
// staff, each alert's reach: every organization it was sent to, by webhook and by email, answered or escalated.
import { t, tEnum, enumOptions, fmtTime } from '../i18n.js';
import { get, post } from '../api.js';
import { h, badge, field, form, input, select, switchSets, table, textarea, update } from '../dom.js';
import { regionField } from '../region_picker.js';

function area(got) {
  const out = { description: got.area_description };
  if (got.located_by === 'regions') {
    out.geocodes = got.regions.split(/[\s,，、]+/).filter(Boolean).map((value) => ({ value_name: 'GB/T 2260', value }));
  } else if (got.located_by === 'circle') {
    out.circle = `${got.lat},${got.lon} ${got.radius}`;
  } else {
    out.polygon = got.polygon.trim().split(/\s+/).join(' ');
  }
  return out;
}

function broadcastForm(ctx, incident, refresh) {
  const msgType = select('msg_type', enumOptions('msg_type'), 'Alert');
  const earlier = select('references', []);
  const references = h('div', {}, field(t('alerts.references'), earlier));
  const locatedBy = select('located_by', [['regions', t('alerts.byRegions')], ['circle', t('alerts.byCircle')],
    ['polygon', t('alerts.byPolygon')]], 'regions');
  const where = {
    regions: h('fieldset', { class: 'grid' }, h('legend', { text: t('alerts.byRegions') }),
      regionField(t('alerts.regions'), input('regions', { required: true, inputmode: 'numeric', value: incident.regions.join(' ') }),
        t('alerts.regionsHint'), { multiple: true })),
    circle: h('fieldset', { class: 'grid' }, h('legend', { text: t('alerts.byCircle') }),
      field(t('alerts.lat'), input('lat', { required: true, inputmode: 'decimal', pattern: '-?\\d{1,2}(\\.\\d+)?' })),
      field(t('alerts.lon'), input('lon', { required: true, inputmode: 'decimal', pattern: '-?\\d{1,3}(\\.\\d+)?' })),
      field(t('alerts.radius'), input('radius', { required: true, inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?' }))),
    polygon: h('fieldset', {}, h('legend', { text: t('alerts.byPolygon') }),
      field(t('alerts.polygon'), textarea('polygon', { required: true }), t('alerts.polygonHint'))),
  };
  const sync = () => {
    switchSets(where, locatedBy.value);
    const replaces = msgType.value !== 'Alert';
    references.hidden = !replaces;
    references.querySelector('select').disabled = !replaces;
  };
  msgType.addEventListener('change', sync);
  locatedBy.addEventListener('change', sync);
  sync();
  const el = form({
    label: t('alerts.broadcast'),
    submit: t('alerts.broadcastSubmit'),
    children: [
      h('div', { class: 'grid' },
        field(t('alerts.msgType'), msgType), references,
        h('div', { class: 'field wide' }, field(t('alerts.headline'), input('headline', { required: true, maxlength: 160 })))),
      h('div', { class: 'grid' },
        field(t('alerts.description'), textarea('description', { maxlength: 5000 })),
        field(t('alerts.instruction'), textarea('instruction', { maxlength: 5000 }))),
      h('div', { class: 'grid' },
        field(t('alerts.category'), select('category', enumOptions('cap_category'), 'Met')),
        field(t('alerts.urgency'), select('urgency', enumOptions('cap_urgency'), 'Immediate')),
        field(t('alerts.severity'), select('severity', enumOptions('cap_severity'), 'Severe')),
        field(t('alerts.certainty'), select('certainty', enumOptions('cap_certainty'), 'Observed')),
        field(t('alerts.responseType'), select('response_type', [['', t('alerts.noResponseType')],
          ...enumOptions('cap_response')], 'Evacuate'))),
      h('div', { class: 'grid' },
        field(t('alerts.areaDescription'), input('area_description', { required: true, maxlength: 500 })),
        field(t('alerts.locatedBy'), locatedBy)),
      Object.values(where),
    ],
    onSubmit: async (got) => {
      const body = { headline: got.headline, description: got.description || '', instruction: got.instruction || '',
        category: got.category, urgency: got.urgency, severity: got.severity, certainty: got.certainty,
        msg_type: got.msg_type, area: area(got) };
      if (got.response_type) body.response_type = got.response_type;
      if (got.msg_type !== 'Alert') body.references = got.references;
      const alert = await post(`/v1/incidents/${incident.id}/alerts`, body);
      ctx.notify(t('alerts.sent', { headline: alert.headline }));
      await refresh();
    },
  });
  el.addEventListener('relief:reset', sync);
  /** The alerts an Update or Cancel may name: those not cancelled yet, newest first. */
  el.setEarlier = (alerts) => {
    if (document.activeElement === earlier) return;
    const current = earlier.value;
    earlier.replaceChildren(...alerts.filter((a) => a.msg_type !== 'Cancel')
      .map((a) => h('option', { value: a.id, text: `${fmtTime(a.sent_at)} ${a.headline}` })));
    if (current) earlier.value = current;
  };
  return el;
}

const REACH_BADGE = { delivered: 'delivered', pending: 'warn', failed: 'failed', none: 'muted' };

function reachBadge(state) {
  return badge(tEnum('reach', state), REACH_BADGE[state]);
}

/** Who the alert was sent to (GET /v1/alerts/{id}/targets): one row per organization, and the counts above. */
function reachPanel(alert, reach) {
  const items = reach.items;
  const count = (test) => items.filter(test).length;
  const summary = t('alerts.reachSummary', {
    targets: items.length,
    reached: count((r) => r.webhook === 'delivered' || r.email === 'delivered'),
    acked: count((r) => r.ack_status),
    escalated: count((r) => r.escalated_at),
  });
  return h('section', { class: 'reach', 'aria-label': `${t('alerts.reach')} · ${alert.headline}` },
    h('h4', { text: t('alerts.reach') }),
    h('p', { class: 'reach-summary', text: summary }),
    h('p', { class: 'hint', text: t('alerts.reachHint', { minutes: reach.escalate_after_minutes }) }),
    table(t('alerts.reachCaption', { headline: alert.headline }), [
      t('alerts.organization'), t('alerts.webhook'), t('alerts.email'), t('alerts.acknowledgement'), t('alerts.escalated'),
    ], items.map((r) => [
      r.organization.name,
      reachBadge(r.webhook),
      reachBadge(r.email),
      r.ack_status
        ? h('span', { class: 'on-hand' }, badge(tEnum('ack_status', r.ack_status), `ack-${r.ack_status}`),
          fmtTime(r.acknowledged_at))
        : h('span', { class: 'empty', text: t('alerts.notYet') }),
      r.escalated_at
        ? h('span', { class: 'on-hand' }, fmtTime(r.escalated_at),
          h('span', { text: t('alerts.escalatedEmail', { state: tEnum('reach', r.escalation_email) }) }))
        : h('span', { class: 'empty', text: t('alerts.notEscalated') }),
    ]), { empty: t('alerts.noTargets'), rowProps: (i) => ({ dataset: { organizationId: items[i].organization.id,
      email: items[i].email, webhook: items[i].webhook } }) }));
}

function alertCard(alert, acks, reach) {
  const titleId = `alert-${alert.id}`;
  return h('article', { class: `card alert alert-${alert.msg_type}`, 'aria-labelledby': titleId, dataset: { alertId: alert.id } },
    h('div', { class: 'call-head' },
      h('h3', { id: titleId, text: alert.headline }),
      badge(tEnum('msg_type', alert.msg_type), alert.msg_type === 'Cancel' ? 'muted' : 'warn'),
      badge(tEnum('cap_severity', alert.severity), `cap-${alert.severity}`),
      badge(tEnum('cap_urgency', alert.urgency)),
      badge(tEnum('cap_certainty', alert.certainty)),
      alert.status !== 'Actual' && badge(tEnum('cap_status', alert.status), 'warn')),
    h('p', { class: 'meta' },
      h('span', { text: t('alerts.sentAt', { time: fmtTime(alert.sent_at) }) }),
      h('span', { text: t('alerts.area', { area: alert.area.description }) }),
      alert.response_type && h('span', { text: tEnum('cap_response', alert.response_type) }),
      h('a', { href: `/v1/alerts/${alert.id}.cap`, text: t('alerts.cap'), type: 'application/xml' })),
    alert.instruction && h('p', { text: alert.instruction }),
    h('h4', {}, t('alerts.acknowledged', { n: acks.items.length })),
    table(t('alerts.acksCaption', { headline: alert.headline }), [
      t('alerts.organization'), t('alerts.ackStatus'), t('alerts.note'), t('alerts.ackTime'),
    ], acks.items.map((ack) => [
      ack.organization_name, badge(tEnum('ack_status', ack.status), `ack-${ack.status}`), ack.note, fmtTime(ack.updated_at),
    ]), { empty: t('alerts.noAcks') }),
    h('h4', {}, t('alerts.notAcknowledged', { n: acks.not_acknowledged.length })),
    acks.not_acknowledged.length
      ? h('ul', { class: 'names' }, acks.not_acknowledged.map((o) => h('li', { text: o.name })))
      : h('p', { class: 'empty', text: t('alerts.everyoneAnswered') }),
    reach && reachPanel(alert, reach));
}

export async function mount(ctx) {
  const { incident } = ctx;
  const region = h('div', { class: 'alerts' });
  const formSlot = h('div');
  ctx.root.append(formSlot, h('section', { 'aria-labelledby': 'alerts-heading' },
    h('h2', { id: 'alerts-heading', text: t('alerts.heading') }), region));
  // Who an alert reached is the bureau's staff's to read (an organization sees its own answers only).
  const staff = ['admin', 'dispatcher', 'viewer'].includes(ctx.session?.role);
  let broadcast = null;
  async function refresh() {
    const alerts = (await get(`/v1/incidents/${incident.id}/alerts`, { limit: 20 })).items;
    const [acks, reach] = await Promise.all([
      Promise.all(alerts.map((a) => get(`/v1/alerts/${a.id}/acks`, { limit: 200 }))),
      staff ? Promise.all(alerts.map((a) => get(`/v1/alerts/${a.id}/targets`))) : [],
    ]);
    update(region, alerts.length ? alerts.map((a, i) => alertCard(a, acks[i], reach[i]))
      : h('p', { class: 'empty', text: t('alerts.none') }));
    broadcast?.setEarlier(alerts);
  }
  if (ctx.canDispatch && incident.status === 'open') {
    broadcast = broadcastForm(ctx, incident, refresh);
    formSlot.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'alert-new' },
      h('h2', { id: 'alert-new', text: t('alerts.broadcast') }), broadcast));
  }
  await refresh();
  return { refresh };
}
