// The overdue alarm above every screen of an incident: members still on site past their expected return
// (plus the grace), in red, with how long, and a link to the field board. Read from the muster, so a
// check-out or an extension (or a live deployment.* event) clears it on the next refresh.
import { t } from '../i18n.js';
import { get } from '../api.js';
import { h } from '../dom.js';

/** "1 小时 5 分钟" / "1 h 5 min": how long past `since`, as of `asOf` (both ISO strings). */
export function overdueFor(since, asOf) {
  const minutes = Math.max(0, Math.floor((Date.parse(asOf) - Date.parse(since)) / 60000));
  const hours = Math.floor(minutes / 60);
  if (hours === 0) return t('field.minutes', { m: minutes });
  return t('field.hoursMinutes', { h: hours, m: minutes % 60 });
}

/** Fill `region` with the alarm banner for the incident, or empty it when no one is overdue. */
export async function renderAlarm(region, incidentId) {
  let muster;
  try {
    muster = await get(`/v1/incidents/${encodeURIComponent(incidentId)}/field`);
  } catch {
    return; // the banner is an aid on top of the screens: a failed read keeps what was shown
  }
  if (!muster.overdue) {
    region.replaceChildren();
    region.hidden = true;
    return;
  }
  const shown = muster.alarms.slice(0, 3).map((m) => t('field.alarmMember',
    { name: m.name, time: overdueFor(m.expected_back_at, muster.as_of) }));
  if (muster.alarms.length > shown.length) shown.push(t('field.alarmMore', { n: muster.alarms.length - shown.length }));
  region.hidden = false;
  region.replaceChildren(h('div', { class: 'field-alarm', role: 'alert' },
    h('strong', { text: t('field.alarm', { n: muster.overdue, count: muster.overdue }) }),
    h('span', { text: shown.join(t('field.listSep')) }),
    h('a', { href: `#/incidents/${incidentId}/field`, text: t('field.alarmLink') })));
}
