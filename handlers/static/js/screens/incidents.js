// Incidents: every incident with its status and severity, and (for dispatchers) opening a new one.
import { t, tEnum, enumOptions, fmtTime, wallToIso, nowWall } from '../i18n.js';
import { getAll, post } from '../api.js';
import { h, badge, field, form, input, select, table, textarea, update } from '../dom.js';
import { regionField, regionsLabel } from '../region_picker.js';

function renderList(items) {
  return table(t('incidents.caption'), [
    t('incidents.code'), t('incidents.title'), t('incidents.type'), t('incidents.severity'), t('incidents.status'),
    t('incidents.started'), t('incidents.regions'),
  ], items.map((incident) => [
    incident.code,
    h('a', { href: `#/incidents/${incident.id}/room`, text: incident.title }),
    tEnum('incident_type', incident.type),
    badge(tEnum('severity', incident.severity), `sev-${incident.severity}`),
    badge(tEnum('incident_status', incident.status), incident.status),
    fmtTime(incident.started_at),
    regionsLabel(incident.regions, incident.region_names),
  ]), { empty: t('incidents.empty') });
}

function newIncidentForm(ctx) {
  return form({
    label: t('incidents.newHeading'),
    submit: t('incidents.create'),
    cls: 'grid',
    children: [
      field(t('incidents.code'), input('code', { required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}',
        placeholder: t('incidents.codePlaceholder') }), t('incidents.codeHint')),
      field(t('incidents.title'), input('title', { required: true, maxlength: 300 })),
      field(t('incidents.type'), select('type', enumOptions('incident_type'), 'flood')),
      field(t('incidents.severity'), select('severity', enumOptions('severity'), 'III')),
      regionField(t('incidents.regions'), input('regions', { required: true, inputmode: 'numeric' }), t('incidents.regionsHint'),
        { multiple: true }),
      field(t('incidents.started'), input('started_at', { type: 'datetime-local', required: true, value: nowWall() }),
        t('common.timezoneHint')),
      h('div', { class: 'field wide' }, field(t('incidents.description'), textarea('description'))),
    ],
    onSubmit: async (got) => {
      const created = await post('/v1/incidents', {
        code: got.code, title: got.title, type: got.type, severity: got.severity,
        regions: got.regions.split(/[\s,，、]+/).filter(Boolean), started_at: wallToIso(got.started_at),
        description: got.description || '',
      });
      ctx.notify(t('incidents.created', { title: created.title }));
      ctx.go(`#/incidents/${created.id}/room`);
    },
  });
}

export async function mount(ctx) {
  const list = h('div', { class: 'region' });
  ctx.root.append(
    h('h1', { tabindex: '-1', text: t('incidents.heading') }),
    list,
    ctx.canDispatch && h('section', { class: 'card', 'aria-labelledby': 'new-incident' },
      h('h2', { id: 'new-incident', text: t('incidents.newHeading') }), newIncidentForm(ctx)),
  );
  async function refresh() {
    const items = await getAll('/v1/incidents', {}, 3);
    update(list, renderList(items));
  }
  await refresh();
  return { refresh, title: t('incidents.heading') };
}
