// Sites: the warehouses, collection points and distribution points where goods are held (shelters hold
// stock too), the names the stock screen shows for every location, and opening a site.
import { t, tEnum, enumOptions } from '../i18n.js';
import { post } from '../api.js';
import { h, badge, field, form, input, select, table } from '../dom.js';

// The intake site is created by the server with a bilingual name; shown in the reader's language instead.
const INTAKE_NAME = /^接收点 Intake\b/;

/** A site's name as shown (the intake site's default name translated). */
export function siteName(site) {
  return site.intake && INTAKE_NAME.test(site.name) ? t('sites.intakeName') : site.name;
}

/** A location ({site_id} | {shelter_id}, with the server's name) named as the reader sees it. */
export function locationName(state, location) {
  if (!location) return '';
  if (location.site_id) {
    const site = state.sites.find((s) => s.id === location.site_id);
    return site ? siteName(site) : location.name || '';
  }
  const shelter = state.shelters.find((s) => s.id === location.shelter_id);
  return shelter ? shelter.name : location.name || '';
}

/** What kind of place a location is: a site's kind, or a shelter. */
export function locationKind(location) {
  return location.site_id ? 'site' : 'shelter';
}

/** <select> options for every location: sites first (by kind), then shelters; values "site:<id>" / "shelter:<id>". */
export function locationOptions(state, { sheltersOnly = false } = {}) {
  const shelters = state.shelters.filter((s) => s.status !== 'closed')
    .map((s) => [`shelter:${s.id}`, s.name]);
  if (sheltersOnly) return shelters;
  const sites = state.sites.map((s) => [`site:${s.id}`, t('sites.choice', { name: siteName(s), kind: tEnum('site_kind', s.kind) })]);
  return [[t('sites.heading'), sites], [t('stock.sheltersGroup'), shelters]].filter(([, group]) => group.length);
}

/** "site:<id>" → {"site_id": id}; "shelter:<id>" → {"shelter_id": id}. */
export function locationRef(value) {
  const [kind, id] = String(value || '').split(':');
  return kind === 'site' ? { site_id: id } : { shelter_id: id };
}

export function locationValue(location) {
  return location.site_id ? `site:${location.site_id}` : `shelter:${location.shelter_id}`;
}

export function sitesTable(state) {
  return table(t('sites.caption'), [t('sites.name'), t('sites.kind'), t('sites.address'), t('sites.manager')],
    state.sites.map((s) => [
      h('div', {}, h('strong', { text: siteName(s) }), s.intake && ' ', s.intake && badge(t('sites.intake'), 'muted')),
      tEnum('site_kind', s.kind),
      s.address || '',
      s.manager ? [s.manager.name, s.manager.phone].filter(Boolean).join(' ') : '',
    ]), { empty: t('sites.empty') });
}

export function siteForm(ctx, incident, refresh) {
  return form({
    label: t('sites.open'),
    submit: t('sites.openSubmit'),
    cls: 'grid',
    children: [
      field(t('sites.kind'), select('kind', enumOptions('site_kind'), 'warehouse')),
      field(t('sites.name'), input('name', { required: true, maxlength: 200 })),
      field(t('sites.address'), input('address', { maxlength: 500 })),
      field(t('sites.managerName'), input('manager_name', { maxlength: 200 })),
      field(t('sites.managerPhone'), input('manager_phone', { type: 'tel', maxlength: 20 })),
    ],
    onSubmit: async (got) => {
      const body = { kind: got.kind, name: got.name, address: got.address || '' };
      if (got.manager_name) {
        body.manager = { name: got.manager_name };
        if (got.manager_phone) body.manager.phone = got.manager_phone;
      }
      const site = await post(`/v1/incidents/${incident.id}/sites`, body);
      ctx.notify(t('sites.opened', { name: site.name }));
      await refresh();
    },
  });
}
