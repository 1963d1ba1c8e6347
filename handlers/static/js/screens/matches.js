// Who could fill a call (GET /v1/calls/{id}/matches: each match's score and reasons, and whether it comes
// from an offer), and the incident's open offers (GET /v1/incidents/{id}/offers: who offered what, unasked).
import { t, tEnum, fmtAmount, fmtTime } from '../i18n.js';
import { get, getAll } from '../api.js';
import { h, badge, button, table } from '../dom.js';
import { regionLabel } from '../region_picker.js';

// The server's reasons (relief/matching.py) in the console's words; one it does not know is shown as sent.
const REASONS = [
  [/^supplies (.+)$/, (m) => t('jobs.reason.supplies', { item: tEnum('item', m[1]) })],
  [/^has (.+) skills$/, (m) => t('jobs.reason.skills', { skill: tEnum('skill', m[1]) })],
  [/^a (\w+) \(gives money as its trade\)$/, (m) => t('jobs.reason.moneyTrade', { kind: t(`jobs.orgKind.${m[1]}`) })],
  [/^a (\w+) \(may give money\)$/, (m) => t('jobs.reason.moneyMay', { kind: t(`jobs.orgKind.${m[1]}`) })],
  [/^offered (\w+) that matches the call \((\d+) open offers\)$/, (m) => t('jobs.reason.offeredMany', { n: m[2] })],
  [/^offered (\w+) that matches the call$/, () => t('jobs.reason.offered')],
  [/^in the affected city \((\d+)\)$/, (m) => t('jobs.reason.city', { region: m[1] })],
  [/^in the affected province \((\d+)\)$/, (m) => t('jobs.reason.province', { region: m[1] })],
  [/^outside the affected province \((\d+)\)$/, (m) => t('jobs.reason.outside', { region: m[1] })],
  [/^capacity not stated$/, () => t('jobs.reason.noCapacity')],
  [/^offers ([\d.]+); the call is fully committed$/, (m) => t('jobs.reason.fullyCommitted', { n: m[1] })],
  [/^offers ([\d.]+) of the ([\d.]+) still needed$/, (m) => t('jobs.reason.offersOf', { n: m[1], of: m[2] })],
  [/^no finished pledges yet$/, () => t('jobs.reason.noRecord')],
  [/^delivered (\d+) of (\d+) finished pledges$/, (m) => t('jobs.reason.record', { n: m[1], of: m[2] })],
];

export function reasonText(reason) {
  for (const [pattern, say] of REASONS) {
    const m = pattern.exec(reason);
    if (m) return say(m);
  }
  return reason;
}

function matchTable(call, found) {
  return table(t('jobs.matchesCaption', { title: call.title }), [
    t('jobs.rank'), t('jobs.organization'), t('jobs.source'), t('jobs.score'), t('jobs.reasons'),
  ], found.items.map((m) => [
    String(m.rank),
    m.organization_name,
    m.source === 'offer'
      ? h('span', {}, badge(t('jobs.fromOffer'), 'ok'), ' ', fmtAmount(m.capacity, call))
      : badge(t('jobs.fromCapabilities'), 'muted'),
    `${Math.round(m.score * 100)}`,
    h('ul', { class: 'reasons' }, m.reasons.map((r) => h('li', { text: reasonText(r) }))),
  ]), { empty: t('jobs.noMatches') });
}

/** A modal list of a call's matches (read only: dispatchers and viewers may read it). */
export async function showMatches(call) {
  const found = await get(`/v1/calls/${call.id}/matches`);
  const titleId = `matches-${call.id}`;
  const close = button(t('jobs.closeDialog'), { class: 'primary' });
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'wide-dialog' },
    h('div', { class: 'stack' },
      h('h2', { id: titleId, text: t('jobs.matchesTitle', { title: call.title }) }),
      h('p', { class: 'meta', text: t('jobs.matchesIntro', { n: found.items.length }) }),
      matchTable(call, found),
      h('div', { class: 'form-actions' }, close)));
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function what(offer) {
  if (offer.kind === 'goods') return `${tEnum('item', offer.item)} ${fmtAmount(offer.quantity, offer)}`;
  if (offer.kind === 'personnel') return `${tEnum('skill', offer.skill)} ${fmtAmount(offer.quantity, offer)}`;
  return fmtAmount(offer.quantity, offer);
}

/** The incident's open offers, newest first. */
export async function offersTable(incident) {
  const offers = (await getAll(`/v1/incidents/${incident.id}/offers`, {}, 3)).filter((o) => o.status === 'open');
  return table(t('jobs.offersCaption'), [
    t('jobs.offeredBy'), t('jobs.offerWhat'), t('jobs.offerRegion'), t('jobs.offerUntil'), t('jobs.offerNote'),
    t('jobs.offeredAt'),
  ], offers.map((o) => [
    o.organization_name || '', what(o), regionLabel(o.region, o.region_name), o.available_until ? fmtTime(o.available_until) : '—', o.note || '—',
    fmtTime(o.created_at),
  ]), { empty: t('jobs.noOffers') });
}
