// One incident's frame: its title and state, the live indicator, and the tabs of the incident room.
import { t, tEnum, fmtTime } from '../i18n.js';
import { get } from '../api.js';
import { h, badge } from '../dom.js';
import * as room from './room.js';
import * as pledges from './pledges.js';
import * as donations from './donations.js';
import * as shelters from './shelters.js';
import * as stock from './stock.js';
import * as disbursements from './disbursements.js';
import * as alerts from './alerts.js';
import * as activity from './activity.js';
import * as field from './field.js';
import * as impacts from './impacts.js';
import * as sitreps from './sitreps.js';
import * as imports from './imports.js';
import * as exportsTab from './exports.js';
import * as mapTab from './map.js';
import { renderAlarm } from './field_alarm.js';
import { incidentActions } from './incident_actions.js';
import { regionsLabel } from '../region_picker.js';

const TABS = { room, map: mapTab, impacts, sitreps, imports, field, pledges, donations, disbursements, stock, shelters, alerts, activity,
  exports: exportsTab };
// Tabs only some roles may open (the API refuses the others): the audit trail is the dispatchers'.
const DISPATCH_TABS = new Set(['activity']);
const tabsFor = (ctx) => Object.keys(TABS).filter((key) => ctx.canDispatch || !DISPATCH_TABS.has(key));
let indicator = null;

export function showLiveState(state) {
  if (!indicator || !indicator.isConnected) return;
  indicator.textContent = t(`live.${state}`);
  indicator.className = `live live-${state}`;
  indicator.dataset.state = state;
}

function renderHead(head, incident, ctx) {
  indicator = h('span', { class: 'live', role: 'status' });
  head.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/incidents', text: t('nav.incidents') })),
    h('h1', { tabindex: '-1', text: incident.title }),
    h('p', { class: 'meta' },
      h('span', { class: 'code', text: incident.code }),
      badge(tEnum('incident_type', incident.type)),
      badge(t('incidents.severityLevel', { level: tEnum('severity', incident.severity) }), `sev-${incident.severity}`),
      badge(tEnum('incident_status', incident.status), incident.status),
      h('span', { class: 'incident-regions', title: t('incidents.regions') },
        regionsLabel(incident.regions, incident.region_names)),
      h('span', { text: t('incidents.startedAt', { time: fmtTime(incident.started_at) }) }),
      indicator,
      h('a', { href: `/public/incidents/${incident.id}`, target: '_blank', rel: 'noopener',
        text: t('nav.public') })),
    ctx && incidentActions(ctx, incident),
  );
}

export async function mount(ctx, tab) {
  const name = tabsFor(ctx).includes(tab) ? tab : 'room';
  const incident = await get(`/v1/incidents/${encodeURIComponent(ctx.incidentId)}`);
  const head = h('header', { class: 'incident-head' });
  const alarm = h('div', { class: 'field-alarms', hidden: true }); // members overdue in the field, in red
  const refreshAlarm = () => renderAlarm(alarm, incident.id);
  const content = h('div', { class: 'tab-content' });
  const nav = h('nav', { class: 'tabs', 'aria-label': t('nav.sections') },
    tabsFor(ctx).map((key) => h('a', {
      href: `#/incidents/${incident.id}/${key}`, 'aria-current': key === name ? 'page' : null, text: t(`nav.${key}`),
    })));
  ctx.root.append(alarm, head, nav, content);
  renderHead(head, incident, ctx);
  showLiveState(ctx.liveState()); // read now: the stream may have opened while the incident loaded
  const [screen] = await Promise.all([TABS[name].mount({ ...ctx, root: content, incident, refreshAlarm }), refreshAlarm()]);
  return {
    title: `${t(`nav.${name}`)} · ${incident.title}`,
    async refresh() {
      const fresh = await get(`/v1/incidents/${incident.id}`);
      if (fresh.version !== incident.version) {
        Object.assign(incident, fresh);
        renderHead(head, incident, ctx);
        showLiveState(ctx.liveState());
      }
      await Promise.all([screen.refresh?.(), refreshAlarm()]);
    },
    unmount() { screen.unmount?.(); },
  };
}
