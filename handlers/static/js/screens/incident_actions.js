// The incident's own jobs, in its frame's head (dispatchers only): edit it (PATCH with If-Match), close it
// (after a confirmation: its open calls close with it) and reopen it.
import { t, enumOptions, getTimezone, wallToIso } from '../i18n.js';
import { post, request } from '../api.js';
import { h, button } from '../dom.js';
import { ask } from '../dialog.js';

/** An ISO 8601 instant as a datetime-local value on the bureau's clock ('' for none). */
export function isoToWall(iso) {
  if (!iso) return '';
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: getTimezone(), hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(iso));
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}`;
}

const splitRegions = (text) => String(text || '').split(/[\s,，、]+/).filter(Boolean);

function edit(incident) {
  return ask({
    title: t('jobs.editIncidentAria', { title: incident.title }),
    submit: t('jobs.save'),
    fields: [
      { name: 'title', label: t('incidents.title'), value: incident.title, required: true },
      { name: 'type', label: t('incidents.type'), type: 'select', options: enumOptions('incident_type'), value: incident.type },
      { name: 'severity', label: t('incidents.severity'), type: 'select', options: enumOptions('severity'),
        value: incident.severity },
      { name: 'regions', label: t('incidents.regions'), value: incident.regions.join(' '), required: true,
        inputmode: 'numeric', hint: t('incidents.regionsHint'), region: 'several' },
      { name: 'started_at', label: t('incidents.started'), type: 'datetime-local', value: isoToWall(incident.started_at),
        required: true, hint: t('common.timezoneHint') },
      { name: 'description', label: t('incidents.description'), type: 'textarea', value: incident.description },
    ],
    onSubmit: (got) => {
      const body = {};
      for (const name of ['title', 'type', 'severity']) if (got[name] !== incident[name]) body[name] = got[name];
      if ((got.description || '') !== incident.description) body.description = got.description || '';
      const regions = splitRegions(got.regions);
      if (regions.join(' ') !== incident.regions.join(' ')) body.regions = regions;
      if (got.started_at !== isoToWall(incident.started_at)) body.started_at = wallToIso(got.started_at);
      return request('PATCH', `/v1/incidents/${incident.id}`, { body, ifMatch: `"${incident.version}"` });
    },
  });
}

// After a change the whole frame mounts again (as a hash change would): the head, the tabs and the screen's
// forms (a closed incident takes no new call) all follow the incident's new state.
const remount = () => window.dispatchEvent(new HashChangeEvent('hashchange'));

/** The buttons for `incident`; `changed()` runs after a change was saved. */
export function incidentActions(ctx, incident, changed = remount) {
  if (!ctx.canDispatch) return null;
  const out = [button(t('jobs.editIncident'), {
    'aria-label': t('jobs.editIncidentAria', { title: incident.title }),
    on: { click: async () => {
      if (await edit(incident)) { ctx.notify(t('jobs.incidentSaved')); await changed(); }
    } },
  })];
  if (incident.status === 'open') {
    out.push(button(t('jobs.closeIncident'), {
      class: 'danger', 'aria-label': t('jobs.closeIncidentAria', { title: incident.title }),
      on: { click: async () => {
        const done = await ask({ title: t('jobs.closeIncidentAria', { title: incident.title }),
          intro: t('jobs.closeIncidentIntro'), submit: t('jobs.closeIncident'), danger: true,
          onSubmit: () => post(`/v1/incidents/${incident.id}/close`) });
        if (done) { ctx.notify(t('jobs.incidentClosed', { title: incident.title })); await changed(); }
      } },
    }));
  } else {
    out.push(button(t('jobs.reopenIncident'), {
      'aria-label': t('jobs.reopenIncidentAria', { title: incident.title }),
      on: { click: async (event) => {
        const target = event.currentTarget;
        target.disabled = true;
        try {
          await post(`/v1/incidents/${incident.id}/reopen`);
        } catch (error) { ctx.showError(error); target.disabled = false; return; }
        ctx.notify(t('jobs.incidentReopened', { title: incident.title }));
        await changed();
      } },
    }));
  }
  return h('div', { class: 'actions incident-actions' }, out);
}
